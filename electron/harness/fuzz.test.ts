import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FUZZ_CASES, FUZZ_SEED, fuzzHttp, httpRequests, mutate, pick, rng, wsAwaitAnswer, wsFrame, wsOpen } from '../../e2e/support/fuzz';

// The harness as it runs (`npm run harness`, here through tsx), in its own process, fed malformed
// HTTP requests and WebSocket frames on loopback: it must not exit, must report no uncaught
// exception or unhandled rejection (its guard would print "kept serving"), and must still serve
// the page and the contract afterwards. FUZZ_CASES sets the count per parser (CI: 100 000).
const TOKEN = 'fuzz-token-0123456789';
let child: ChildProcess;
let port = 0;
let origin = '';
let stderr = '';
let exited: string | undefined;
let dir = '';

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'bc-harness-fuzz-'));
  const root = path.join(dir, 'renderer');
  (await import('node:fs')).mkdirSync(path.join(root, 'assets'), { recursive: true });
  writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>fuzz</title>');
  writeFileSync(path.join(root, 'assets', 'app.js'), 'console.log(1);\n');
  child = spawn(process.execPath, ['--import', 'tsx', path.resolve('electron/harness/index.ts'), '--root', root, '--port', '0'], {
    env: { ...process.env, BOOTCHAIN_HARNESS_TOKEN: TOKEN, BOOTCHAIN_DATA_DIR: path.join(dir, 'data') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.on('exit', (code, sig) => (exited = `exit ${code ?? sig}`));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error(`the harness did not start: ${stderr}`)));
  });
  origin = `http://127.0.0.1:${port}`;
}, 30000);

afterAll(() => {
  child?.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The process is alive, reported no uncaught error, and serves a good client. */
async function stillServes(): Promise<void> {
  expect(exited).toBeUndefined();
  expect(stderr).not.toMatch(/kept serving|uncaught|unhandled/i);
  const status = await new Promise<number>((resolve, reject) => http.get(`${origin}/`, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', reject));
  expect(status).toBe(200);
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${TOKEN}`, { origin });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const answer = await new Promise<{ result: { ok: boolean } }>((resolve) => {
    ws.once('message', (d) => resolve(JSON.parse(String(d)) as { result: { ok: boolean } }));
    ws.send(JSON.stringify({ id: 1, channel: 'app:info', input: {} }));
  });
  expect(answer.result.ok).toBe(true);
  ws.close();
}

describe(`fuzz of the running harness (${FUZZ_CASES} inputs per parser, seed ${FUZZ_SEED})`, () => {
  it('HTTP: malformed requests get an answer or a close, never an exit', { timeout: 120000 }, async () => {
    const r = rng(FUZZ_SEED);
    const res = await fuzzHttp('127.0.0.1', port, httpRequests(['/', '/index.html', '/assets/app.js', '/missing.css', '/ws'], r), FUZZ_CASES);
    process.stdout.write(`harness HTTP fuzz: ${res.handled} requests handled (${res.answered} answered, ${res.closed} closed by the server), statuses ${JSON.stringify(res.statuses)}, ${res.stalled} stalled\n`);
    expect(res.handled).toBeGreaterThanOrEqual(FUZZ_CASES);
    expect(res.stalled).toBe(0);
    await stillServes();
  });

  it('WebSocket: malformed frames and messages are dropped, never an exit', { timeout: 120000 }, async () => {
    const r = rng(FUZZ_SEED + 1);
    const calls = [
      { id: 'x', channel: 'app:info', input: {} },
      { id: 'x', channel: 'project:list', input: {} },
      { id: 'x', channel: 'secrets:status', input: {} },
      { id: 'x', channel: 'jobs:cancel', input: { jobId: 'none' } },
    ].map((c) => Buffer.from(JSON.stringify(c)));
    // A frame the server parses and must drop without closing: a mutated message, as text
    // (ASCII-only, so it stays valid UTF-8) or binary.
    const payloadFrame = () => {
      const m = mutate(calls[pick(r, calls.length)]!, r);
      if (r() < 0.5) return wsFrame(0x2, m);
      for (let i = 0; i < m.length; i++) m[i] = m[i]! & 0x7f;
      return wsFrame(0x1, m);
    };
    // A frame that breaks the protocol (the server closes the connection, RFC 6455 §7.1.7).
    const breakingFrame = () => {
      const m = calls[0]!;
      switch (pick(r, 9)) {
        case 0:
          return wsFrame(3 + pick(r, 5), m); // reserved data opcode
        case 1:
          return wsFrame(0x1, m, { rsv: 1 + pick(r, 7) });
        case 2:
          return wsFrame(0x1, m, { unmasked: true });
        case 3:
          return wsFrame(0x9, Buffer.alloc(126 + pick(r, 200))); // control frame over 125 bytes
        case 4:
          return wsFrame(0x0, m); // continuation with nothing to continue
        case 5:
          return wsFrame(0x1, Buffer.from([0xc3, 0x28, 0xff])); // invalid UTF-8 text
        case 6:
          return wsFrame(0x8, Buffer.from([0x03, 0xe7])); // close code 999
        case 7:
          return wsFrame(0x2, Buffer.alloc(0), { lengthOverride: 1n << BigInt(21 + pick(r, 40)) }); // beyond maxPayload
        default:
          return Buffer.concat([wsFrame(0x1, m, { fin: false }), wsFrame(0x9, Buffer.alloc(0), { fin: false })]); // fragmented ping
      }
    };
    let sent = 0;
    let answered = 0;
    let closedByServer = 0;
    let lostClean = 0;
    let n = 0;
    const worker = async () => {
      let s: Awaited<ReturnType<typeof wsOpen>> | undefined;
      let state = { buf: Buffer.alloc(0) };
      while (sent < FUZZ_CASES) {
        if (!s || s.destroyed) {
          s = await wsOpen('127.0.0.1', port, `/ws?token=${TOKEN}`, origin);
          state = { buf: Buffer.alloc(0) };
        }
        const id = `b${++n}`;
        const barrier = wsFrame(0x1, Buffer.from(JSON.stringify({ id, channel: 'app:info', input: {} })));
        const breaking = r() < 0.1;
        const frames = breaking ? [breakingFrame()] : Array.from({ length: 16 }, payloadFrame);
        sent += frames.length;
        const wait = wsAwaitAnswer(s, id, state);
        s.write(Buffer.concat([...frames, barrier]));
        if (await wait) answered++;
        else {
          closedByServer++;
          if (!breaking) lostClean++;
          s.destroy();
          s = undefined;
        }
      }
      s?.destroy();
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    process.stdout.write(`harness WebSocket fuzz: ${sent} malformed frames, ${answered} good calls answered after them, ${closedByServer} connections closed by the server on a protocol error\n`);
    expect(sent).toBeGreaterThanOrEqual(FUZZ_CASES);
    // Every batch that broke no protocol rule was followed by an answer to the good call.
    expect(lostClean).toBe(0);
    await stillServes();
  });
});
