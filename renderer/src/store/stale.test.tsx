import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BuildJobResult } from '../../../shared/build';
import type { JobKind, JobKinds } from '../../../shared/jobs';
import { ok } from '../../../shared/result';
import { JOB_CHANNELS } from '../../../shared/contract';
import type { UploadResult } from '../../../shared/upload';
import { CHAIN_LINKS, type VerifyResult } from '../../../shared/verify';
import type { VmBootResult } from '../../../shared/vm';
import { generateFromRaw } from '../../../shared/gen/artifacts';
import type { JobBody, JobRunner } from '../../../electron/services/jobs/runner';
import { inProcessApi } from '../../test/in-process-api';
import { setApi } from '../api/client';
import { App } from '../app/App';
import { useApp } from './index';

// Changing an earlier choice drops the later steps' results that it makes stale (style.md §4):
// embed.ipxe changed -> Build's result (and what was served from it); a served file changed ->
// Upload's and Verify's. The project is a user's export shaped like a real QNAP homelab (not
// made by Bootchain's generators). Builds, uploads and verify walks cannot run here (no iPXE
// tree, and uploads and walks would send traffic to the user's LAN): their results arrive as
// job events through the real job runner and bridge, shaped like real runs.
const fixture = readFileSync(path.join(__dirname, 'testdata', 'qnap-homelab.bootchain.json'), 'utf8');
const SECRETS = { 'fedora.chap': 'Qn4pChapSecret7' };

const built: BuildJobResult = {
  artifacts: [
    { target: 'bin/undionly.kpxe', file: 'undionly.kpxe', size: 70_846, sha256: '9b1c4e0d6a7f3e2b8c5d1a0f4e6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7', embeddedVerified: true },
    { target: 'bin-x86_64-efi/snponly.efi', file: 'snponly.efi', size: 233_472, sha256: '0f2e4d6c8b0a1f3e5d7c9b1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e', embeddedVerified: true },
  ],
  kind: 'full',
  compiled: 812,
  durationMs: 187_000,
  manifest: '/home/u/.config/bootchain/builds/gentoo-lab/manifest.json',
  engine: 'podman 4.9.3',
  version: 'v2.0.0',
  outDir: '/home/u/.config/bootchain/builds/gentoo-lab',
};
const uploaded: UploadResult = {
  target: 'admin@192.168.1.20:/share/Public/tftp',
  dryRun: false,
  plan: { add: ['d8-bb-c1-0a-3b-7f.ipxe', 'd8-bb-c1-0a-3b-80.ipxe'], change: ['default.ipxe', 'autoexec.ipxe', 'undionly.kpxe', 'snponly.efi'], same: [], extra: [], bytes: 306_500 },
  planId: 'plan-7f3a',
  files: [],
  backup: '2026-11-03T10-12-44Z',
  rename: 'atomic',
  tftp: { host: '192.168.1.20', checked: 6, ok: true, problems: [] },
  durationMs: 2_400,
  bytes: 306_500,
};
const verified: VerifyResult = {
  station: 'gentoo',
  mac: 'd8:bb:c1:0a:3b:7f',
  firmware: 'bios',
  links: CHAIN_LINKS.map((l) => ({ id: l.id, title: l.title, status: 'pass' as const, summary: `${l.title}: as expected`, evidence: [] })),
  identity: { status: 'pass', summary: 'the same initiator IQN everywhere', evidence: [] },
  ok: true,
  durationMs: 3_100,
};
const vmBooted: VmBootResult = { ended: 'marker', reached: 'booted', stages: [], console: 'BOOTCHAIN-LUN-BOOTED', durationMs: 9_000 };

let runner: JobRunner;
/** The body the next job a slice starts runs instead of the real one (which would reach the LAN). */
let stand: { kind: JobKind; body: JobBody<never> } | undefined;

