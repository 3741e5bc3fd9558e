import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Channel } from '../../../shared/channels';
import type { JobEvent } from '../../../shared/jobs';
import type { Result } from '../../../shared/result';
import { SAMPLE_SECRETS, sampleProject } from '../../../shared/gen/fixtures';
import { createHandlers, dispatch } from '../../../electron/services/api/handlers';
import { JobRunner } from '../../../electron/services/jobs/runner';
import { keychainStandIn } from '../../../e2e/support/keychain-stand-in';
import { inProcessApi } from '../../test/in-process-api';
import { setApi } from '../api/client';
import { PathField } from '../components/PathField';
import { RecentProjects } from '../steps/scan/RecentProjects';
import { useApp } from './index';

// Remembered settings (issue 17 item 6) on the real handlers and project store: the Upload and
// Build settings and the last results are saved into the project file (no secret), restored on
// open, and an unchanged project reopens at Upload, or at Verify when its upload is known done.
const NAME = 'remember-me';
const PASSPHRASE = 'Passphrase-Secret-42';
const PASSWORD = 'Password-Secret-42';
const sha = (c: string) => c.repeat(64);

const blank = () => {
  const s = useApp.getState();
  s.resetIdentity();
  s.resetBuildRun();
  s.resetUploadRun();
  s.setServer({ kind: 'ssh', host: '', port: '', user: '', root: '', auth: 'key', keyPath: '', passphrase: '', password: '', folder: '' });
  s.setBuild({ engine: 'auto', sourceKind: 'release', sourcePath: '', base: '', noBuild: false });
  useApp.setState((st) => ({ build: { ...st.build, targetsTouched: false } }));
  useApp.setState({ wizard: { current: 'scan' } });
};
afterEach(() => {
  cleanup();
  act(blank);
});

