/**
 * Fuzzing of running servers (tests only): a replayable PRNG, mutations of valid input, and
 * senders that count what the server really took in — UDP datagrams paced by a good request
 * (its answer means the datagrams before it were read, not dropped by the kernel), HTTP requests
 * one at a time per connection (the answer, or the server closing, ends each), WebSocket frames
 * on connections opened with the harness's token.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';

/** How many malformed inputs per parser (CI: 100 000; FUZZ_CASES for a longer run). */
export const FUZZ_CASES = Number(process.env.FUZZ_CASES ?? 100000);
/** The seed (FUZZ_SEED replays a failure). */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1e9);

/** A small deterministic PRNG (xorshift32), so a failure can be replayed with its seed. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

/** Random integer in [0, n). */
export const pick = (r: () => number, n: number): number => Math.floor(r() * n);

/** Bytes a mutation inserts: mostly the ones parsers care about. */
const SPECIAL = [0x00, 0x0a, 0x0d, 0x20, 0x25, 0x2e, 0x2f, 0x3a, 0x5c, 0x7f, 0x80, 0xc0, 0xff, 0x00, 0xfe];

/** 1-8 random edits of a valid input: byte set, bit flip, special byte, truncation, random tail, insertion, duplication. */
export function mutate(buf: Buffer, r: () => number): Buffer {
  let b = Buffer.from(buf);
  const n = 1 + pick(r, 8);
  for (let i = 0; i < n && b.length > 0; i++) {
    const kind = r();
    const pos = pick(r, b.length);
    if (kind < 0.3) b[pos] = pick(r, 256);
    else if (kind < 0.5) b[pos] = b[pos]! ^ (1 << pick(r, 8));
    else if (kind < 0.65) b[pos] = SPECIAL[pick(r, SPECIAL.length)]!;
    else if (kind < 0.75) b = b.subarray(0, pos);
    else if (kind < 0.82) b = Buffer.concat([b.subarray(0, pos), randomBytes(pick(r, 64))]);
    else if (kind < 0.92) b = Buffer.concat([b.subarray(0, pos), Buffer.from([SPECIAL[pick(r, SPECIAL.length)]!]), b.subarray(pos)]);
    else b = Buffer.concat([b.subarray(0, pos), b.subarray(pos, pos + pick(r, 32)), b.subarray(pos)]);
  }
  return b;
}

/**
 * Sends datagrams to `to`, `batch` at a time, each batch followed by `barrier()` (a good request
 * that must be answered): returns how many were sent. A barrier that is not answered fails the run.
 */
export async function fuzzUdp(sock: dgram.Socket, packets: () => { buf: Buffer; port: number }, count: number, to: string, barrier: () => Promise<void>, batch = 64): Promise<number> {
  let sent = 0;
  while (sent < count) {
    for (let i = 0; i < batch && sent < count; i++, sent++) {
      const p = packets();
      sock.send(p.buf, p.port, to);
    }
    await barrier();
  }
  return sent;
}

/** What an HTTP fuzz run saw. */
export interface HttpFuzzResult {
  /** Requests the server answered or closed the connection on. */
  handled: number;
  answered: number;
  closed: number;
  /** Requests the server waited on for more (it got the end of the stream then). */
  ended: number;
  /** Requests with neither an answer nor a close even after the end of the stream (the server hung). */
  stalled: number;
  statuses: Record<string, number>;
}

/** True when a request is one clean header block with no body: it can share a keep-alive connection. */
function clean(req: Buffer): boolean {
  const end = req.indexOf('\r\n\r\n');
  if (end < 0 || end + 4 !== req.length) return false;
  return !/content-length|transfer-encoding|expect|upgrade|connection/i.test(req.toString('latin1'));
}

/**
 * Reads one HTTP response from a socket: resolves with its status when it is complete (Content-Length,
 * chunked, or no body for HEAD and 1xx/204/304), or 'closed' when the server closes first.
 */