/** The step's own start action, run with `body` as its job's body; answers the job's id (the window's name for it). */
async function start<K extends 'build' | 'upload' | 'verify' | 'vmboot'>(kind: K, body: JobBody<K>): Promise<string> {
  stand = { kind, body: body as JobBody<never> };
  const actions = { build: () => state().startBuild(), upload: () => state().startUpload(false), verify: () => state().startVerify(), vmboot: () => state().startVm() };
  await act(() => actions[kind]());
  const slice = (kind === 'vmboot' ? 'vm' : kind) as 'build' | 'upload' | 'verify' | 'vm';
  return state()[slice].jobId!;
}

/** Ends a job of `kind` with `result` through the runner and the job bridge, as a real run would. */
async function finish<K extends 'build' | 'upload' | 'verify' | 'vmboot'>(kind: K, result: JobKinds[K]['result']): Promise<void> {
  const id = await start(kind, async () => result);
  await act(() => runner.settled(id));
}

const ticked = (step: string) => screen.getByTestId(`nav-${step}`).querySelector('.done') !== null;
const type = (testId: string, value: string, nth = 0) => act(() => void fireEvent.change(screen.getAllByTestId(testId)[nth]!, { target: { value } }));

/** The user's project imported, built, uploaded and verified (VM test boot too): every step ticked. */
async function allDone(): Promise<void> {
  act(() => useApp.getState().importProject(fixture));
  act(() => useApp.setState((s) => ({ identity: { ...s.identity, secrets: { ...SECRETS } }, wizard: { current: 'identity' } })));
  await finish('build', built);
  await finish('upload', uploaded);
  await finish('verify', verified);
  await finish('vmboot', vmBooted);
  expect([ticked('identity'), ticked('build'), ticked('upload'), ticked('verify')]).toEqual([true, true, true, true]);
}

const state = () => useApp.getState();
const kept = { build: () => expect(state().build.result).toBe(built), upload: () => expect(state().upload.result).toBe(uploaded), verify: () => expect(state().verify.result).toBe(verified) };

beforeEach(() => {
  const api = inProcessApi({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'bc-dom-stale-')) });
  runner = api.runner;
  // A job the test stands in for starts on the real runner, named as the window named it.
  setApi({
    ...api,
    invoke: (channel, input, envelope) => {
      const s = stand;
      if (!s || !(channel in JOB_CHANNELS)) return api.invoke(channel, input, envelope);
      stand = undefined;
      const jobId = runner.start(s.kind, s.body, { jobId: envelope?.jobId, owner: 'dom' });
      return Promise.resolve(ok({ jobId, kind: s.kind }) as never);
    },
  });
  render(<App />);
});

afterEach(() => {
  cleanup();
  state().resetIdentity();
  useApp.setState({ wizard: { current: 'scan' } });
});

