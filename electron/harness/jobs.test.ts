import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { sampleProject } from '../../shared/gen/fixtures';
import type { JobEvent } from '../../shared/jobs';
import { silentListener, type Peer } from '../../e2e/support/peers';
import { startHarness, type Harness } from './server';

// Jobs addressed to their caller over the harness: a page names the job it starts, hears that
// job's every event (also those before the reply), and no other page hears any of them.
let h: Harness;
let silent: Peer;
const TOKEN = 'jobs-token-123456';
const dataDir = process.env.BOOTCHAIN_DATA_DIR;

beforeAll(async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'bc-harness-jobs-'));
  writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>x</title>');
  // Its own data folder: the user's vault is never read.
  process.env.BOOTCHAIN_DATA_DIR = mkdtempSync(path.join(os.tmpdir(), 'bc-harness-jobs-data-'));
  h = await startHarness({ root, token: TOKEN });
  silent = await silentListener();
});
afterAll(async () => {
  await h.close();
  await silent.close();
  if (dataDir === undefined) delete process.env.BOOTCHAIN_DATA_DIR;
  else process.env.BOOTCHAIN_DATA_DIR = dataDir;
});

/** A page: its WebSocket, every job event pushed to it, and calls answered by id. */
async function page() {
  const ws = new WebSocket(`ws://127.0.0.1:${h.port}/ws?token=${TOKEN}`, { origin: `http://127.0.0.1:${h.port}` });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const events: JobEvent[] = [];
  const replies = new Map<number, (r: { ok: boolean; value?: unknown; error?: { code: string; message: string } }) => void>();
  ws.on('message', (d) => {
    const m = JSON.parse(String(d)) as { id?: number; result?: never; event?: JobEvent };
    if (m.event) events.push(m.event);
    else if (m.id !== undefined) replies.get(m.id)?.(m.result!);
  });
  let next = 1;
  const call = (channel: string, input: unknown, jobId?: string) =>
    new Promise<{ ok: boolean; value?: unknown; error?: { code: string; message: string } }>((resolve) => {
      const id = next++;
      replies.set(id, resolve);
      ws.send(JSON.stringify({ id, channel, input, ...(jobId ? { jobId } : {}) }));
    });
  return { ws, events, call };
}

const until = async (ok: () => boolean, ms = 5000) => {
  for (const t0 = Date.now(); !ok(); ) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('harness jobs: addressed to the page that started them', () => {
  it('a second page never sees the first page’s job events (a job that ends, one that fails at once, one cancelled)', async () => {
    const one = await page();
    const two = await page();
    // A job that ends, one that fails at once (serve:start without the project's CHAP secret:
    // started, then failed), and one that runs until it is cancelled.
    const scan = await one.call('scan:start', { targets: ['127.0.0.1'], ports: [1], resolveNames: false }, 'page-one-scan-1');
    const serve = await one.call('serve:start', { project: sampleProject(), address: '127.0.0.1', tftpPort: 6969, httpPort: 0 }, 'page-one-serve-1');
    const long = await one.call('scan:start', { targets: ['127.0.0.1'], ports: [silent.port], checkTimeoutMs: 20000, resolveNames: false }, 'page-one-long-1');
    expect([scan, serve, long].map((r) => r.ok)).toEqual([true, true, true]);
    expect(await one.call('jobs:cancel', { jobId: 'page-one-long-1' })).toMatchObject({ ok: true, value: { cancelled: true } });
    await until(() => ['page-one-scan-1', 'page-one-serve-1', 'page-one-long-1'].every((id) => one.events.some((e) => e.jobId === id && /succeeded|failed|cancelled/.test(e.type))));
    const types = (id: string) => one.events.filter((e) => e.jobId === id).map((e) => e.type);
    expect(types('page-one-scan-1')).toContain('succeeded');
    expect(types('page-one-serve-1')).toEqual(['started', 'failed']);
    expect(one.events.find((e) => e.jobId === 'page-one-serve-1' && e.type === 'failed')).toMatchObject({ error: { message: expect.stringMatching(/no secret stored under "ws2\.chap"/) } });
    expect(types('page-one-long-1').at(-1)).toBe('cancelled');
    // The second page's own job reaches it, and nothing of the first page's ever does.
    await two.call('scan:start', { targets: ['127.0.0.1'], ports: [1], resolveNames: false }, 'page-two-scan-1');
    await until(() => two.events.some((e) => e.jobId === 'page-two-scan-1' && e.type === 'succeeded'));
    await new Promise((r) => setTimeout(r, 50));
    expect(new Set(two.events.map((e) => e.jobId))).toEqual(new Set(['page-two-scan-1']));
    expect(one.events.some((e) => e.jobId === 'page-two-scan-1')).toBe(false);
    one.ws.close();
    two.ws.close();
  });

  it('a page cannot cancel another page’s job, nor take its id; a bad id or one on a channel that starts no job is refused', async () => {
    const one = await page();
    const two = await page();
    expect(await one.call('scan:start', { targets: ['127.0.0.1'], ports: [silent.port], checkTimeoutMs: 20000, resolveNames: false }, 'shared-name-1')).toMatchObject({ ok: true, value: { jobId: 'shared-name-1' } });
    expect(await two.call('jobs:cancel', { jobId: 'shared-name-1' })).toMatchObject({ ok: true, value: { cancelled: false } });
    expect(h.runner.running()).toContain('shared-name-1');
    const taken = await two.call('scan:start', { targets: ['127.0.0.1'], ports: [1], resolveNames: false }, 'shared-name-1');
    expect(taken).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', message: expect.stringMatching(/already running/) } });
    for (const bad of ['short', 'has space in it', 'x'.repeat(65), '../../etc/passwd']) {
      expect(await two.call('scan:start', { targets: ['127.0.0.1'], ports: [1] }, bad), bad).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
    }
    expect(await two.call('app:info', {}, 'not-a-job-call')).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', message: expect.stringMatching(/starts no job/) } });
    await new Promise((r) => setTimeout(r, 50));
    expect(two.events).toEqual([]);
    // The first page going away cancels its jobs.
    one.ws.close();
    await until(() => !h.runner.running().includes('shared-name-1'));
    two.ws.close();
  });
});
