import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeLzmaRaw, LzmaError } from './lzma';

// Reference encoder: xz-utils (Debian's xz), raw LZMA1 with iPXE's zbin parameters.
const XZ = '/usr/bin/xz';
const have = existsSync(XZ);
if (!have) process.stdout.write('SKIP lzma.test.ts reference streams: /usr/bin/xz is missing\n');
const encode = (data: Buffer, preset = '9e') => execFileSync(XZ, ['--format=raw', `--lzma1=preset=${preset},lc=2,lp=0,pb=0`, '-c'], { input: data });

describe.skipIf(!have)('raw LZMA1 decoder against xz', () => {
  it.each([
    ['text', Buffer.from('#!ipxe\ndhcp\nchain ${17}/default.ipxe\n'.repeat(200))],
    ['random', randomBytes(70000)],
    ['mixed', Buffer.concat([randomBytes(5000), Buffer.alloc(30000, 0x41), Buffer.from('#!ipxe\necho hello\n'), randomBytes(3000)])],
    ['tiny', Buffer.from('a')],
  ])('round-trips %s', (_n, data) => {
    for (const preset of ['0', '6', '9e']) {
      const out = decodeLzmaRaw(encode(data, preset), 0);
      expect(Buffer.from(out).equals(data)).toBe(true);
    }
  });
  it('refuses a stream that cannot be LZMA', () => {
    expect(() => decodeLzmaRaw(Buffer.from([1, 2, 3, 4, 5, 6]), 0)).toThrow(LzmaError);
  });
  it('caps the output', () => {
    const out = decodeLzmaRaw(encode(Buffer.alloc(100000, 7)), 0, { maxOut: 1000 });
    expect(out.length).toBe(1000);
  });
});
