import os from 'node:os';
import { appError, BootchainError } from '../../../shared/errors';
import { formatIPv4, parseIPv4, prefixMask, subnetBroadcast } from '../../../shared/ipv4';
import type { NetInterface } from '../../../shared/scan';

/** The machine's interfaces with their IPv4 subnets, for the scan step's subnet picker. */
export function listInterfaces(): NetInterface[] {
  const out: NetInterface[] = [];
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    if (!addrs) continue;
    const v4 = addrs.filter((a) => a.family === 'IPv4');
    if (v4.length === 0) continue;
    const first = addrs[0];
    const iface: NetInterface = { name, internal: v4.every((a) => a.internal), subnets: [] };
    if (first && first.mac !== '00:00:00:00:00:00') iface.mac = first.mac;
    for (const a of v4) {
      const ip = parseIPv4(a.address);
      if (!ip.ok || !a.cidr) continue;
      const prefix = Number(a.cidr.split('/')[1]);
      const network = formatIPv4((ip.value & prefixMask(prefix)) >>> 0);
      iface.subnets.push({ address: a.address, cidr: `${network}/${prefix}`, network, prefix });
    }
    out.push(iface);
  }
  return out;
}

/** "eth0 10.77.0.10/24, wlan0 192.168.1.5/24": the interfaces DHCP can be probed on, for hints. */
export function describeLanInterfaces(list: NetInterface[] = listInterfaces()): string {
  const lan = list.filter((i) => !i.internal && i.subnets.length > 0);
  return lan.length > 0 ? lan.map((i) => `${i.name} ${i.subnets.map((s) => `${s.address}/${s.prefix}`).join(' ')}`).join(', ') : 'none with an IPv4 address';
}

/**
 * Where DHCP broadcasts for the LAN of interface `name` go: its first IPv4 subnet's directed
 * broadcast, which leaves by that interface's own route (the limited broadcast 255.255.255.255
 * needs a default route or one of its own). Refuses a name this computer does not have.
 */
export function interfaceBroadcast(name: string, list: NetInterface[] = listInterfaces()): { name: string; address: string; broadcast: string } {
  const ni = list.find((i) => i.name === name);
  const sub = ni?.subnets[0];
  if (!ni || !sub) {
    throw new BootchainError(
      appError('INVALID_INPUT', `${ni ? `The interface "${name}" has no IPv4 address` : `There is no interface "${name}" on this computer`} (it has ${describeLanInterfaces(list)})`, {
        field: 'interface',
        hint: `Choose the interface on the workstations' network: ${describeLanInterfaces(list)}.`,
      }),
    );
  }
  return { name, address: sub.address, broadcast: subnetBroadcast(sub.address, sub.prefix) };
}
