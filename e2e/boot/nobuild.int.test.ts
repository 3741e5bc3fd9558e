import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateArtifacts } from '../../shared/gen/artifacts';
import { sampleProject } from '../../shared/gen/fixtures';
import { loadProject } from '../../shared/model/project';
import { BOOT_MARKER, UEFI_BOOT_MARKER } from '../lab/disk-images';
import { findOvmf } from '../../electron/services/vm/qemu';
import { addLabHost } from '../lab/lab';
import { labOrSkipReason } from '../support/lab-guard';
import { bootInLab, haveQemu } from '../support/qemu';
import { vmBootJob } from '../../electron/services/vm/job';
import { CLI } from '../../electron/cli/run-cli';
import { mkdirSync } from 'node:fs';
import { tftpGet } from '../../electron/services/tftp/client';

// No-build path (a), for real: QEMU's own NIC ROM is a stock iPXE without an embedded script.
// With the generated dnsmasq config it gets default.ipxe instead of iPXE again, follows the
// generated scripts over TFTP from the lab NAS, SAN-boots the tgtd LUN, and the LUN's boot
// sector prints a marker on COM1.
const lab = labOrSkipReason('nobuild.int.test.ts');
const why = !lab ? 'no lab' : !haveQemu() ? 'qemu-system-x86 is not installed' : undefined;
if (lab && why) process.stdout.write(`SKIP nobuild.int.test.ts: ${why}\n`);
const MAC = '52:54:00:b0:07:01';

/** The last lines of a VM's console, without terminal escapes, for a boot that missed its marker. */
function printConsoleTail(text: string): void {
  process.stdout.write(`console:\n${text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').split(/\r?\n/).slice(-25).join('\n')}\n`);
}

