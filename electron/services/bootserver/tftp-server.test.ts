import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServeEvent } from '../../../shared/bootserver';
import { ackOf, netasciiGet, oackOptions, rawClient as scripted, rrq } from '../../../e2e/support/tftp-clients';
import { tftpGet } from '../tftp/client';
import { BootHttpServer, parseRange } from './http-server';
import { negotiate, TFTP_LIMITS, TftpServer, toNetascii } from './tftp-server';

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

const rawClient = (first: Buffer) => scripted('127.0.0.1', port, first);

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
      // The window is cut to 64 KiB (windowsize x blksize): 65464-byte blocks go one at a time.
      const window = Math.max(1, Math.min(windowsize, Math.floor(TFTP_LIMITS.maxWindowBytes / blksize)));
      expect(r.options).toMatchObject({ blksize: String(blksize), ...(windowsize ? { windowsize: String(window) } : {}) });
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
    // A stranger writing to the transfer's port reaches nobody (the transfer's socket is
    // connected to its client, as tftpd-hpa's: the kernel answers ICMP port unreachable); the
    // transfer goes on.
    const stranger = dgram.createSocket('udp4');
    const heard: Buffer[] = [];
    stranger.on('message', (m) => heard.push(m));
    stranger.on('error', () => undefined);
    stranger.send(ackOf(2), d1!.port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 100));
    expect(heard).toHaveLength(0);
    stranger.close();
    c.sock.send(ackOf(2), d1!.port, '127.0.0.1');
    expect((await c.next())?.msg.readUInt16BE(2)).toBe(3);
    c.close();
  });

  it('a client that stops answering is dropped after its retries, one whose port closes at once; the server says so', async () => {
    const failed = (file: string) => events.find((e) => e.status === 'failed' && e.file === file);
    const until = async (file: string) => {
      const t0 = Date.now();
      while (!failed(file) && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    };
    writeFileSync(path.join(root, 'quiet.ipxe'), '#!ipxe\n');
    const quiet = await rawClient(rrq('quiet.ipxe'));
    await quiet.next();
    await until('quiet.ipxe');
    expect(failed('quiet.ipxe')?.message).toMatch(/stopped answering/);
    expect(quiet.inbox.length).toBeGreaterThanOrEqual(2); // the block was sent again meanwhile
    quiet.close();
    const gone = await rawClient(rrq('default.ipxe'));
    await gone.next();
    gone.close();
    await until('default.ipxe');
    expect(failed('default.ipxe')?.message).toMatch(/is gone/);
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
      // Across the 64 KiB chunks the body is sent from, and a suffix range.
      const across = await pexec('curl', ['-sf', '-r', '65530-200000', `http://127.0.0.1:${hp}/big.bin`], { encoding: 'buffer' });
      expect(across.stdout.equals(big.subarray(65530, 200001))).toBe(true);
      const tail = await pexec('curl', ['-sf', '-r', '-70000', `http://127.0.0.1:${hp}/big.bin`], { encoding: 'buffer' });
      expect(tail.stdout.equals(big.subarray(big.length - 70000))).toBe(true);
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

describe('TFTP limits, ceilings and deadlines', () => {
  /** A server of its own (its own limits), stopped after `body`. */
  async function withServer(o: Partial<ConstructorParameters<typeof TftpServer>[0]>, body: (port: number, ev: ServeEvent[]) => Promise<void>) {
    const ev: ServeEvent[] = [];
    const s = new TftpServer({ root, address: '127.0.0.1', port: 0, onEvent: (e) => ev.push(e), ...o });
    const p = (await s.start()).port;
    try {
      await body(p, ev);
    } finally {
      await s.stop();
    }
  }
  const until = async (what: () => boolean, ms = 5000) => {
    const t0 = Date.now();
    while (!what() && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 10));
    return what();
  };

  it('option values are clamped to the documented ceilings; malformed values are declined', () => {
    expect(negotiate({ blksize: '100000', windowsize: '1000', timeout: '255', tsize: '0' }, 'octet', 5000)).toEqual({ blksize: 65464, window: 1, oack: { blksize: '65464', windowsize: '1', tsize: '5000' } });
    expect(negotiate({ blksize: '1432', windowsize: '64', timeout: '3' }, 'octet', 1)).toEqual({ blksize: 1432, window: 45, timeoutS: 3, oack: { blksize: '1432', windowsize: '45', timeout: '3' } });
    // RFC 2349: a timeout over the ceiling is left out (the server's own is used), not changed.
    expect(negotiate({ timeout: String(TFTP_LIMITS.maxTimeoutS + 1) }, 'octet', 1).oack).toEqual({});
    // Not digits, too small, zero: declined. tsize in netascii is unknown before sending: left out.
    expect(negotiate({ blksize: '1e3', windowsize: '0', timeout: '-1' }, 'octet', 1).oack).toEqual({});
    expect(negotiate({ blksize: '4', windowsize: ' 8', timeout: '0x5' }, 'octet', 1).oack).toEqual({});
    expect(negotiate({ tsize: '0', blksize: '512' }, 'netascii', 99).oack).toEqual({ blksize: '512' });
  });

  it('netascii is converted chunk by chunk: CR and LF at chunk edges, windows, and tftp-hpa reads it back', async () => {
    // LF, CR and CR LF on both sides of the 64 KiB chunk edges, ending on a block edge of 512.
    const parts: Buffer[] = [Buffer.alloc(65535, 'a'), Buffer.from('\r'), Buffer.from('\n'), Buffer.alloc(65534, 'b'), Buffer.from('\r\n'), randomBytes(70000)];
    let text = Buffer.concat(parts);
    const reference = (b: Buffer) => Buffer.from([...b].flatMap((c) => (c === 10 ? [13, 10] : c === 13 ? [13, 0] : [c])));
    // Trim so that the converted file is a multiple of 512 bytes (then an empty last block).
    let converted = reference(text).length;
    while (converted % 512 !== 0) {
      converted -= text[text.length - 1] === 10 || text[text.length - 1] === 13 ? 2 : 1;
      text = text.subarray(0, text.length - 1);
    }
    writeFileSync(path.join(root, 'edges.txt'), text);
    expect(toNetascii(text).equals(reference(text))).toBe(true);
    await withServer({}, async (p) => {
      for (const [bs, w] of [[512, 1], [1432, 16], [8192, 8]] as const) {
        const got = await netasciiGet('127.0.0.1', p, 'edges.txt', bs, w);
        expect(sha(got)).toBe(sha(reference(text)));
      }
      const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-tftp-na-'));
      await pexec('tftp', ['127.0.0.1', String(p), '-m', 'netascii', '-c', 'get', 'edges.txt', path.join(dir, 'e.txt')]);
      expect(sha(readFileSync(path.join(dir, 'e.txt')))).toBe(sha(text));
    });
  });

  it('a burst of RRQs is admitted at once: exactly the per-client limit start, a repeated RRQ is the same transfer, refusals are logged once', async () => {
    await withServer({ maxPerClient: 3, timeoutMs: 2000 }, async (p, ev) => {
      const socks = await Promise.all(Array.from({ length: 40 }, () => scripted('127.0.0.1', p, rrq('big.bin', ['blksize', '1432']))));
      // The first one sends its RRQ twice more (a client whose first answer was lost).
      socks[0]!.sock.send(rrq('big.bin', ['blksize', '1432']), p, '127.0.0.1');
      socks[0]!.sock.send(rrq('big.bin', ['blksize', '1432']), p, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 300));
      const answers = socks.map((s) => s.inbox.map((x) => ({ op: x.msg.readUInt16BE(0), port: x.port })));
      const started = answers.filter((a) => a.some((x) => x.op === 6));
      expect(started).toHaveLength(3);
      expect(new Set(answers[0]!.map((x) => x.port)).size).toBe(1);
      expect(answers.filter((a) => a.some((x) => x.op === 5))).toHaveLength(37);
      expect(ev.filter((e) => e.status === 'started')).toHaveLength(3);
      expect(ev.filter((e) => e.status === 'refused')).toHaveLength(1);
      for (const s of socks) s.close();
    });
  });

  it('the total limit: requests beyond it are not answered (the client asks again), and are served when a slot is free', async () => {
    await withServer({ maxTransfers: 2, timeoutMs: 200, retries: 1 }, async (p) => {
      const held = await Promise.all([1, 2].map(() => scripted('127.0.0.1', p, rrq('big.bin'))));
      for (const h of held) expect((await h.next())?.msg.readUInt16BE(0)).toBe(3);
      const third = await scripted('127.0.0.1', p, rrq('default.ipxe'));
      expect(await third.next(150)).toBeUndefined();
      // The held ones stop answering and are dropped; the third asks again and is served.
      expect(await until(() => held.every((h) => h.inbox.length >= 1), 2000)).toBe(true);
      await new Promise((r) => setTimeout(r, 600));
      third.sock.send(rrq('default.ipxe'), p, '127.0.0.1');
      expect((await third.next())?.msg.readUInt16BE(0)).toBe(3);
      for (const h of [...held, third]) h.close();
    });
  });

  it('idle deadline: a client that vanishes is dropped after idleMs, however many retries its timeout allows', async () => {
    await withServer({ timeoutMs: 100, retries: 1000, idleMs: 400 }, async (p, ev) => {
      const c = await scripted('127.0.0.1', p, rrq('big.bin'));
      await c.next();
      expect(await until(() => ev.some((e) => e.status === 'failed'))).toBe(true);
      expect(ev.find((e) => e.status === 'failed')?.message).toMatch(/nothing for/);
      c.close();
    });
  });

  it('whole-transfer deadline: a client that ACKs now and then cannot hold a slot for longer', async () => {
    await withServer({ maxTransferMs: 500 }, async (p, ev) => {
      const c = await scripted('127.0.0.1', p, rrq('big.bin'));
      let last: Buffer | undefined;
      for (let i = 0; i < 40 && !(last && last.readUInt16BE(0) === 5); i++) {
        const d = await c.next(1000);
        last = d?.msg;
        if (d && d.msg.readUInt16BE(0) === 3) {
          await new Promise((r) => setTimeout(r, 50));
          c.sock.send(ackOf(d.msg.readUInt16BE(2)), d.port, '127.0.0.1');
        }
      }
      expect(last?.readUInt16BE(0)).toBe(5);
      expect(last?.subarray(4).toString('latin1')).toMatch(/took longer than/);
      expect(await until(() => ev.some((e) => e.status === 'failed'))).toBe(true);
      c.close();
    });
  });

  it('a timeout option over the ceiling is left out of the OACK; one within it is taken', async () => {
    const c = await rawClient(rrq('default.ipxe', ['timeout', '255', 'blksize', '1432']));
    expect(oackOptions((await c.next())!.msg)).toEqual({ blksize: '1432' });
    c.close();
    const d = await rawClient(rrq('default.ipxe', ['timeout', '2']));
    expect(oackOptions((await d.next())!.msg)).toEqual({ timeout: '2' });
    d.close();
  });
});

describe('HTTP server limits', () => {
  /** A raw TCP client from `local`: what it got, and whether the server closed it. */
  function tcp(hp: number, local = '127.0.0.1') {
    const s = net.connect({ port: hp, host: '127.0.0.1', localAddress: local });
    const got: Buffer[] = [];
    let closed = false;
    s.on('data', (d) => got.push(d));
    s.on('error', () => undefined);
    s.on('close', () => (closed = true));
    return { s, text: () => Buffer.concat(got).toString('latin1'), closed: () => closed };
  }
  const until = async (what: () => boolean, ms: number) => {
    const t0 = Date.now();
    while (!what() && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 10));
    return what();
  };

  it('slowloris: headers that trickle in are cut off at the headers deadline; an idle connection is closed', async () => {
    const http = new BootHttpServer({ root, address: '127.0.0.1', port: 0, headersTimeoutMs: 300, idleMs: 600 });
    const { port: hp } = await http.start();
    try {
      const slow = tcp(hp);
      slow.s.write('GET /default.ipxe HTTP/1.1\r\nHost: x\r\n');
      const drip = setInterval(() => slow.s.writable && slow.s.write('X-A: b\r\n'), 50);
      const silent = tcp(hp);
      expect(await until(() => slow.closed(), 3000)).toBe(true);
      clearInterval(drip);
      expect(slow.text()).not.toContain('#!ipxe');
      expect(await until(() => silent.closed(), 3000)).toBe(true);
      // A good client is still served.
      const ok = await pexec('curl', ['-sf', `http://127.0.0.1:${hp}/default.ipxe`]);
      expect(ok.stdout).toContain('#!ipxe');
    } finally {
      await http.stop();
    }
  });

  it('connections are capped per client address and in all; a closed one frees its place', async () => {
    const http = new BootHttpServer({ root, address: '127.0.0.1', port: 0, maxPerClient: 2, maxConnections: 3 });
    const { port: hp } = await http.start();
    try {
      const a = [tcp(hp), tcp(hp)];
      await new Promise((r) => setTimeout(r, 100));
      const third = tcp(hp); // the same address: over its 2
      expect(await until(() => third.closed(), 2000)).toBe(true);
      const other = tcp(hp, '127.0.0.2'); // another address: the third of 3 in all
      await new Promise((r) => setTimeout(r, 100));
      expect(other.closed()).toBe(false);
      const fourth = tcp(hp, '127.0.0.3'); // over 3 in all
      expect(await until(() => fourth.closed(), 2000)).toBe(true);
      a[0]!.s.destroy();
      await new Promise((r) => setTimeout(r, 100));
      const r = await pexec('curl', ['-sf', '--interface', '127.0.0.4', `http://127.0.0.1:${hp}/default.ipxe`]);
      expect(r.stdout).toContain('#!ipxe');
      for (const c of [a[1]!, other]) c.s.destroy();
    } finally {
      await http.stop();
    }
  });

  it('a client that goes away mid-file is reported, and the next one is served', async () => {
    const ev: ServeEvent[] = [];
    const http = new BootHttpServer({ root, address: '127.0.0.1', port: 0, onEvent: (e) => ev.push(e) });
    const { port: hp } = await http.start();
    try {
      // Larger than what the kernel's socket buffers on loopback can hold, so the server is
      // still sending when the client goes.
      writeFileSync(path.join(root, 'large.bin'), Buffer.alloc(24 << 20, 7));
      const c = tcp(hp);
      c.s.write('GET /large.bin HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(await until(() => c.text().length > 100000, 3000)).toBe(true);
      c.s.destroy();
      expect(await until(() => ev.some((e) => e.status === 'failed'), 3000)).toBe(true);
      expect(ev.find((e) => e.status === 'failed')?.message).toMatch(/went away/);
      const ok = await pexec('curl', ['-sf', `http://127.0.0.1:${hp}/big.bin`], { encoding: 'buffer', maxBuffer: 8 << 20 });
      expect(sha(ok.stdout)).toBe(sha(big));
    } finally {
      await http.stop();
    }
  });

  it('ranges are bounded: one range, numbers within safe bounds, otherwise 416 or the whole file', () => {
    expect(parseRange('bytes=0-99', 1000)).toEqual({ start: 0, end: 99 });
    expect(parseRange('bytes=900-', 1000)).toEqual({ start: 900, end: 999 });
    expect(parseRange('bytes=-100', 1000)).toEqual({ start: 900, end: 999 });
    expect(parseRange('bytes=-5000', 1000)).toEqual({ start: 0, end: 999 });
    expect(parseRange('bytes=0-99999999999999999999', 1000)).toEqual({ start: 0, end: 999 });
    expect(parseRange('bytes=99999999999999999999-', 1000)).toBe('unsatisfiable');
    expect(parseRange('bytes=5-2', 1000)).toBe('unsatisfiable');
    expect(parseRange('bytes=-0', 1000)).toBe('unsatisfiable');
    expect(parseRange('bytes=1000-', 1000)).toBe('unsatisfiable');
    for (const ignored of [undefined, '', 'bytes=-', 'bytes=0-1,5-9', 'items=0-1', 'bytes=0x10-', `bytes=${'1'.repeat(30)}-`]) expect(parseRange(ignored, 1000)).toBeUndefined();
  });
});
