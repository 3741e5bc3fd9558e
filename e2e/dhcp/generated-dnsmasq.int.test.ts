import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverOffers } from '../../electron/services/dhcp/client';
import { rootPathOf } from '../../electron/services/dhcp/packet';
import { dhcpConfig } from '../../shared/gen/dhcp';
import { sampleProject } from '../../shared/gen/fixtures';
import { loadProject } from '../../shared/model/project';
import { addLabHost } from '../lab/lab';
import { labOrSkipReason } from '../support/lab-guard';

// dnsmasq started with the generated config on a lab host (10.77.0.45); a virtual PXE client in
// the desk sends DISCOVERs as BIOS, UEFI, a stock iPXE and Bootchain's iPXE and reads the offers.
const lab = labOrSkipReason('generated-dnsmasq.int.test.ts');
const SERVER = '10.77.0.45';
const ROOT = 'http://10.77.0.20/boot';
let host: Awaited<ReturnType<typeof addLabHost>> | undefined;

beforeAll(async () => {
  if (!lab) return;
  const r = loadProject(sampleProject({ router: { kind: 'dnsmasq', rootPath: ROOT, subnet: { cidr: lab.subnet, rangeStart: '10.77.0.100', rangeEnd: '10.77.0.150', interface: 'eth0' } } }));
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const conf = path.join(lab.dir, 'generated-dnsmasq.conf');
  // Restricted to this test's clients: other tests' virtual workstations run beside it.
  const macs = ['01', '02', '03', '04'].map((n) => `dhcp-host=52:54:00:00:00:${n}`);
  writeFileSync(conf, `${dhcpConfig(r.value, 'dnsmasq')}\n${macs.join('\n')}\ndhcp-ignore=tag:!known\n`);
  host = await addLabHost(lab, 'gen', [SERVER]);
  host.daemon('dnsmasq', '/usr/sbin/dnsmasq', ['--keep-in-foreground', `--conf-file=${conf}`, '--port=0', '--user=root', '--log-dhcp', `--dhcp-leasefile=${path.join(lab.dir, 'gen.leases')}`, `--pid-file=${path.join(lab.dir, 'gen-dnsmasq.pid')}`]);
  await new Promise((r2) => setTimeout(r2, 500));
});
afterAll(async () => {
  await host?.remove();
});

async function offerFor(spec: Parameters<typeof discoverOffers>[0]) {
  const offers = await discoverOffers(spec, { timeoutMs: 1500 });
  const mine = offers.find((o) => o.serverId === SERVER);
  if (!mine) throw new Error(`no offer from ${SERVER}; got ${offers.map((o) => o.serverId).join(', ')}`);
  return mine;
}

describe.skipIf(!lab)('the generated dnsmasq config, live', () => {
  it('BIOS PXE firmware gets the BIOS iPXE from the NAS, no option 17', async () => {
    const o = await offerFor({ mac: '52:54:00:00:00:01', arch: 0 });
    expect(o.file).toBe('undionly.kpxe');
    expect(o.siaddr).toBe('10.77.0.20');
    expect(rootPathOf(o)).toBeUndefined();
  });
  it('UEFI firmware (arch 7 and 9) gets the UEFI iPXE', async () => {
    for (const arch of [7, 9] as const) {
      const o = await offerFor({ mac: '52:54:00:00:00:02', arch });
      expect(o.file).toBe('snponly.efi');
      expect(rootPathOf(o)).toBeUndefined();
    }
  });
  it('a stock iPXE (user-class iPXE, option 175) gets default.ipxe, not iPXE again: no loop, no option 17', async () => {
    const o = await offerFor({ mac: '52:54:00:00:00:03', arch: 0, userClass: 'iPXE', ipxe: true });
    expect(o.file).toBe('default.ipxe');
    expect(rootPathOf(o)).toBeUndefined();
  });
  it("Bootchain's iPXE (its user-class) gets option 17", async () => {
    const o = await offerFor({ mac: '52:54:00:00:00:04', arch: 7, userClass: 'bootchain', ipxe: true });
    expect(rootPathOf(o)).toBe(ROOT);
    expect(o.file).toBe('default.ipxe');
  });
});
