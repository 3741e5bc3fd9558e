import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServeEvent } from '../../../shared/bootserver';
import { ackOf, oackOptions, rawClient, rrq } from '../../../e2e/support/tftp-clients';
import { tftpGet } from '../tftp/client';
import { loadPump } from './native';
import { TftpServer } from './tftp-server';

// The native data pump (native/tftp_pump.c) against real clients on loopback — curl (blksize,
// lockstep), tftp-hpa's tftp (512-byte blocks, past the 16-bit block number), Bootchain's
// client (windowsize) — and a scripted client for a lost ACK, duplicates and abort; then the
// same fetches with the pump turned off (the JS loop, the fallback). `npm ci` builds the pump
// (scripts/build-native.mjs); BOOTCHAIN_TFTP_NATIVE=0 runs this file without it.
const pexec = promisify(execFile);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const root = mkdtempSync(path.join(os.tmpdir(), 'bc-tftp-native-'));
const mid = randomBytes(5 * 1024 * 1024 + 333);
const exact = randomBytes(1432 * 64);
// More than 65535 blocks of 512 bytes: block numbers roll over.
const rollover = randomBytes(512 * 65536 + 1000);
writeFileSync(path.join(root, 'mid.bin'), mid);
writeFileSync(path.join(root, 'exact.bin'), exact);
writeFileSync(path.join(root, 'roll.bin'), rollover);
writeFileSync(path.join(root, 'empty.bin'), Buffer.alloc(0));
const wantNative = process.env.BOOTCHAIN_TFTP_NATIVE !== '0';

