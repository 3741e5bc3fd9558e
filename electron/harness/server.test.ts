import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { silentListener, type Peer } from '../../e2e/support/peers';
import { startHarness, type Harness } from './server';

let h: Harness;
let origin: string;
let silent: Peer;

beforeAll(async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'bc-harness-'));
  writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>x</title>');
  h = await startHarness({ root, token: 'test-token-123' });
  origin = `http://127.0.0.1:${h.port}`;
  silent = await silentListener();
});
afterAll(async () => {
  await h.close();
  await silent.close();
});

function get(p: string): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: h.port, path: p }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, headers: res.headers });
      })
      .on('error', reject);
  });
}

function connect(token: string, o = origin): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}/ws?token=${token}`, { origin: o });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

function call(ws: WebSocket, id: number, channel: string, input: unknown): Promise<{ ok: boolean; value?: unknown; error?: { code: string } }> {
  return new Promise((resolve) => {
    const on = (data: WebSocket.RawData) => {
      const msg = JSON.parse(String(data)) as { id?: number; result?: { ok: boolean } };
      if (msg.id === id) {
        ws.off('message', on);
        resolve(msg.result as { ok: boolean });
      }
    };
    ws.on('message', on);
    ws.send(JSON.stringify({ id, channel, input }));
  });
}

describe('browser harness', () => {
  it('binds loopback only', async () => {
    await expect(startHarness({ root: '.', host: '0.0.0.0' })).rejects.toThrow(/loopback/);
  });

  it('serves the app with a strict CSP and refuses paths outside its root', async () => {
    const r = await get('/');
    expect(r.status).toBe(200);
    expect(r.headers['content-security-policy']).toMatch(/default-src 'self'; script-src 'self'/);
    expect((await get('/..%2F..%2F..%2Fetc%2Fpasswd')).status).toBe(403);
    // The URL parser folds %2e%2e segments itself: the path stays inside the root.
    expect((await get('/%2e%2e/%2e%2e/etc/passwd')).status).toBe(404);
    expect((await get('/missing.js')).status).toBe(404);
  });

  it('answers a request it cannot decode with 400 and keeps serving (GET /% used to kill the process)', async () => {
    for (const bad of ['/%', '/%zz', '/a%', '*']) expect((await get(bad)).status, bad).toBe(400);
    // Paths, not hosts: never the page of another "host", never a crash.
    for (const odd of ['//', '//x/..', '//evil.example/index.html']) expect((await get(odd)).status, odd).toBeGreaterThanOrEqual(403);
    expect(h.dropped()).toBeGreaterThanOrEqual(4);
    expect((await get('/')).status).toBe(200);
  });

  it('drops WebSocket messages it cannot use and keeps the connection (a frame "null" used to be an unhandled rejection)', async () => {
    const ws = await connect('test-token-123');
    for (const m of ['null', '1', '"x"', '[]', 'not json', '{"id":{"a":1},"channel":7}', '{"channel":"app:info","input":{"__proto__":{}}}']) ws.send(m);
    ws.send(Buffer.from([0xff, 0xfe, 0x00]));
    expect(await call(ws, 9, 'app:info', {})).toMatchObject({ ok: true });
    ws.close();
  });

  it('refuses a WebSocket without the token or from another origin', async () => {
    await expect(connect('wrong')).rejects.toThrow(/403/);
    await expect(connect('test-token-123', 'http://evil.example')).rejects.toThrow(/403/);
  });

  it('runs the contract: validation errors, results, and job events', async () => {
    const ws = await connect('test-token-123');
    const info = await call(ws, 1, 'app:info', {});
    expect(info).toMatchObject({ ok: true, value: { transport: 'harness' } });
    const bad = await call(ws, 2, 'scan:start', { targets: ['10.0.0.0/33'] });
    expect(bad).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
    const events: Array<{ type: string; jobId: string }> = [];
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as { event?: { type: string; jobId: string } };
      if (m.event) events.push(m.event);
    });
    const started = (await call(ws, 3, 'scan:start', { targets: ['127.0.0.1'], ports: [1], resolveNames: false })) as {
      ok: true;
      value: { jobId: string };
    };
    expect(started.ok).toBe(true);
    await h.runner.settled(started.value.jobId);
    await new Promise((r) => setTimeout(r, 50));
    expect(events.filter((e) => e.jobId === started.value.jobId).map((e) => e.type)).toContain('succeeded');
    ws.close();
  });

  it('cancels a connection’s jobs when it closes', async () => {
    const ws = await connect('test-token-123');
    const started = (await call(ws, 1, 'scan:start', {
      targets: ['127.0.0.1'],
      ports: [silent.port],
      checkTimeoutMs: 20000,
      resolveNames: false,
    })) as { ok: true; value: { jobId: string } };
    expect(h.runner.running()).toContain(started.value.jobId);
    ws.close();
    await new Promise((r) => setTimeout(r, 200));
    expect(h.runner.running()).not.toContain(started.value.jobId);
  });
});