describe('changing an earlier choice drops the results it makes stale', () => {
  it('option 17 (root-path) changes embed.ipxe: Build is cleared, and Upload and Verify with it', async () => {
    await allDone();
    type('root-path', 'http://192.168.1.20/boot');
    expect(state().build.result).toBeUndefined();
    expect(state().build.status).toBe('idle');
    expect(ticked('build')).toBe(false);
    // autoexec.ipxe (served) is embed.ipxe, and the served binaries carried the old script.
    expect(state().upload.result).toBeUndefined();
    expect(state().verify.result).toBeUndefined();
    expect(state().vm.result).toBeUndefined();
    expect([ticked('upload'), ticked('verify')]).toEqual([false, false]);
  });

  it('the user-class changes embed.ipxe: Build is cleared', async () => {
    await allDone();
    act(() => state().setProjectField({ boot: { ...state().identity.project.boot!, userClass: 'hb-chain.8x' } }));
    expect(state().build.result).toBeUndefined();
    expect(ticked('build')).toBe(false);
  });

  it("a workstation's target changes its per-MAC script: Upload and Verify are cleared, Build is kept", async () => {
    await allDone();
    type('ws-target', 'iqn.2004-04.com.qnap:ts-453be:iscsi.gentoo2.d8b6f1');
    kept.build();
    expect(ticked('build')).toBe(true);
    expect(state().upload.result).toBeUndefined();
    expect(state().upload.status).toBe('idle');
    expect(state().verify.result).toBeUndefined();
    expect(state().verify.links).toEqual({});
    expect(state().vm.result).toBeUndefined();
    expect([ticked('upload'), ticked('verify')]).toEqual([false, false]);
  });

  it('the boot file choice (UEFI: ipxe.efi instead of snponly.efi) clears Upload and Verify, keeps Build', async () => {
    await allDone();
    act(() => state().setProjectField({ boot: { ...state().identity.project.boot!, uefiFile: 'ipxe.efi' } }));
    kept.build();
    expect(state().upload.result).toBeUndefined();
    expect(state().verify.result).toBeUndefined();
  });

  it('a new build with other binaries clears Upload and Verify (they served the old ones)', async () => {
    await allDone();
    await finish('build', { ...built, artifacts: built.artifacts.map((a) => ({ ...a, sha256: a.sha256.replace(/^../, 'aa') })) });
    expect(ticked('build')).toBe(true);
    expect(state().upload.result).toBeUndefined();
    expect(state().verify.result).toBeUndefined();
  });

  it('a change while an upload runs: the upload is cancelled and its late result is not taken', async () => {
    await allDone();
    let release!: () => void;
    const gate = new Promise<UploadResult>((resolve) => (release = () => resolve(uploaded)));
    const id = await start('upload', () => gate);
    type('ws-target', 'iqn.2004-04.com.qnap:ts-453be:iscsi.gentoo2.d8b6f1');
    release();
    await act(() => runner.settled(id));
    expect(state().upload.status).toBe('idle');
    expect(state().upload.result).toBeUndefined();
    expect(ticked('upload')).toBe(false);
  });

  it('serving from this computer (its copy made at the start): a changed script switches it off, saying why', async () => {
    await allDone();
    act(() => useApp.setState((s) => ({ upload: { ...s.upload, status: 'idle', result: undefined }, serve: { ...s.serve, running: true, jobId: 'serve-1' } })));
    expect(ticked('upload')).toBe(true);
    type('ws-target', 'iqn.2004-04.com.qnap:ts-453be:iscsi.gentoo2.d8b6f1');
    expect(state().serve.running).toBe(false);
    expect(state().serve.note).toMatch(/files changed since serving started.*Switch it on again/);
    expect(ticked('upload')).toBe(false);
  });

  it('nothing that reaches a served file (project name, router kind): every result is kept', async () => {
    await allDone();
    type('project-name', 'gentoo-lab-2026');
    // The router kind is chosen in the Router step (it picks which DHCP snippet is shown).
    act(() => useApp.setState({ wizard: { current: 'router' } }));
    act(() => void fireEvent.change(screen.getByTestId('router-kind'), { target: { value: 'isc' } }));
    expect(state().identity.project.router.kind).toBe('isc');
    kept.build();
    kept.upload();
    kept.verify();
    expect(state().vm.result).toBe(vmBooted);
    expect([ticked('build'), ticked('upload'), ticked('verify')]).toEqual([true, true, true]);
  });

  it('a value typed over and back (the NAS address briefly invalid) keeps every result', async () => {
    await allDone();
    type('nas-address', '192.168.1.');
    type('nas-address', '192.168.1.20');
    kept.build();
    kept.upload();
    kept.verify();
  });

  // A Synology target name has capitals (`DS918.Target-1`); issue 14 item 2 makes the generators
  // take it. Until they do, the project does not generate and nothing can be compared.
  const synology = 'iqn.2000-01.com.synology:DS918.Target-1.5c0a3b';
  const project = JSON.parse(fixture) as { workstations: Array<{ target: string }> };
  project.workstations[0]!.target = synology;
  const takesSynology = generateFromRaw(project, SECRETS).ok;
  if (!takesSynology) console.log(`skipped: the generators refuse the Synology target ${synology} (issue 14 item 2)`);
  it.skipIf(!takesSynology)("moving a workstation to a Synology target (capitals in its name) clears Upload and Verify, keeps Build", async () => {
    await allDone();
    type('ws-target', synology);
    kept.build();
    expect(state().upload.result).toBeUndefined();
    expect(state().verify.result).toBeUndefined();
  });
});
