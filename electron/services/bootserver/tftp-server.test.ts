import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServeEvent } from '../../../shared/bootserver';
import { tftpGet } from '../tftp/client';
import { BootHttpServer } from './http-server';
import { TftpServer } from './tftp-server';

// Real clients on loopback: tftp-hpa's tftp (plain RFC 1350), curl (blksize, tsize), Bootchain's
// own client (blksize, tsize, windowsize), and a scripted client for loss and duplicate ACKs.
const pexec = promisify(execFile);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const root = mkdtempSync(path.join(os.tmpdir(), 'bc-tftpd-'));
const outside = mkdtempSync(path.join(os.tmpdir(), 'bc-outside-'));
const big = randomBytes(3 * 1024 * 1024 + 77);
const exact = randomBytes(1432 * 10); // a multiple of the block size: ends with an empty block
writeFileSync(path.join(root, 'big.bin'), big);
writeFileSync(path.join(root, 'exact.bin'), exact);
writeFileSync(path.join(root, 'default.ipxe'), '#!ipxe\nchain ${17}/${mac:hexhyp}.ipxe\n');
writeFileSync(path.join(outside, 'secret.txt'), 'not served');
symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'link.txt'));
const events: ServeEvent[] = [];
let server: TftpServer;
let port = 0;

/** A scripted client: sends `first`, then lets the test read and answer packets. */
async function rawClient(first: Buffer) {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const inbox: Array<{ msg: Buffer; port: number }> = [];
  sock.on('message', (msg, r) => inbox.push({ msg, port: r.port }));
  sock.send(first, port, '127.0.0.1');
  const next = async (ms = 1500) => {
    const t0 = Date.now();
    while (inbox.length === 0 && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 5));
    return inbox.shift();
  };
  return { sock, inbox, next, close: () => sock.close() };
}
const rrq = (file: string, opts: string[] = []) => Buffer.concat([Buffer.from([0, 1]), Buffer.from([file, 'octet', ...opts, ''].join('\0'), 'latin1')]);
const ackOf = (n: number) => Buffer.from([0, 4, (n >> 8) & 255, n & 255]);

beforeAll(async () => {
  server = new TftpServer({ root, address: '127.0.0.1', port: 0, timeoutMs: 300, retries: 3, maxPerClient: 4, onEvent: (e) => events.push(e) });
  port = (await server.start()).port;
});
afterAll(() => server.stop());

