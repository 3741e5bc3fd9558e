import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineInfo } from '../../../../shared/build';
import type { Api } from '../../api/client';
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
  useApp.setState((s) => ({ wizard: { current: 'scan' }, build: { ...s.build, engines: [], engine: 'auto', targets: ['bios'], targetsTouched: false, base: '', noBuild: false } }));
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

/** An API that answers build:engines with this detection (and nothing else is called here). */
function enginesApi(engines: EngineInfo[], calls: unknown[] = []): Api {
  return {
    transport: 'harness',
    onJobEvent: () => () => undefined,
    invoke: (async (channel: string, input: unknown) => {
      calls.push({ channel, input });
      return channel === 'build:engines' ? { ok: true, value: engines } : { ok: true, value: { jobId: 'j1', kind: 'build' } };
    }) as Api['invoke'],
  };
}

const checked = (t: string) => (screen.getByTestId(`build-target-${t}`) as HTMLInputElement).checked;

function openBuild(workstations: Array<'bios' | 'uefi'>): void {
  const base = sampleProject();
  const ws = workstations.map((fw, i) => ({ ...base.workstations![i % base.workstations!.length]!, name: `ws${i + 1}`, firmware: fw, ...(fw === 'bios' ? { uefiFilename: undefined } : {}) }));
  act(() => useApp.setState((s) => ({ identity: { ...s.identity, project: { ...base, workstations: ws }, secrets: { ...SAMPLE_SECRETS } }, wizard: { current: 'build' } })));
}

describe('Build step: targets from the workstations, an automatic engine that can run', () => {
  it("preselects each workstation's firmware target until the user ticks their own", async () => {
    const calls: unknown[] = [];
    setApi(enginesApi([{ kind: 'local', available: true, version: '14' }], calls));
    openBuild(['uefi']);
    render(<App />);
    expect([checked('bios'), checked('uefi'), checked('ipxe-efi')]).toEqual([false, true, false]);
    expect(screen.getByTestId('build-targets-why').textContent).toBe('Preselected from your workstations: 1 UEFI (snponly.efi).');
    openBuild(['bios', 'uefi', 'uefi']);
    expect([checked('bios'), checked('uefi')]).toEqual([true, true]);
    expect(screen.getByTestId('build-targets-why').textContent).toMatch(/1 BIOS \(undionly\.kpxe\), 2 UEFI/);
    fireEvent.click(screen.getByTestId('build-target-bios'));
    expect([checked('bios'), checked('uefi')]).toEqual([false, true]);
    expect(screen.getByTestId('build-targets-why').textContent).toBe('Chosen by you.');
    // What a build sends is what the boxes show.
    await waitFor(() => expect(screen.getByTestId('build-engine').textContent).toMatch(/automatic: this computer's compilers/));
    await act(() => useApp.getState().startBuild());
    expect(calls.find((c) => (c as { channel: string }).channel === 'build:start')).toMatchObject({ input: { targets: ['uefi'] } });
    expect((calls.find((c) => (c as { channel: string }).channel === 'build:start') as { input: object }).input).not.toHaveProperty('engine');
  });

  it('automatic takes podman only with a base image here; the base is chosen in the step', async () => {
    const podman: EngineInfo = { kind: 'podman', available: true, version: '5.4', base: 'docker.io/library/debian:bookworm-slim', imageReady: false, imageProblem: 'no base image docker.io/library/debian:bookworm-slim on this computer', images: ['localhost/bootchain-debian-base:latest'] };
    const calls: unknown[] = [];
    setApi(enginesApi([podman, { kind: 'docker', available: false, problem: 'docker is not installed' }, { kind: 'local', available: true, version: '14' }], calls));
    openBuild(['bios']);
    render(<App />);
    await waitFor(() => expect(screen.getByTestId('build-engine').textContent).toMatch(/automatic: this computer's compilers/));
    expect(screen.getByTestId('build-base-status').textContent).toMatch(/no base image docker\.io\/library\/debian:bookworm-slim.*so automatic uses the local compilers/);
    fireEvent.change(screen.getByTestId('build-base'), { target: { value: 'localhost/bootchain-debian-base' } });
    expect(screen.getByTestId('build-engine').textContent).toMatch(/automatic: podman \(bundled container\) from localhost\/bootchain-debian-base/);
    expect(screen.getByTestId('build-base-status').textContent).toMatch(/podman: ready/);
    await act(() => useApp.getState().startBuild());
    expect(calls.find((c) => (c as { channel: string }).channel === 'build:start')).toMatchObject({ input: { base: 'localhost/bootchain-debian-base', targets: ['bios'] } });
  });

  it('with nothing that can build, automatic says so and Build stays closed', async () => {
    setApi(enginesApi([{ kind: 'podman', available: true, base: 'x:1', imageReady: false, images: [] }, { kind: 'local', available: false, problem: 'missing gcc' }]));
    openBuild(['bios']);
    render(<App />);
    await waitFor(() => expect(screen.getByTestId('build-engine').textContent).toMatch(/nothing can build here yet/));
    expect((screen.getByTestId('build-start') as HTMLButtonElement).disabled).toBe(true);
  });

  it('stock binaries: where they come from and what Upload sends', async () => {
    setApi(enginesApi([{ kind: 'local', available: true }]));
    openBuild(['bios', 'uefi']);
    render(<App />);
    fireEvent.click(screen.getByTestId('build-skip'));
    const stock = screen.getByTestId('build-stock').textContent ?? '';
    expect(stock).toMatch(/apt install ipxe/);
    expect(stock).toMatch(/\/usr\/lib\/ipxe\/undionly\.kpxe → undionly\.kpxe/);
    expect(stock).toMatch(/\/usr\/lib\/ipxe\/snponly\.efi → snponly\.efi/);
    expect(screen.getByTestId('build-stock-upload').textContent).toMatch(/generated scripts .*and these stock binaries/);
  });
});
