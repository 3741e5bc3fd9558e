import { cleanup, render, screen } from '@testing-library/react';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readConsole, type ConsoleContext } from '../../../../electron/services/vm/console';
import type { VmBootResult } from '../../../../shared/vm';
import { useApp } from '../../store/index';
import { VmBoot } from './VmBoot';

// The VM panel shows what the VM service read from a real QEMU console (fixtures recorded in the
// lab): each stage with the line that showed it, the stage where the boot stopped with its
// reason, which iPXE ran, and the console as text.

afterEach(() => cleanup());

function resultOf(fixture: string, c: ConsoleContext, ended: VmBootResult['ended']): VmBootResult {
  const raw = readFileSync(path.join(__dirname, '../../../../electron/services/vm/fixtures', `${fixture}.console`), 'latin1');
  const r = readConsole(raw, { ...c, final: true });
  return { ended, reached: r.stages.at(-1)?.id ?? 'started', stages: r.stages.map((st, i) => ({ id: st.id, what: st.id, atMs: 1000 * i, line: st.line })), failure: r.failure, ipxe: r.ipxe, console: r.screen, durationMs: 9000 };
}

function show(result: VmBootResult) {
  useApp.setState((s) => ({ vm: { ...s.vm, status: 'succeeded', stages: result.stages, result } }));
  render(<VmBoot />);
}

describe('VM test boot panel', () => {
  it('DHCP never answered: DHCP is not ticked but marked where the boot stopped, with iPXE\'s own line', () => {
    show(resultOf('bios-dhcp-noanswer', { known: { nicRom: '1.0.0+git-20190125.36a4c85-5.1' } }, 'failed'));
    expect(screen.getByTestId('vm-stage-ipxe').dataset.reached).toBe('yes');
    expect(screen.getByTestId('vm-stage-dhcp').dataset.reached).toBe('no');
    expect(screen.getByTestId('vm-stage-dhcp').textContent).toMatch(/✗ DHCP answered/);
    expect(screen.getByTestId('vm-failure').textContent).toMatch(/No configuration methods succeeded/);
    expect(screen.getByTestId('vm-ipxe').textContent).toMatch(/NIC's ROM: the NIC's own boot ROM: iPXE 1\.0\.0\+git-20190125\.36a4c85-5\.1 \(QEMU's ROM/);
    expect(screen.getByTestId('vm-console').textContent).not.toMatch(/\x1b/);
  });

  it('a UEFI boot that printed the marker and exited: "booted", and Bootchain\'s build named as the iPXE that ran', () => {
    const sha = '1b6daec4c5c796345e89d47e5fd4f9cf868242a5fac3c6e547093fd1acb8455f';
    show(resultOf('uefi-built-sanboot-exit', { embedEcho: 'Bootchain: asking DHCP for an address...', served: { 'snponly.efi': sha }, manifest: [{ file: 'snponly.efi', sha256: sha }] }, 'exited'));
    expect(screen.getByTestId('vm-stage-booted').dataset.reached).toBe('yes');
    expect(screen.getByTestId('vm-stage-booted').textContent).toMatch(/Welcome to GRUB!/);
    expect(screen.getByTestId('vm-result').textContent).toMatch(/Reached: the disk's boot code runs \(exited/);
    expect(screen.getAllByTestId('vm-ipxe-run').map((li) => li.dataset.kind)).toEqual(['nic-rom', 'built']);
    expect(screen.getAllByTestId('vm-ipxe-run')[1]!.textContent).toMatch(/Bootchain's build: Bootchain's build snponly\.efi: iPXE 2\.0\.0, its embedded script ran; sha256 1b6daec4c5c79634… is in the build manifest/);
    expect(screen.getByTestId('vm-console').textContent).toContain('BOOTCHAIN-UEFI-BOOTED');
  });
});
