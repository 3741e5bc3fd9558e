import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DropLog, dropLine, dropOnThrow, type DropReport } from './guard';

const pexec = promisify(execFile);

describe('dropped input: counted, one line per interval', () => {
  it('reports the first drop at once, counts the rest into one line, and flushes what is left', () => {
    const lines: DropReport[] = [];
    const log = new DropLog((d) => lines.push(d), 60_000);
    log.drop('10.0.0.5', 'option 93 of 1 bytes');
    for (let i = 0; i < 999; i++) log.drop('10.0.0.6', 'too short');
    expect(lines).toEqual([{ client: '10.0.0.5', reason: 'option 93 of 1 bytes', count: 1, total: 1 }]);
    log.flush();
    expect(lines[1]).toEqual({ client: '10.0.0.6', reason: 'too short', count: 999, total: 1000 });
    expect(dropLine('malformed DHCP packet', lines[1]!)).toBe('dropped 999 malformed DHCP packets, the last from 10.0.0.6: too short (1000 dropped in all)');
    log.flush();
    expect(lines).toHaveLength(2);
  });

  it('turns a throw inside a handler into a drop', () => {
    const lines: DropReport[] = [];
    const log = new DropLog((d) => lines.push(d));
    dropOnThrow(log, '10.0.0.7', () => Buffer.alloc(1).readUInt16BE(0));
    expect(lines[0]).toMatchObject({ client: '10.0.0.7', reason: expect.stringMatching(/outside buffer bounds/), total: 1 });
  });
});

describe('keepServing: the process-level guard of serve and the harness', () => {
  it('reports an uncaught exception and an unhandled rejection, and the process goes on', async () => {
    // A real process, so that "goes on" means it was not ended: it throws from a timer and
    // rejects a promise nobody awaits, then still answers.
    const script = `
      const { keepServing } = require(${JSON.stringify(path.resolve('electron/services/net/guard.ts'))});
      keepServing((line) => console.log('REPORT ' + line), 0);
      setTimeout(() => { throw new TypeError('bad packet'); }, 10);
      setTimeout(() => { void Promise.reject(new Error('lost promise')); }, 30);
      setTimeout(() => console.log('STILL SERVING'), 80);
    `;
    const r = await pexec(process.execPath, ['--import', 'tsx', '-e', script], { timeout: 30_000 });
    expect(r.stdout).toMatch(/REPORT uncaught exception \(kept serving\): TypeError: bad packet/);
    expect(r.stdout).toMatch(/REPORT unhandled rejection \(kept serving, 2 in all\): Error: lost promise/);
    expect(r.stdout).toContain('STILL SERVING');
  });
});