function readResponse(sock: net.Socket, head: boolean, state: { buf: Buffer; ended?: boolean }): Promise<number | 'closed' | 'stalled'> {
  return new Promise((resolve) => {
    const finish = (v: number | 'closed' | 'stalled') => {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('close', onClose);
      resolve(v);
    };
    // A request the server still waits on (it thinks more is coming): send the end of the stream,
    // after which it must answer or close; only then is the server stalled.
    let timer = setTimeout(() => {
      state.ended = true;
      sock.end();
      timer = setTimeout(() => finish('stalled'), 5000);
    }, 250);
    const onClose = () => finish('closed');
    const onData = (d: Buffer) => {
      state.buf = Buffer.concat([state.buf, d]);
      for (;;) {
        const hEnd = state.buf.indexOf('\r\n\r\n');
        if (hEnd < 0) return;
        const headText = state.buf.subarray(0, hEnd).toString('latin1');
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(headText)?.[1] ?? 0);
        let rest = state.buf.subarray(hEnd + 4);
        if (status >= 100 && status < 200) {
          state.buf = rest; // 100 Continue: the real answer follows
          continue;
        }
        const len = /\r\ncontent-length: *(\d+)/i.exec(headText);
        if (head || status === 204 || status === 304) {
          state.buf = rest;
        } else if (len) {
          if (rest.length < Number(len[1])) return;
          state.buf = rest.subarray(Number(len[1]));
        } else if (/\r\ntransfer-encoding: *chunked/i.test(headText)) {
          // Walk the chunks; the last one has size 0.
          for (;;) {
            const lineEnd = rest.indexOf('\r\n');
            if (lineEnd < 0) return;
            const size = parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16);
            if (rest.length < lineEnd + 2 + size + 2) return;
            rest = rest.subarray(lineEnd + 2 + size + 2);
            if (size === 0) break;
          }
          state.buf = rest;
        } else return; // a body until close
        return finish(status);
      }
    };
    sock.on('data', onData);
    sock.on('close', onClose);
  });
}

