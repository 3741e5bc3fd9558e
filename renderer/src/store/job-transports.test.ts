import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import NodeWebSocket from 'ws';
import { SAMPLE_SECRETS, sampleProject } from '../../../shared/gen/fixtures';
import type { JobEvent } from '../../../shared/jobs';
import { rec } from '../../../electron/main/electron-stand-in';
import { startHarness, type Harness } from '../../../electron/harness/server';
import { api, createApi, harnessApi, setApi } from '../api/client';
import { useApp } from './index';

// A job that fails at once — vm:boot and serve:start on a project whose CHAP secret is missing:
// started, then failed, both maybe before the reply that names the job — must end in the window's
// state, over both transports, fed by the real client:
// - Electron: main's real IPC wiring (electron/main/index.ts) and the real preload, run against
//   the stand-in electron module (no Electron binary runs here) that wiring.test.ts uses too;
// - the harness: a real harness on loopback, over a real WebSocket.
// Before jobs were addressed to their caller, the VM boot stayed "running" and the serve switch
// stayed on with no server: the window matched events against the id the reply brought.
vi.mock('electron', () => import('../../../electron/main/electron-stand-in'));

const dataDir = process.env.BOOTCHAIN_DATA_DIR;
let harness: Harness | undefined;
beforeAll(() => {
  // The harness's own data folder: the user's vault is never read.
  process.env.BOOTCHAIN_DATA_DIR = mkdtempSync(path.join(os.tmpdir(), 'bc-dom-jobs-'));
});
afterAll(async () => {
  await harness?.close();
  if (dataDir === undefined) delete process.env.BOOTCHAIN_DATA_DIR;
  else process.env.BOOTCHAIN_DATA_DIR = dataDir;
});

const state = () => useApp.getState();
const until = async (ok: () => boolean, ms = 5000) => {
  for (const t0 = Date.now(); !ok(); ) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** The project without its CHAP secrets (ws2 uses CHAP): its boot files cannot be made. */
function projectWithoutSecrets(): void {
  useApp.setState((s) => ({ identity: { ...s.identity, project: sampleProject(), secrets: {} }, serve: { ...s.serve, address: '127.0.0.1', tftpPort: '6969', httpPort: '' } }));
  state().resetVerifyRun();
}

/** Boots the VM and switches the server on; both fail at once and both ends are in the store. */
async function bothFailAtOnce(): Promise<{ vm: string; serve: string }> {
  projectWithoutSecrets();
  await state().startVm();
  await until(() => state().vm.status !== 'running');
  expect(state().vm).toMatchObject({ status: 'failed', error: { message: expect.stringMatching(/no secret stored under "ws2\.chap"/) } });
  await state().startServe();
  await until(() => state().serve.status !== 'running');
  expect(state().serve).toMatchObject({ running: false, status: 'failed', error: { message: expect.stringMatching(/no secret stored under "ws2\.chap"/) } });
  // Both were jobs (started, then failed), not refusals: the window named them before asking.
  return { vm: state().vm.jobId!, serve: state().serve.jobId! };
}

describe('a job that fails at once ends in the window’s state', () => {
  it('Electron: through main’s IPC wiring and the preload (stand-in electron module)', async () => {
    await import('../../../electron/main/index');
    await new Promise((r) => setTimeout(r, 20));
    await import('../../../electron/preload/index');
    window.api = rec.exposed.api as NonNullable<typeof window.api>;
    setApi(createApi());
    expect(api().transport).toBe('electron');

    const ids = await bothFailAtOnce();
    const sent = rec.windows[0]!.wc.sent.filter((m) => m.channel === 'jobs:event').map((m) => m.args[0] as JobEvent);
    expect(sent.filter((e) => e.jobId === ids.vm).map((e) => e.type)).toEqual(['started', 'failed']);
    expect(sent.filter((e) => e.jobId === ids.serve).map((e) => e.type)).toEqual(['started', 'failed']);
  });

  it('harness: through a real harness WebSocket', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'bc-dom-jobs-root-'));
    writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>x</title>');
    const h = (harness = await startHarness({ root, token: 'dom-jobs-token-1' }));
    // The page's WebSocket, from the harness's origin (jsdom's page is on another).
    const origin = `http://127.0.0.1:${h.port}`;
    const seen: JobEvent[] = [];
    let socket: NodeWebSocket | undefined;
    vi.stubGlobal(
      'WebSocket',
      class extends NodeWebSocket {
        constructor(url: string) {
          super(url, { origin });
          socket = this;
          this.on('message', (d) => {
            const m = JSON.parse(String(d)) as { event?: JobEvent };
            if (m.event) seen.push(m.event);
          });
        }
      },
    );
    setApi(harnessApi(`ws://127.0.0.1:${h.port}/ws?token=dom-jobs-token-1`));
    expect(api().transport).toBe('harness');

    const ids = await bothFailAtOnce();
    expect(seen.filter((e) => e.jobId === ids.vm).map((e) => e.type)).toEqual(['started', 'failed']);
    expect(seen.filter((e) => e.jobId === ids.serve).map((e) => e.type)).toEqual(['started', 'failed']);

    // A job still running when the connection drops ends too: the page says the connection is
    // lost, and the harness cancels the jobs of the page that went away.
    useApp.setState((s) => ({ identity: { ...s.identity, secrets: { ...SAMPLE_SECRETS } } }));
    await state().startServe();
    await until(() => state().serve.events.some((e) => e.kind === 'server' && e.status === 'listening'));
    expect(state().serve).toMatchObject({ running: true, status: 'running' });
    expect(h.runner.running()).toEqual([state().serve.jobId]);
    socket!.terminate();
    await until(() => state().serve.status !== 'running');
    expect(state().serve).toMatchObject({ running: false, status: 'failed', error: { code: 'UNREACHABLE', message: expect.stringMatching(/Lost the connection/) } });
    await until(() => h.runner.running().length === 0);
    vi.unstubAllGlobals();
  });
});