function suite(native: boolean) {
  const events: ServeEvent[] = [];
  let server: TftpServer;
  let port = 0;
  const failed = async (file: string, ms = 5000) => {
    const t0 = Date.now();
    for (;;) {
      const e = events.find((x) => x.status === 'failed' && x.file === file);
      if (e || Date.now() - t0 > ms) return e;
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  beforeAll(async () => {
    server = new TftpServer({ root, address: '127.0.0.1', port: 0, timeoutMs: 300, retries: 3, native, onEvent: (e) => events.push(e) });
    port = (await server.start()).port;
  });
  afterAll(() => server.stop());

  it(`serves by the ${native ? 'native pump' : 'JS loop'}`, () => {
    if (native) expect(server.pump, server.pumpReason).toBeDefined();
    else expect(server.pump).toBeUndefined();
  });

  it('curl in lockstep at blksize 1432 and with no options, tftp-hpa at 512 past block 65535, windowsize 16: byte for byte', async () => {
    const before = server.stats.native;
    const a = await pexec('curl', ['-sf', '--tftp-blksize', '1432', `tftp://127.0.0.1:${port}/mid.bin`], { encoding: 'buffer', maxBuffer: 16 << 20 });
    expect(sha(a.stdout)).toBe(sha(mid));
    const b = await pexec('curl', ['-sf', '--tftp-no-options', `tftp://127.0.0.1:${port}/exact.bin`], { encoding: 'buffer', maxBuffer: 16 << 20 });
    expect(sha(b.stdout)).toBe(sha(exact));
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-tftp-native-got-'));
    await pexec('tftp', ['127.0.0.1', String(port), '-m', 'binary', '-c', 'get', 'roll.bin', path.join(dir, 'roll.bin')], { timeout: 60000 });
    expect(sha(readFileSync(path.join(dir, 'roll.bin')))).toBe(sha(rollover));
    await pexec('tftp', ['127.0.0.1', String(port), '-m', 'binary', '-c', 'get', 'empty.bin', path.join(dir, 'empty.bin')]);
    expect(readFileSync(path.join(dir, 'empty.bin'))).toHaveLength(0);
    for (const [blksize, windowsize] of [[1432, 16], [8192, 8], [512, 64]] as const) {
      const r = await tftpGet('127.0.0.1', 'mid.bin', { port, blksize, tsize: true, windowsize });
      expect(sha(r.data)).toBe(sha(mid));
    }
    const e = await tftpGet('127.0.0.1', 'exact.bin', { port, blksize: 1432, windowsize: 8 });
    expect(sha(e.data)).toBe(sha(exact));
    // The client is done at the last DATA; the server at its ACK, a moment later.
    for (let t0 = Date.now(); server.stats.served < 8 && Date.now() - t0 < 2000; ) await new Promise((r) => setTimeout(r, 10));
    const done = events.filter((x) => x.status === 'done' && x.file === 'mid.bin');
    expect(done.at(-1)?.bytes).toBe(mid.length);
    expect(server.stats.native - before).toBe(native ? 8 : 0);
  }, 90000);

  it('a lost ACK: the block is sent again; a duplicate or out-of-window ACK is ignored; no ACK 0 brings the OACK again', async () => {
    const c = await rawClient('127.0.0.1', port, rrq('mid.bin', ['blksize', '1000', 'windowsize', '4']));
    const oack = await c.next();
    expect(oack?.msg.readUInt16BE(0)).toBe(6);
    expect(oackOptions(oack!.msg)).toMatchObject({ blksize: '1000', windowsize: '4' });
    const to = oack!.port;
    // No ACK 0: the OACK comes again after the timeout.
    expect((await c.next(1000))?.msg.readUInt16BE(0)).toBe(6);
    c.sock.send(ackOf(0), to, '127.0.0.1');
    const w1 = [await c.next(), await c.next(), await c.next(), await c.next()].map((p) => p!.msg.readUInt16BE(2));
    expect(w1).toEqual([1, 2, 3, 4]);
    expect((await c.next())?.msg.length).toBe(4 + 1000); // block 1 again, after the timeout (no ACK)
    c.inbox.length = 0;
    // ACK 2 of 4: the window slides to 3..6; ACK 2 again and an ACK of a block not sent are ignored.
    c.sock.send(ackOf(2), to, '127.0.0.1');
    c.sock.send(ackOf(2), to, '127.0.0.1');
    c.sock.send(ackOf(40), to, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 100));
    expect(c.inbox.map((p) => p.msg.readUInt16BE(2))).toEqual([3, 4, 5, 6]);
    expect(c.inbox[0]!.msg.subarray(4)).toEqual(mid.subarray(2000, 3000));
    c.sock.send(Buffer.from([0, 5, 0, 0, ...Buffer.from('enough\0')]), to, '127.0.0.1');
    expect((await failed('mid.bin'))?.message).toMatch(/the client ended the transfer: enough/);
    c.close();
  });

  it('a client that stops answering is dropped after its retries; stopping the server aborts a transfer within a second', async () => {
    events.length = 0;
    const quiet = await rawClient('127.0.0.1', port, rrq('exact.bin'));
    expect((await quiet.next())?.msg.readUInt16BE(2)).toBe(1);
    const e = await failed('exact.bin');
    expect(e?.message).toMatch(/stopped answering \(after 3 retries\)/);
    quiet.close();
    expect(server.active).toBe(0);

    const s2 = new TftpServer({ root, address: '127.0.0.1', port: 0, timeoutMs: 5000, retries: 5, native, onEvent: (x) => events.push(x) });
    const p2 = (await s2.start()).port;
    const c = await rawClient('127.0.0.1', p2, rrq('mid.bin'));
    expect((await c.next())?.msg.readUInt16BE(2)).toBe(1);
    expect(s2.active).toBe(1);
    const t0 = Date.now();
    await s2.stop();
    const err = await c.next(1000);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(err?.msg.readUInt16BE(0)).toBe(5);
    expect(err?.msg.subarray(4).toString('latin1')).toMatch(/server stopping/);
    expect(await failed('mid.bin', 1000)).toMatchObject({ message: 'server stopping' });
    c.close();
  });
}

describe.runIf(wantNative)('TFTP native pump', () => suite(true));
describe('TFTP JS loop (the fallback when the pump is not built)', () => suite(false));

describe('the pump loader', () => {
  it('says why there is no pump when it is turned off or absent', () => {
    const was = process.env.BOOTCHAIN_TFTP_NATIVE;
    process.env.BOOTCHAIN_TFTP_NATIVE = '0';
    try {
      expect(loadPump()).toEqual({ reason: 'turned off (BOOTCHAIN_TFTP_NATIVE=0)' });
    } finally {
      if (was === undefined) delete process.env.BOOTCHAIN_TFTP_NATIVE;
      else process.env.BOOTCHAIN_TFTP_NATIVE = was;
    }
    if (wantNative) expect(loadPump().pump?.version).toBe(1);
  });
});