function connect(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port }, () => {
      s.off('error', reject);
      s.on('error', () => undefined);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/**
 * Sends `count` requests from `next()` over `parallel` connections: clean requests share a
 * keep-alive connection, the others get one each and a half-close (so the server sees the end of
 * what was sent and must answer or close).
 */
export async function fuzzHttp(host: string, port: number, next: () => Buffer, count: number, parallel = 32): Promise<HttpFuzzResult> {
  const res: HttpFuzzResult = { handled: 0, answered: 0, closed: 0, ended: 0, stalled: 0, statuses: {} };
  let started = 0;
  const note = (v: number | 'closed' | 'stalled') => {
    if (v === 'stalled') res.stalled++;
    else {
      res.handled++;
      if (v === 'closed') res.closed++;
      else {
        res.answered++;
        res.statuses[v] = (res.statuses[v] ?? 0) + 1;
      }
    }
  };
  const worker = async () => {
    let sock: net.Socket | undefined;
    let state: { buf: Buffer; ended?: boolean } = { buf: Buffer.alloc(0) };
    while (started < count) {
      started++;
      const req = next();
      const head = req.subarray(0, 5).toString('latin1') === 'HEAD ';
      if (!clean(req)) {
        const s = await connect(host, port);
        const st: { buf: Buffer; ended?: boolean } = { buf: Buffer.alloc(0) };
        const p = readResponse(s, head, st);
        s.end(req);
        note(await p);
        s.destroy();
        continue;
      }
      if (!sock || sock.destroyed) {
        sock = await connect(host, port);
        state = { buf: Buffer.alloc(0) };
      }
      const p = readResponse(sock, head, state);
      sock.write(req);
      const v = await p;
      note(v);
      if (state.ended) res.ended++;
      if (v !== 'closed' && v !== 'stalled' && state.buf.length === 0 && !state.ended) continue;
      sock.destroy();
      sock = undefined;
    }
    sock?.destroy();
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return res;
}

/** Builds one WebSocket frame as a client sends it (masked unless `unmasked`). */
export function wsFrame(opcode: number, payload: Buffer, o: { fin?: boolean; rsv?: number; unmasked?: boolean; lengthOverride?: bigint } = {}): Buffer {
  const len = o.lengthOverride ?? BigInt(payload.length);
  const head: number[] = [((o.fin ?? true) ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | (opcode & 0x0f)];
  const mask = o.unmasked ? 0 : 0x80;
  let ext = Buffer.alloc(0);
  if (len < 126n) head.push(mask | Number(len));
  else if (len < 65536n) {
    head.push(mask | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(Number(len));
  } else {
    head.push(mask | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(len);
  }
  if (o.unmasked) return Buffer.concat([Buffer.from(head), ext, payload]);
  const key = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ key[i & 3]!;
  return Buffer.concat([Buffer.from(head), ext, key, body]);
}

/** Opens a raw WebSocket connection (the handshake by hand, so any bytes can follow). */
export async function wsOpen(host: string, port: number, path: string, origin: string): Promise<net.Socket> {
  const s = await connect(host, port);
  const key = randomBytes(16).toString('base64');
  s.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nOrigin: ${origin}\r\n\r\n`);
  await new Promise<void>((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      s.off('data', onData);
      if (!buf.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 101')) return reject(new Error(`handshake refused: ${buf.subarray(0, end).toString('latin1')}`));
      if (buf.length > end + 4) s.unshift(buf.subarray(end + 4));
      resolve();
    };
    s.on('data', onData);
    s.once('close', () => reject(new Error('closed during the handshake')));
  });
  return s;
}

/**
 * Waits for the text frame answering call `id` (frames from the server are unmasked), or the
 * connection's close: true when answered.
 */
export function wsAwaitAnswer(s: net.Socket, id: string, state: { buf: Buffer }): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (v: boolean) => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('close', onClose);
      resolve(v);
    };
    const timer = setTimeout(() => finish(false), 5000);
    const onClose = () => finish(false);
    const onData = (d: Buffer) => {
      state.buf = Buffer.concat([state.buf, d]);
      for (;;) {
        const b = state.buf;
        if (b.length < 2) return;
        let len = b[1]! & 0x7f;
        let off = 2;
        if (len === 126) {
          if (b.length < 4) return;
          len = b.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (b.length < 10) return;
          len = Number(b.readBigUInt64BE(2));
          off = 10;
        }
        if (b.length < off + len) return;
        const opcode = b[0]! & 0x0f;
        const payload = b.subarray(off, off + len);
        state.buf = b.subarray(off + len);
        if (opcode === 0x8) return finish(false);
        if (opcode === 0x1 && payload.includes(`"id":"${id}"`)) return finish(true);
      }
    };
    s.on('data', onData);
    s.on('close', onClose);
  });
}

const PATH_JUNK = ['%', '%z', '%zz', '%00', '%2e%2e/', '%2f', '//', '\\', '..', '/./', '%c0%ae', '?', '#', ';', '%%', '%ff%fe', '*', '~', '%0d%0a', '%u002e'];
const RANGES = ['bytes=0-0', 'bytes=-1', 'bytes=5-', 'bytes=-', 'bytes=9-1', 'bytes=0-99999999999999999999', 'bytes=99999999999999999999-', 'bytes=0-1,3-4', 'bytes=abc', 'items=0-1', 'bytes=-0', 'bytes= 1-2'];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT', 'PATCH', 'get', 'G\u00e9T', 'BREW'];

/**
 * Malformed HTTP requests around the given paths: odd paths (bad percent-escapes, NULs, "..",
 * huge ones), odd methods and ranges, and byte mutations of valid requests.
 */
export function httpRequests(paths: string[], r: () => number): () => Buffer {
  const one = <T>(a: T[]) => a[pick(r, a.length)]!;
  const method = () => (r() < 0.8 ? one(['GET', 'HEAD']) : one(METHODS));
  const valid = (p: string, extra = '') => Buffer.from(`GET ${p} HTTP/1.1\r\nHost: fuzz\r\n${extra}\r\n`, 'latin1');
  // Most reach the handler on a kept connection (paths, ranges, headers); the rest are byte
  // mutations, many of which the HTTP parser itself refuses (400, then a close: each costs the
  // server a connection, so they are a tenth of the run).
  return () => {
    const kind = r();
    const base = one(paths);
    if (kind < 0.5) {
      let p = base;
      for (let i = 1 + pick(r, 3); i > 0; i--) {
        const at = 1 + pick(r, p.length);
        p = p.slice(0, at) + one(PATH_JUNK) + p.slice(at);
      }
      if (r() < 0.05) p += 'a'.repeat(pick(r, 9000));
      return Buffer.from(`${method()} ${p} HTTP/1.1\r\nHost: fuzz\r\n\r\n`, 'latin1');
    }
    if (kind < 0.7) return valid(base, `Range: ${one(RANGES)}\r\n`);
    if (kind < 0.8) return Buffer.from(`${method()} ${base} HTTP/1.${r() < 0.8 ? 1 : pick(r, 3)}\r\n${r() < 0.5 ? '' : 'Host: fuzz\r\n'}X: ${'y'.repeat(pick(r, 200))}\r\n\r\n`, 'latin1');
    if (kind < 0.9) return Buffer.concat([Buffer.from(`${method()} /`), mutate(Buffer.from(base.slice(1) || 'x'), r), Buffer.from(' HTTP/1.1\r\nHost: fuzz\r\n\r\n')]);
    const v = valid(base, r() < 0.3 ? `Range: ${one(RANGES)}\r\n` : '');
    if (r() < 0.3) return mutate(v, r);
    return Buffer.concat([mutate(v.subarray(0, v.length - 4), r), Buffer.from('\r\n\r\n')]);
  };
}
