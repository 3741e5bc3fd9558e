import { act, cleanup, render, screen, waitFor } from '@testing-library/react';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SAMPLE_SECRETS, sampleProject } from '../../../../shared/gen/fixtures';
import { standInTree } from '../../../../e2e/support/standin';
import { inProcessApi } from '../../../test/in-process-api';
import { setApi } from '../../api/client';
import { useApp } from '../../store/index';
import { App } from '../../app/App';

// The Build step on the real handlers and a real make run over a STAND-IN iPXE tree (iPXE's own
// source cannot be had on CI machines). A tree that links the binary without the script — as an
// iPXE whose EMBED handling changed would — builds fine but fails the read-back: the step says
// so and what to do, and Next says why it stays closed.
afterEach(() => {
  cleanup();
  useApp.getState().resetBuildRun();
  useApp.setState({ wizard: { current: 'scan' } });
});

async function build(tree: string): Promise<void> {
  act(() => useApp.getState().setBuild({ engine: 'local', sourceKind: 'dir', sourcePath: tree, targets: ['bios', 'uefi'] }));
  await act(() => useApp.getState().startBuild());
  await waitFor(() => expect(useApp.getState().build.status).not.toBe('running'), { timeout: 10000 });
}

describe('Build step: a read-back that fails is never silent', () => {
  it('shows what it means and what to do, and Next says why it is closed; a good build clears it', async () => {
    setApi(inProcessApi({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'bc-dom-build-')) }));
    act(() => useApp.setState((s) => ({ identity: { ...s.identity, project: sampleProject(), secrets: { ...SAMPLE_SECRETS } }, wizard: { current: 'build' } })));
    render(<App />);

    await build(standInTree({ objects: 1, dropEmbed: true }));
    expect(useApp.getState().build.status).toBe('succeeded');
    const box = await screen.findByTestId('build-readback-error');
    expect(box.textContent).toMatch(/not inside undionly\.kpxe, snponly\.efi/);
    expect(box.textContent).toMatch(/Build again/);
    expect(box.textContent).toMatch(/stock iPXE binaries/);
    expect((screen.getByTestId('next') as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByTestId('next-why').textContent).toMatch(/could not be read back from undionly\.kpxe, snponly\.efi/);
    expect(screen.getAllByTestId('artifact').map((r) => r.textContent)).toEqual([expect.stringMatching(/embedded script differs/), expect.stringMatching(/embedded script differs/)]);

    await build(standInTree({ objects: 1 }));
    expect(useApp.getState().build.status).toBe('succeeded');
    await waitFor(() => expect(screen.queryByTestId('build-readback-error')).toBeNull());
    expect((screen.getByTestId('next') as HTMLButtonElement).disabled).toBe(false);
    expect(screen.queryByTestId('next-why')).toBeNull();
  });
});