describe.skipIf(!!why)('stock iPXE + generated DHCP rule + generated scripts + tgtd LUN', () => {
  it('boots through the script chain to the LUN without looping', { timeout: 180000 }, async () => {
    const L = lab!;
    const p = loadProject(
      sampleProject({
        router: { kind: 'dnsmasq', rootPath: '', subnet: { cidr: L.subnet, rangeStart: '10.77.0.160', rangeEnd: '10.77.0.170', interface: 'eth0' } },
        workstations: [{ name: 'vm1', mac: MAC, firmware: 'bios', target: L.iscsi.targets.boot, lun: 1, initiatorIqn: 'iqn.2026-11.test.bootchain:vm1', initramfs: 'genkernel' }],
      }),
    );
    if (!p.ok) throw new Error(JSON.stringify(p.errors));
    const g = generateArtifacts(p.value, {});
    if (!g.ok) throw new Error(JSON.stringify(g.errors));
    for (const f of ['default.ipxe', '52-54-00-b0-07-01.ipxe']) writeFileSync(path.join(L.nas.tftpRoot, f), g.files[f]!);
    if (existsSync('/usr/lib/ipxe/undionly.kpxe')) copyFileSync('/usr/lib/ipxe/undionly.kpxe', path.join(L.nas.tftpRoot, 'undionly.kpxe'));
    const conf = path.join(L.dir, 'nobuild-dnsmasq.conf');
    // Restricted to this VM's MAC: other tests' virtual clients run beside it.
    writeFileSync(conf, `${g.files['dhcp/dnsmasq.conf']!}\ndhcp-host=${MAC}\ndhcp-ignore=tag:!known\n`);
    const log = path.join(L.dir, 'nobuild-dnsmasq.log');
    rmSync(log, { force: true });
    rmSync(path.join(L.dir, 'nobuild.leases'), { force: true });
    const host = await addLabHost(L, 'dhcpb', ['10.77.0.43']);
    try {
      host.daemon('dnsmasq', '/usr/sbin/dnsmasq', ['--keep-in-foreground', `--conf-file=${conf}`, '--port=0', '--user=root', '--log-dhcp', `--log-facility=${log}`, `--dhcp-leasefile=${path.join(L.dir, 'nobuild.leases')}`]);
      await new Promise((r) => setTimeout(r, 500));
      const boot = await bootInLab(L, { mac: MAC, until: new RegExp(BOOT_MARKER), timeoutMs: 150000 });
      const lines = boot.output.split(/\r?\n/).filter((l) => /Bootchain|default\.ipxe|52-54-00-b0-07-01|iscsi:|BOOTCHAIN|iPXE/.test(l));
      process.stdout.write(`no-build boot: marker ${boot.found ? 'reached' : 'NOT reached'} after ${boot.ms} ms\n${lines.slice(-8).join('\n')}\n`);
      expect(boot.found).toBe(true);
      // The VM service's stages, as the app shows them.
      expect(boot.result.stages.map((st) => st.id)).toEqual(['firmware', 'ipxe', 'dhcp', 'script', 'sanboot', 'booted']);
      expect(boot.result.reached).toBe('booted');
      expect(boot.output).toContain('default.ipxe');
      expect(boot.output).toContain('52-54-00-b0-07-01.ipxe');
      // One DHCP conversation (one transaction id, one ACK; iPXE may repeat its DISCOVER within it):
      // the iPXE client got the script, not iPXE again, so nothing looped.
      const mine = readFileSync(log, 'utf8').split('\n').filter((l) => l.toLowerCase().includes(MAC));
      const xids = new Set(mine.filter((l) => l.includes('DHCPDISCOVER')).map((l) => /dnsmasq-dhcp\[\d+\]: (\d+) /.exec(l)?.[1]));
      expect(xids.size).toBe(1);
      expect(mine.filter((l) => l.includes('DHCPACK')).length).toBe(1);
    } finally {
      await host.remove();
    }
  });

  /** A VM test boot of one workstation in user-mode networking (the dry run): until the LUN's marker, or (no marker) as the app runs it. */
  async function dryRunBoot(label: string, name: string, ws: { name: string; mac: string; firmware: 'bios' | 'uefi'; target: string }, marker: string | undefined, timeoutMs: number) {
    const p = loadProject(sampleProject({ name, workstations: [{ ...ws, lun: 1, initiatorIqn: `iqn.2026-11.test.bootchain:${ws.name}`, initramfs: 'genkernel' }] }));
    if (!p.ok) throw new Error(JSON.stringify(p.errors));
    const streamed: string[] = [];
    const r = await vmBootJob(
      { project: p.value, secrets: {}, station: ws.name, network: { kind: 'user' }, timeoutMs, until: marker ? new RegExp(marker) : undefined },
      { signal: new AbortController().signal, log: () => undefined, progress: () => undefined, item: (st) => streamed.push(st.id) },
    );
    process.stdout.write(`VM test boot (${label}): ${r.ended} after ${r.durationMs} ms; stages ${r.stages.map((st) => `${st.id}@${st.atMs}`).join(' ')}; iPXE: ${(r.ipxe ?? []).map((x) => x.what).join(' / ')}\n`);
    if (r.reached !== 'booted') printConsoleTail(r.console);
    return { r, streamed };
  }

  it('VM test boot, user-mode dry run: QEMU\'s own DHCP/TFTP serve the project\'s files, the LUN boots', { timeout: 180000 }, async () => {
    const { r, streamed } = await dryRunBoot('user-mode', 'vmdry', { name: 'vm2', mac: '52:54:00:b0:07:02', firmware: 'bios', target: lab!.iscsi.targets.boot }, BOOT_MARKER, 150000);
    expect(r.ended).toBe('marker');
    expect(r.reached).toBe('booted');
    expect(streamed).toContain('sanboot');
    expect(r.console).toContain('52-54-00-b0-07-02.ipxe');
    // Ticked from the console's own lines: DHCP by iPXE's "... ok", not by its start.
    expect(r.stages.find((st) => st.id === 'dhcp')?.line).toMatch(/^Configuring \(net0 52:54:00:b0:07:02\)\.* ok$/);
    // The console shown is text: SeaBIOS's and iPXE's escape codes are gone.
    expect(r.console).not.toMatch(/\x1b/);
    // No build: QEMU's NIC ROM (Debian's ipxe-qemu) ran the scripts.
    expect((r.ipxe ?? []).map((x) => x.kind)).toEqual(['nic-rom']);
  });

  it('VM test boot, UEFI (OVMF), user-mode dry run: the firmware boots \\EFI\\BOOT\\BOOTX64.EFI from the LUN', { timeout: 180000 }, async (ctx) => {
    const L = lab!;
    const skip = L.iscsi.uefiBootMissing ? `the lab has no UEFI boot LUN: ${L.iscsi.uefiBootMissing}` : !findOvmf() ? 'OVMF is not installed (Debian: ovmf)' : undefined;
    if (skip) {
      process.stdout.write(`SKIP nobuild.int.test.ts UEFI boot: ${skip}\n`);
      return ctx.skip();
    }
    // As the app runs it: no marker given. GRUB on the LUN prints its line and halts, so QEMU
    // exits about 2 s after the SAN boot: the verdict comes from the whole console.
    const { r } = await dryRunBoot('UEFI, user-mode', 'vmuefi', { name: 'vm4', mac: '52:54:00:b0:07:04', firmware: 'uefi', target: L.iscsi.targets.uefiBoot }, undefined, 170000);
    expect(r.reached).toBe('booted');
    expect(r.stages.map((st) => st.id)).toEqual(['firmware', 'ipxe', 'dhcp', 'script', 'sanboot', 'booted']);
    expect(r.stages.find((st) => st.id === 'booted')?.line).not.toBe('(implied)');
    expect(r.console).toContain(UEFI_BOOT_MARKER);
    expect(r.console).not.toMatch(/\x1b/);
    expect(r.console).toContain('52-54-00-b0-07-04.ipxe');
    expect((r.ipxe ?? []).map((x) => x.kind)).toEqual(['nic-rom']);
  });

  it('VM test boot where no DHCP server answers: DHCP is not ticked, the run stops there with iPXE\'s own line', { timeout: 180000 }, async () => {
    // On the lab bridge nobody answers 52:54:00:b0:07:05 (the lab router ignores test VMs' MACs).
    const boot = await bootInLab(lab!, { mac: '52:54:00:b0:07:05', until: undefined, timeoutMs: 150000, tap: 'tapvm5' });
    const r = boot.result;
    process.stdout.write(`VM test boot (no DHCP answer): ${r.ended} after ${r.durationMs} ms; stages ${r.stages.map((st) => `${st.id}@${st.atMs}`).join(' ')}; stopped at ${r.failure?.stage}: ${r.failure?.line}\n`);
    expect(r.stages.map((st) => st.id)).toEqual(['firmware', 'ipxe']);
    expect(r.failure?.stage).toBe('dhcp');
    expect(r.failure?.line).toMatch(/^Configuring \(net0 52:54:00:b0:07:05\)\.* No configuration methods succeeded/);
    expect(r.ended).toBe('failed');
  });

  it("boots through Bootchain's own TFTP, HTTP and proxyDHCP, beside a DHCP server that only gives addresses", { timeout: 180000 }, async () => {
    const L = lab!;
    const mac = '52:54:00:b0:07:03';
    const srvIp = '10.77.0.50';
    const p = loadProject(
      sampleProject({
        name: 'served',
        router: { kind: 'dnsmasq', rootPath: '', subnet: { cidr: L.subnet, rangeStart: '10.77.0.171', rangeEnd: '10.77.0.175', interface: 'eth0' } },
        workstations: [{ name: 'vm3', mac, firmware: 'bios', target: L.iscsi.targets.boot, lun: 1, initiatorIqn: 'iqn.2026-11.test.bootchain:vm3', initramfs: 'genkernel' }],
      }),
    );
    if (!p.ok) throw new Error(JSON.stringify(p.errors));
    const g = generateArtifacts(p.value, {});
    if (!g.ok) throw new Error(JSON.stringify(g.errors));
    const root = path.join(L.dir, 'served-root');
    mkdirSync(root, { recursive: true });
    for (const f of ['default.ipxe', '52-54-00-b0-07-03.ipxe']) writeFileSync(path.join(root, f), g.files[f]!);
    copyFileSync('/usr/lib/ipxe/undionly.kpxe', path.join(root, 'undionly.kpxe'));
    // The LAN's DHCP server: addresses only, no PXE options at all.
    const dconf = path.join(L.dir, 'addr-only.conf');
    writeFileSync(dconf, ['interface=eth0', 'dhcp-range=10.77.0.171,10.77.0.175,255.255.255.0,1h', 'no-ping', `dhcp-host=${mac}`, 'dhcp-ignore=tag:!known', ''].join('\n'));
    const dhcp = await addLabHost(L, 'addr', ['10.77.0.44']);
    const srv = await addLabHost(L, 'srv', [srvIp]);
    try {
      dhcp.daemon('dnsmasq', '/usr/sbin/dnsmasq', ['--keep-in-foreground', `--conf-file=${dconf}`, '--port=0', '--user=root', `--dhcp-leasefile=${path.join(L.dir, 'addr.leases')}`]);
      // --project: proxyDHCP answers only this project's workstation (other tests' clients run beside it).
      const projectFile = path.join(L.dir, 'served-project.json');
      writeFileSync(projectFile, JSON.stringify(p.value));
      srv.daemon('serve', process.execPath, [CLI, 'serve', '--root', root, '--address', srvIp, '--proxy-dhcp', 'eth0', '--http', '8080', '--project', projectFile, '--json']);
      const log = path.join(L.dir, 'srv-serve.log');
      const t0 = Date.now();
      while (!(existsSync(log) && readFileSync(log, 'utf8').includes('"listening"')) && Date.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 100));
      const boot = await bootInLab(L, { mac, until: new RegExp(BOOT_MARKER), timeoutMs: 150000, tap: 'tapvm3' });
      const events = readFileSync(log, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { kind: string; status: string; file?: string; client: string });
      process.stdout.write(`boot through Bootchain's server: marker ${boot.found ? 'reached' : 'NOT reached'} after ${boot.ms} ms; ${events.filter((e) => e.status === 'answered' || e.status === 'done').map((e) => `${e.kind} ${e.status} ${e.file ?? ''}`).join('; ')}\n`);
      if (!boot.found) printConsoleTail(boot.output);
      expect(boot.found).toBe(true);
      // QEMU's NIC ROM is itself a stock iPXE: it gets the script over HTTP (no option 17, no loop).
      expect(events.some((e) => e.kind === 'proxydhcp' && e.status === 'answered' && e.file === `http://${srvIp}:8080/default.ipxe`)).toBe(true);
      expect(events.some((e) => e.kind === 'http' && e.status === 'done' && e.file === '/default.ipxe')).toBe(true);
      expect(events.some((e) => e.kind === 'http' && e.status === 'done' && e.file === '/52-54-00-b0-07-03.ipxe')).toBe(true);
      // The firmware stage (iPXE over TFTP) as a PXE ROM would fetch it, from the same server.
      const fw = await tftpGet(srvIp, 'undionly.kpxe', { blksize: 1432 });
      expect(fw.data.equals(readFileSync('/usr/lib/ipxe/undionly.kpxe'))).toBe(true);
    } finally {
      await srv.remove();
      await dhcp.remove();
    }
  });
});