describe('TFTP server', () => {
  it('tftp-hpa (no options, 512-byte blocks, netascii and binary) gets the files byte for byte', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-tftp-get-'));
    await pexec('tftp', ['127.0.0.1', String(port), '-m', 'binary', '-c', 'get', 'big.bin', path.join(dir, 'big.bin')]);
    expect(sha(readFileSync(path.join(dir, 'big.bin')))).toBe(sha(big));
    await pexec('tftp', ['127.0.0.1', String(port), '-m', 'netascii', '-c', 'get', 'default.ipxe', path.join(dir, 'd.ipxe')]);
    expect(readFileSync(path.join(dir, 'd.ipxe'), 'utf8')).toBe(readFileSync(path.join(root, 'default.ipxe'), 'utf8'));
  });

  it('curl with blksize 1432 and tsize, and with no options at all', async () => {
    const a = await pexec('curl', ['-s', '--tftp-blksize', '1432', `tftp://127.0.0.1:${port}/big.bin`], { encoding: 'buffer', maxBuffer: 8 << 20 });
    expect(sha(a.stdout)).toBe(sha(big));
    const b = await pexec('curl', ['-s', '--tftp-no-options', `tftp://127.0.0.1:${port}/exact.bin`], { encoding: 'buffer', maxBuffer: 8 << 20 });
    expect(sha(b.stdout)).toBe(sha(exact));
  });

  it("Bootchain's client: blksize up to 65464, tsize, windowsize 16; a file that fills its last block", async () => {
    for (const [blksize, windowsize] of [[1432, 0], [1432, 16], [65464, 4], [512, 64]] as const) {
      const r = await tftpGet('127.0.0.1', 'big.bin', { port, blksize, tsize: true, windowsize });
      expect(sha(r.data)).toBe(sha(big));
      expect(r.tsize).toBe(big.length);
      expect(r.options).toMatchObject({ blksize: String(blksize), ...(windowsize ? { windowsize: String(windowsize) } : {}) });
    }
    const e = await tftpGet('127.0.0.1', 'exact.bin', { port, blksize: 1432, windowsize: 8 });
    expect(sha(e.data)).toBe(sha(exact));
  });

  it('refuses "..", links out of the root, missing files and writes, with the right TFTP errors', async () => {
    for (const name of ['../etc/passwd', '/../../etc/passwd', 'a/../../x', 'link.txt', 'nothing.bin']) {
      await expect(tftpGet('127.0.0.1', name, { port, timeoutMs: 500, retries: 1 })).rejects.toMatchObject({ appError: { code: name === 'nothing.bin' ? 'NOT_FOUND' : expect.stringMatching(/PERMISSION_DENIED|NOT_FOUND/) } });
    }
    // A leading "/" means the served folder (as tftpd-hpa -s).
    expect((await tftpGet('127.0.0.1', '/default.ipxe', { port })).data.toString()).toContain('#!ipxe');
    const w = await rawClient(Buffer.concat([Buffer.from([0, 2]), Buffer.from('x.bin\0octet\0', 'latin1')]));
    const reply = await w.next();
    expect(reply?.msg.readUInt16BE(0)).toBe(5);
    expect(reply?.msg.subarray(4).toString('latin1')).toContain('read-only');
    w.close();
    expect(readFileSync(path.join(outside, 'secret.txt'), 'utf8')).toBe('not served');
  });

  it('a lost ACK: the block is sent again after the timeout; a duplicate ACK does not double the next block', async () => {
    const c = await rawClient(rrq('big.bin'));
    const d1 = await c.next();
    expect(d1?.msg.readUInt16BE(2)).toBe(1);
    // Say nothing: after the timeout block 1 comes again.
    const again = await c.next(1000);
    expect(again?.msg.readUInt16BE(0)).toBe(3);
    expect(again?.msg.readUInt16BE(2)).toBe(1);
    // ACK it twice (the Sorcerer's Apprentice case): block 2 must come once, not twice.
    c.sock.send(ackOf(1), d1!.port, '127.0.0.1');
    c.sock.send(ackOf(1), d1!.port, '127.0.0.1');
    const d2 = await c.next();
    expect(d2?.msg.readUInt16BE(2)).toBe(2);
    await new Promise((r) => setTimeout(r, 150));
    expect(c.inbox.filter((p) => p.msg.readUInt16BE(2) === 2)).toHaveLength(0);
    // A stranger writing to the transfer's port gets "unknown transfer ID"; the transfer goes on.
    const stranger = dgram.createSocket('udp4');
    const got = new Promise<Buffer>((r) => stranger.once('message', (m) => r(m)));
    stranger.send(ackOf(2), d1!.port, '127.0.0.1');
    expect((await got).readUInt16BE(2)).toBe(5);
    stranger.close();
    c.sock.send(ackOf(2), d1!.port, '127.0.0.1');
    expect((await c.next())?.msg.readUInt16BE(2)).toBe(3);
    c.close();
  });

  it('a client that vanishes is dropped after its retries, and the server says so', async () => {
    const c = await rawClient(rrq('default.ipxe'));
    await c.next();
    c.close();
    const t0 = Date.now();
    while (!events.some((e) => e.status === 'failed' && e.file === 'default.ipxe') && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    expect(events.find((e) => e.status === 'failed' && e.file === 'default.ipxe')?.message).toMatch(/stopped answering/);
  });

  it('limits transfers per client address', async () => {
    const held = await Promise.all([1, 2, 3, 4].map(() => rawClient(rrq('big.bin'))));
    for (const h of held) await h.next();
    const fifth = await rawClient(rrq('big.bin'));
    const r = await fifth.next();
    expect(r?.msg.readUInt16BE(0)).toBe(5);
    expect(r?.msg.subarray(4).toString('latin1')).toContain('too many transfers');
    for (const h of [...held, fifth]) h.close();
  });
});

describe('HTTP server', () => {
  it('GET, HEAD and a byte range of files in the root; ".." and links out refused', async () => {
    const http = new BootHttpServer({ root, address: '127.0.0.1', port: 0 });
    const { port: hp } = await http.start();
    try {
      const a = await pexec('curl', ['-sf', `http://127.0.0.1:${hp}/big.bin`], { encoding: 'buffer', maxBuffer: 8 << 20 });
      expect(sha(a.stdout)).toBe(sha(big));
      const part = await pexec('curl', ['-sf', '-r', '100-199', `http://127.0.0.1:${hp}/big.bin`], { encoding: 'buffer' });
      expect(part.stdout.equals(big.subarray(100, 200))).toBe(true);
      const head = await pexec('curl', ['-sI', `http://127.0.0.1:${hp}/default.ipxe`]);
      expect(head.stdout).toMatch(new RegExp(`Content-Length: ${readFileSync(path.join(root, 'default.ipxe')).length}`, 'i'));
      for (const bad of ['/../etc/passwd', '/%2e%2e/etc/passwd', '/link.txt', '/nothing']) {
        const r = await pexec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--path-as-is', `http://127.0.0.1:${hp}${bad}`]);
        expect(['403', '404']).toContain(r.stdout);
      }
    } finally {
      await http.stop();
    }
  });
});