describe('remembered settings', () => {
  it('saved into the project file without secrets, restored on open; an unchanged project reopens at Verify, then Upload, then Identity', { timeout: 60_000 }, async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bc-dom-remember-'));
    const runner = new JobRunner();
    const handlers = createHandlers(runner, 'electron', { dataDir, secretCipher: () => keychainStandIn() });
    setApi({ transport: 'electron', invoke: (channel: Channel, input: unknown) => dispatch(handlers, channel, input, { id: 'dom' }) as Promise<Result<never>>, onJobEvent: (fn: (e: JobEvent) => void) => runner.onEvent(fn) });
    useApp.setState({ secrets: { remember: true, allowPlainText: false } });
    const file = path.join(dataDir, 'projects', `${NAME}.json`);
    const onDisk = () => JSON.parse(readFileSync(file, 'utf8'));

    act(() => useApp.setState((s) => ({ identity: { ...s.identity, project: sampleProject({ name: NAME }), secrets: { ...SAMPLE_SECRETS } } })));
    await act(() => useApp.getState().saveProject());
    act(() => {
      const s = useApp.getState();
      s.setServer({ host: '10.77.0.20', port: '22', user: 'admin', root: '/srv/tftp', auth: 'key', keyPath: '/home/me/.ssh/id_ed25519', passphrase: PASSPHRASE, password: PASSWORD });
      s.setBuild({ engine: 'local', sourceKind: 'dir', sourcePath: '/home/me/ipxe', base: 'docker.io/library/debian:bookworm' });
    });
    // A build and an upload as their jobs end them.
    act(() =>
      useApp.setState((s) => ({
        build: { ...s.build, status: 'succeeded', result: { artifacts: [{ target: 'bin/undionly.kpxe', file: 'undionly.kpxe', size: 70000, sha256: sha('b'), embeddedVerified: true }], kind: 'full', compiled: 900, durationMs: 1000, manifest: 'm', engine: 'local', version: '1.21.1', outDir: path.join(dataDir, 'build') } },
      })),
    );
    act(() =>
      useApp.setState((s) => ({
        upload: { ...s.upload, status: 'succeeded', mode: 'upload', result: { target: 'admin@10.77.0.20:/srv/tftp', dryRun: false, plan: { add: ['undionly.kpxe'], change: [], same: [], extra: [], bytes: 70000 }, planId: 'p', files: [{ file: 'undionly.kpxe', action: 'add', bytes: 70000, sha256: sha('b'), verified: 'shell-sha256' }], durationMs: 10, bytes: 70000, tftp: { host: '10.77.0.20', checked: 1, ok: true, problems: [] } } },
      })),
    );
    await waitFor(() => expect(onDisk().remembered?.lastUpload).toBeTruthy(), { timeout: 5000 });
    const saved = onDisk();
    expect(saved.remembered.upload).toMatchObject({ host: '10.77.0.20', user: 'admin', root: '/srv/tftp', keyPath: '/home/me/.ssh/id_ed25519' });
    expect(saved.remembered.build).toMatchObject({ engine: 'local', sourceKind: 'dir', sourcePath: '/home/me/ipxe' });
    expect(saved.remembered.lastBuild.artifacts[0].sha256).toBe(sha('b'));
    const text = readFileSync(file, 'utf8');
    for (const secret of [PASSPHRASE, PASSWORD, ...Object.values(SAMPLE_SECRETS)]) expect(text).not.toContain(secret);

    // Reopened (everything in memory forgotten): the settings come back, and nothing changed.
    const reopen = async () => {
      act(blank);
      cleanup();
      render(<RecentProjects />);
      const row = await screen.findByText(NAME);
      fireEvent.click(row.closest('li')!.querySelector('[data-testid="recent-reconfigure"]')!);
      await waitFor(() => expect(useApp.getState().identity.opened?.name).toBe(NAME));
      await waitFor(() => expect(useApp.getState().wizard.current).not.toBe('scan'));
    };
    await reopen();
    let s = useApp.getState();
    expect(s.upload.server).toMatchObject({ host: '10.77.0.20', keyPath: '/home/me/.ssh/id_ed25519', passphrase: '', password: '' });
    expect(s.build).toMatchObject({ engine: 'local', sourceKind: 'dir', sourcePath: '/home/me/ipxe', base: 'docker.io/library/debian:bookworm', targetsTouched: false, status: 'succeeded' });
    expect(s.upload.status).toBe('succeeded');
    expect(s.wizard.current).toBe('verify');

    // The upload went elsewhere than the form now says: the build holds, the upload is to redo.
    await new Promise((r) => setTimeout(r, 600));
    const other = onDisk();
    other.remembered.upload.host = '10.77.0.21';
    writeFileSync(file, JSON.stringify(other));
    await reopen();
    s = useApp.getState();
    expect(s.build.status).toBe('succeeded');
    expect(s.upload.status).toBe('idle');
    expect(s.wizard.current).toBe('upload');

    // The project changed but not what iPXE embeds (another NAS address): the build holds, the
    // scripts are to upload again.
    await new Promise((r) => setTimeout(r, 600));
    const moved = onDisk();
    moved.remembered.upload.host = '10.77.0.20';
    moved.nas.address = '10.77.0.99';
    writeFileSync(file, JSON.stringify(moved));
    await reopen();
    s = useApp.getState();
    expect([s.build.status, s.upload.status, s.wizard.current]).toEqual(['succeeded', 'idle', 'upload']);

    // What iPXE embeds changed (the user-class): the build is to redo, from Identity.
    await new Promise((r) => setTimeout(r, 600));
    const rebuilt = onDisk();
    rebuilt.boot.userClass = 'bootchain2';
    writeFileSync(file, JSON.stringify(rebuilt));
    await reopen();
    s = useApp.getState();
    expect(s.upload.server.keyPath).toBe('/home/me/.ssh/id_ed25519');
    expect(s.build.status).toBe('idle');
    expect(s.wizard.current).toBe('identity');
  });

  it('the harness has no file dialog: "Choose…" says to type the path', async () => {
    setApi(inProcessApi({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'bc-dom-pick-')) }));
    let value = '';
    render(<PathField label="Private key file" kind="key" value="" onChange={(v) => (value = v)} testId="upload-key" />);
    fireEvent.click(screen.getByTestId('upload-key-choose'));
    expect((await screen.findByTestId('upload-key-note')).textContent).toBe('Type the path: the browser harness has no file dialog.');
    expect(value).toBe('');
    expect(screen.getByLabelText('Private key file')).toBeTruthy();
  });
});
