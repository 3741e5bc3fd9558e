import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { SAMPLE_SECRETS, sampleProject } from '../../../../shared/gen/fixtures';
import type { InspectResult, WriteResult } from '../../../../shared/install';
import { CHAIN_LINKS, type VerifyResult } from '../../../../shared/verify';
import { inProcessApi } from '../../../test/in-process-api';
import { setApi } from '../../api/client';
import { useApp } from '../../store/index';
import { idleJob } from '../../store/job';
import { isReachable } from '../../store/wizard-slice';
import { InstallStep } from './InstallStep';

afterEach(() => {
  cleanup();
  useApp.getState().resetIdentity();
  useApp.getState().resetInstallRun();
  useApp.setState((s) => ({ verify: { ...s.verify, ...idleJob }, serve: { ...s.serve, running: false }, install: { ...s.install, image: '', iso: '', mode: 'image' } }));
});

/** Verify's result on an empty LUN: every link holds up to the disk. */
const emptyDisk: VerifyResult = {
  station: 'ws1',
  mac: '52:54:00:12:34:56',
  firmware: 'bios',
  links: CHAIN_LINKS.map((l) => ({ id: l.id, title: l.title, status: l.id === 'bootsector' ? 'fail' : 'pass', summary: l.id === 'bootsector' ? 'LUN 1 is empty: nothing to boot' : 'holds', evidence: [] })),
  identity: { status: 'pass', summary: 'same IQN everywhere', evidence: [] },
  firstBroken: 'bootsector',
  ok: false,
  durationMs: 800,
};

const layout = { scheme: 'mbr' as const, bootSignature: true, bootable: true, partitions: [], verdict: 'has-os' as const, summary: 'MBR, 1 partition(s), one marked bootable' };
const inspected: InspectResult = {
  station: 'ws1',
  lun: { portal: { address: '192.168.1.20', port: 3260 }, target: 'iqn.2026-11.org.example:ws1', lun: 1, initiator: 'iqn.x:ws1', blocks: 131072, blockSize: 512, sizeBytes: 64 << 20, thin: false, zeroesAfterUnmap: false, unmap: false, layout },
  image: { source: '/img/os.img.xz', name: 'os.img.xz', format: 'xz', size: 24 << 20 },
  refusals: [],
  needsConfirm: true,
};

