import os from 'node:os';
import { formatIPv4, parseIPv4, prefixMask } from '../../../shared/ipv4';
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
