import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateArtifacts } from '../../shared/gen/artifacts';
import { sampleProject } from '../../shared/gen/fixtures';
import { loadProject } from '../../shared/model/project';
import { BOOT_MARKER } from '../lab/disk-images';
import { addLabHost } from '../lab/lab';
import { labOrSkipReason } from '../support/lab-guard';
import { bootInLab, haveQemu } from '../support/qemu';
import { vmBootJob } from '../../electron/services/vm/job';

// No-build path (a), for real: QEMU's own NIC ROM is a stock iPXE without an embedded script.
// With the generated dnsmasq config it gets default.ipxe instead of iPXE again, follows the
// generated scripts over TFTP from the lab NAS, SAN-boots the tgtd LUN, and the LUN's boot
// sector prints a marker on COM1.
const lab = labOrSkipReason('nobuild.int.test.ts');
const why = !lab ? 'no lab' : !haveQemu() ? 'qemu-system-x86 is not installed' : undefined;
if (lab && why) process.stdout.write(`SKIP nobuild.int.test.ts: ${why}\n`);
const MAC = '52:54:00:b0:07:01';

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
    writeFileSync(conf, g.files['dhcp/dnsmasq.conf']!);
    const log = path.join(L.dir, 'nobuild-dnsmasq.log');
    rmSync(log, { force: true });
    rmSync(path.join(L.dir, 'nobuild.leases'), { force: true });
    const host = await addLabHost(L, 'dhcpb', ['10.77.0.3']);
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

  it('VM test boot, user-mode dry run: QEMU\'s own DHCP/TFTP serve the project\'s files, the LUN boots', { timeout: 180000 }, async () => {
    const L = lab!;
    const p = loadProject(
      sampleProject({
        name: 'vmdry',
        workstations: [{ name: 'vm2', mac: '52:54:00:b0:07:02', firmware: 'bios', target: L.iscsi.targets.boot, lun: 1, initiatorIqn: 'iqn.2026-11.test.bootchain:vm2', initramfs: 'genkernel' }],
      }),
    );
    if (!p.ok) throw new Error(JSON.stringify(p.errors));
    const stages: string[] = [];
    const r = await vmBootJob(
      { project: p.value, secrets: {}, station: 'vm2', network: { kind: 'user' }, timeoutMs: 150000, until: new RegExp(BOOT_MARKER) },
      { signal: new AbortController().signal, log: () => undefined, progress: () => undefined, item: (st) => stages.push(st.id) },
    );
    process.stdout.write(`VM test boot (user-mode): ${r.ended} after ${r.durationMs} ms; stages ${r.stages.map((st) => `${st.id}@${st.atMs}`).join(' ')}\n`);
    expect(r.ended).toBe('marker');
    expect(r.reached).toBe('booted');
    expect(stages).toContain('sanboot');
    expect(r.console).toContain('52-54-00-b0-07-02.ipxe');
  });
});
