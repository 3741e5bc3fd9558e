import { act, cleanup, render, screen, waitFor } from '@testing-library/react';
import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SAMPLE_SECRETS, sampleProject } from '../../../../shared/gen/fixtures';
import { inProcessApi } from '../../../test/in-process-api';
import { setApi } from '../../api/client';
import { App } from '../../app/App';
import { useApp } from '../../store/index';

// The Upload step on the real handlers with a folder target (a TFTP root on this computer): when
// the server already holds exactly the project's files, the plan says "nothing to upload" — and
// that completes the step instead of leaving the wizard with no way forward. The project's NAS is
// 127.0.0.1, where no TFTP server runs: the upload's TFTP check stays on loopback (and fails).
afterEach(() => {
  cleanup();
  useApp.getState().resetUploadRun();
  useApp.setState({ wizard: { current: 'scan' } });
});

const settle = () => waitFor(() => expect(useApp.getState().upload.status, JSON.stringify({ ...useApp.getState().upload, server: undefined }).slice(0, 800)).not.toBe('running'), { timeout: 60000 });

describe('Upload step: nothing left to upload', () => {
  it('a plan that finds every file already there completes the step; a plan with work left says what Next needs', { timeout: 120_000 }, async () => {
    setApi(inProcessApi({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'bc-dom-upload-')) }));
    const folder = mkdtempSync(path.join(os.tmpdir(), 'bc-dom-tftp-'));
    act(() => useApp.setState((s) => ({ identity: { ...s.identity, project: sampleProject({ nas: { address: '127.0.0.1', iscsiPort: 3260, tftpRoot: '/srv/tftp' } }), secrets: { ...SAMPLE_SECRETS } }, build: { ...s.build, noBuild: true }, wizard: { current: 'upload' } })));
    act(() => useApp.getState().setServer({ kind: 'folder', folder }));
    render(<App />);

    // First contact: the plan has files to add; Next is closed and says why.
    await act(() => useApp.getState().startUpload(true));
    await settle();
    expect(useApp.getState().upload.plan?.plan.add.length).toBeGreaterThan(0);
    expect((screen.getByTestId('next') as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByTestId('next-why').textContent).toMatch(/Upload the boot files/);

    await act(() => useApp.getState().startUpload(false));
    await settle();
    expect(useApp.getState().upload.status).toBe('succeeded');
    expect(useApp.getState().upload.result?.tftp?.ok).toBe(false);
    expect(screen.getByTestId('next-why').textContent).toMatch(/TFTP service does not serve them/);
    expect(readdirSync(folder).filter((f) => f.endsWith('.ipxe')).length).toBeGreaterThan(0);

    // A change and back (or a rebuild with the same bytes) drops the upload's result: the new
    // plan finds every file in place.
    act(() => useApp.getState().resetUploadRun());
    await act(() => useApp.getState().startUpload(true));
    await settle();
    expect(useApp.getState().upload.plan?.plan).toMatchObject({ add: [], change: [] });
    expect(await screen.findByText(/already holds these files: nothing to upload/)).toBeTruthy();
    expect((screen.getByTestId('next') as HTMLButtonElement).disabled).toBe(false);
    expect(screen.queryByTestId('next-why')).toBeNull();
  });
});
