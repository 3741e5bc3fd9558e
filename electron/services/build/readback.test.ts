import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { carriesScript, readEmbeddedScript } from './readback';

// iPXE embeds the script with .incbin into .data (src/image/embedded.c): no terminator, and the
// linker's next bytes follow the script's last byte at once. These bodies are laid out that way;
// the compressed ones are packed by xz-utils (raw LZMA1, zbin's lc=2 lp=0 pb=0), not by Bootchain.
const XZ = '/usr/bin/xz';
const haveXz = existsSync(XZ);
if (!haveXz) process.stdout.write('SKIP readback.test.ts compressed bodies: /usr/bin/xz is missing\n');
const lzma = (data: Buffer) => execFileSync(XZ, ['--format=raw', '--lzma1=preset=9e,lc=2,lp=0,pb=0', '-c'], { input: data });

/** A main body: code-ish bytes, iPXE's strings (error URLs, the loader's "#!ipxe" constant), the script, then `after`. */
function body(script: string, after: Buffer): Buffer {
  const code = Buffer.alloc(4096);
  for (let i = 0; i < code.length; i++) code[i] = (i * 151 + 7) & 0xff;
  return Buffer.concat([code, Buffer.from('iPXE 2.0.0+ (g1234) -- Open Source Network Boot Firmware\0http://ipxe.org/%08x\0#!ipxe\0', 'latin1'), Buffer.from(script, 'latin1'), after, code]);
}
/** A compressed image: a real-mode prefix, then the LZMA payload. */
const kpxe = (b: Buffer) => Buffer.concat([Buffer.from('\xeb\x3cPXENV+ prefix\x55\xaa', 'latin1'), Buffer.alloc(64, 0x90), lzma(b)]);

// What follows the script in a linked image: the image structure's bytes, a pointer, text.
const FOLLOWERS: Array<[string, Buffer]> = [
  ['a pointer (no zero byte first)', Buffer.from([0x8c, 0x1f, 0x00, 0x00, 0x10, 0x00])],
  ['printable bytes, then binary', Buffer.from('AB~\x01\x02', 'latin1')],
  ['a zero byte (alignment padding)', Buffer.from([0, 0, 0, 0x41])],
];
const SCRIPT = '#!ipxe\nset user-class hb-chain.8x\ndhcp\nchain ${17}/default.ipxe\n';

describe('read-back of the embedded script', () => {
  it.each(FOLLOWERS)('plain body (.efi): the script is found byte for byte when followed by %s', (_n, after) => {
    const bin = body(SCRIPT, after);
    const r = readEmbeddedScript(bin, [SCRIPT]);
    expect(r).toMatchObject({ ipxe: true, where: 'plain', matched: 0, script: SCRIPT, version: '2.0.0+' });
    expect(carriesScript(bin, SCRIPT)).toBe(true);
    // One byte off is not the same script.
    expect(carriesScript(bin, SCRIPT.replace('8x', '9x'))).toBe(false);
    expect(carriesScript(bin, `${SCRIPT}echo more\n`)).toBe(false);
  });

  it.skipIf(!haveXz).each(FOLLOWERS)('LZMA body (undionly.kpxe): the script is found byte for byte when followed by %s', (_n, after) => {
    const bin = kpxe(body(SCRIPT, after));
    const r = readEmbeddedScript(bin, ['#!ipxe\nother\n', SCRIPT]);
    expect(r).toMatchObject({ ipxe: true, where: 'lzma', matched: 1, script: SCRIPT });
    expect(carriesScript(bin, SCRIPT)).toBe(true);
    expect(carriesScript(bin, SCRIPT.slice(0, -1))).toBe(false);
  });

  it.each(Array.from({ length: 16 }, (_x, i) => i))('every script length mod 16 (%i) reads back, with binary after it', (rem) => {
    const line = `echo ${'x'.repeat((rem + 3) % 16)}\n`; // 7 + 5 + n + 1 bytes
    const script = `#!ipxe\n${line}`;
    expect(script.length % 16).toBe(rem);
    expect(carriesScript(body(script, Buffer.from([0xff, 0x01])), script)).toBe(true);
  });

  it('a script it does not know is read as text up to where binary data starts', () => {
    expect(readEmbeddedScript(body(SCRIPT, FOLLOWERS[0]![1])).script).toBe(SCRIPT);
    // Printable bytes of what follows are cut back to the last line break.
    expect(readEmbeddedScript(body(SCRIPT, FOLLOWERS[1]![1])).script).toBe(SCRIPT);
    expect(readEmbeddedScript(body(SCRIPT, FOLLOWERS[2]![1])).script).toBe(SCRIPT);
    expect(readEmbeddedScript(body(SCRIPT, FOLLOWERS[0]![1])).matched).toBeUndefined();
  });

  it('a binary with no script and no iPXE strings is not iPXE', () => {
    expect(readEmbeddedScript(Buffer.alloc(8192, 0x41))).toMatchObject({ ipxe: false, where: 'none' });
  });
});