describe('Install step', () => {
  it('opens from a Verify that fails only at the disk, never from one that fails earlier', () => {
    setApi(inProcessApi());
    act(() => useApp.setState((s) => ({ identity: { ...s.identity, project: sampleProject(), secrets: { ...SAMPLE_SECRETS }, opened: { name: 'sample', project: sampleProject(), secrets: { ...SAMPLE_SECRETS } } }, build: { ...s.build, noBuild: true }, serve: { ...s.serve, running: true } })));
    act(() => useApp.setState((s) => ({ verify: { ...s.verify, status: 'succeeded', result: { ...emptyDisk, firstBroken: 'target', links: emptyDisk.links.map((l) => (l.id === 'target' ? { ...l, status: 'fail' } : l)) } } })));
    expect(isReachable(useApp.getState(), 'install')).toBe(false);
    act(() => useApp.setState((s) => ({ verify: { ...s.verify, result: emptyDisk } })));
    expect(isReachable(useApp.getState(), 'install')).toBe(true);
    // Done stays closed until the disk boots: a write the probe calls bootable opens it.
    expect(isReachable(useApp.getState(), 'done')).toBe(false);
    const written = { ok: true, findings: [{ status: 'pass', summary: 'Boot code' }] } as unknown as WriteResult;
    act(() => useApp.setState((s) => ({ installWrite: { ...s.installWrite, status: 'succeeded', result: written } })));
    expect(isReachable(useApp.getState(), 'done')).toBe(true);
    // A green Verify: Next passes over Install (nothing to do) straight to Done.
    act(() => useApp.setState((s) => ({ verify: { ...s.verify, result: { ...emptyDisk, ok: true, firstBroken: undefined } }, wizard: { current: 'verify' } })));
    act(() => useApp.getState().next());
    expect(useApp.getState().wizard.current).toBe('done');
    act(() => useApp.setState({ wizard: { current: 'start' } }));
  });

  it('Write says why it is closed; what the disk holds is shown; the confirm is a modal naming it; findings carry their fix', () => {
    setApi(inProcessApi());
    act(() => useApp.setState((s) => ({ identity: { ...s.identity, project: sampleProject(), secrets: { ...SAMPLE_SECRETS } } })));
    render(<InstallStep />);
    expect(screen.getByTestId('install-write-why').textContent).toBe('Choose an image file or paste its URL first.');
    expect((screen.getByTestId('install-write') as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(screen.getByTestId('install-image-path'), { target: { value: '/img/os.img.xz' } });
    expect((screen.getByTestId('install-write') as HTMLButtonElement).disabled).toBe(false);
    act(() => useApp.setState((s) => ({ installInspect: { ...s.installInspect, status: 'succeeded', result: inspected }, install: { ...s.install, confirming: 'write' } })));
    expect(screen.getByTestId('install-holds').textContent).toBe('MBR, 1 partition(s), one marked bootable');
    expect(screen.getByTestId('install-image-info').textContent).toBe('os.img.xz: xz, 24 MiB');
    const dialog = screen.getByTestId('install-confirm');
    expect(dialog.getAttribute('role')).toBe('alertdialog');
    expect(dialog.getAttribute('aria-modal')).toBe('true');
    expect(dialog.textContent).toContain('already holds: MBR, 1 partition(s), one marked bootable. Writing os.img.xz replaces everything on it.');
    fireEvent.click(screen.getByTestId('install-confirm-no'));
    expect(screen.queryByTestId('install-confirm')).toBeNull();
    // A refusal (image larger than the disk) closes Write with the reason.
    act(() => useApp.setState((s) => ({ installInspect: { ...s.installInspect, result: { ...inspected, refusals: ['The image is 80 MiB, larger than the disk\'s 64 MiB: use a larger LUN or a smaller image.'] } } })));
    expect(screen.getByTestId('install-write-why').textContent).toMatch(/larger than the disk/);
    expect(screen.getByTestId('install-refusal')).toBeTruthy();
    const result: WriteResult = {
      station: 'ws1',
      lun: inspected.lun,
      image: inspected.image!,
      imageBytes: 24 << 20,
      bytesWritten: 24 << 20,
      bytesSkipped: 0,
      sparse: { used: false, why: 'not thin' },
      sha256: 'ab'.repeat(32),
      verify: { ok: true, sha256: 'ab'.repeat(32), durationMs: 300 },
      durationMs: 1200,
      mibPerSec: 20,
      layout,
      findings: [
        { status: 'pass', summary: 'Partition table: MBR' },
        { status: 'fail', summary: 'No EFI system partition: a UEFI workstation cannot start this disk', fix: 'Use a UEFI image.' },
      ],
      ok: false,
    };
    act(() => useApp.setState((s) => ({ installWrite: { ...s.installWrite, status: 'succeeded', result } })));
    expect(screen.getByTestId('install-verified').textContent).toMatch(/^Verified: the disk reads back exactly the image/);
    expect(screen.getByTestId('finding-fail').textContent).toContain('Fix: Use a UEFI image.');
    expect(screen.queryByTestId('install-verify-chain')).toBeNull();
  });

  it('another image drops the last inspection and write (they described the old one)', () => {
    setApi(inProcessApi());
    act(() => useApp.setState((s) => ({ identity: { ...s.identity, project: sampleProject() }, install: { ...s.install, image: '/a.img' }, installInspect: { ...s.installInspect, status: 'succeeded', result: inspected } })));
    act(() => useApp.getState().setInstall({ image: '/b.img' }));
    expect(useApp.getState().installInspect.result).toBeUndefined();
  });

  it('Linux help: the secrets stay masked until asked for; the VM mode shows what to choose in the installer', () => {
    setApi(inProcessApi());
    act(() => useApp.setState((s) => ({ identity: { ...s.identity, project: sampleProject(), secrets: { ...SAMPLE_SECRETS } }, install: { ...s.install, station: 'ws2', mode: 'linux' } })));
    render(<InstallStep />);
    const script = () => screen.getByTestId('install-linux-script').textContent!;
    expect(script()).toContain('-o update -n iface.initiatorname -v');
    for (const v of Object.values(SAMPLE_SECRETS)) expect(script()).not.toContain(v);
    fireEvent.click(screen.getByTestId('install-linux-reveal'));
    expect(script()).toContain(SAMPLE_SECRETS['ws2.chap']!);
    fireEvent.click(screen.getByTestId('install-mode-vm'));
    expect(screen.getByTestId('install-vm-why').textContent).toMatch(/Choose the installer ISO/);
    expect(screen.getByTestId('install-vm-advice').textContent).toMatch(/EFI system partition/);
    for (const v of Object.values(SAMPLE_SECRETS)) expect(screen.getByTestId('step-install').textContent).not.toContain(v);
  });
});
