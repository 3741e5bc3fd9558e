/**
 * What the Router step offers for one router kind: the one DHCP snippet (from dhcp.ts, the same
 * text Identity generates under dhcp/), the file name to save it as, and where it goes on that
 * router, step by step. The e2e daemon checks load exactly this text.
 */
import type { Project, ProjectInput } from '../model/project';
import { loadProject, ROUTER_KINDS } from '../model/project';
import { DHCP_FILES, dhcpConfig, type DhcpDialect } from './dhcp';

export type RouterKind = (typeof ROUTER_KINDS)[number];

export const ROUTER_LABELS: Record<RouterKind, string> = {
  mikrotik: 'MikroTik RouterOS 7 (terminal or WinBox)',
  dnsmasq: 'dnsmasq or Pi-hole',
  isc: 'ISC dhcpd',
  kea: 'ISC Kea',
  openwrt: 'OpenWrt (LuCI / uci)',
};

/** Where the snippet goes, per router, as numbered steps (the Router step shows them as a list). */
export const ROUTER_PLACEMENT: Record<RouterKind, string[]> = {
  mikrotik: [
    'Terminal: open a RouterOS terminal (SSH, or WinBox → New Terminal) and paste the lines.',
    'Or WinBox: drag mikrotik.rsc into Files, then run /import file=mikrotik.rsc in the terminal.',
    'The matchers attach to the DHCP server named "dhcp1": if yours has another name (IP → DHCP Server), change server=dhcp1 first.',
  ],
  dnsmasq: [
    'dnsmasq: save it as /etc/dnsmasq.d/bootchain.conf (or add conf-file=/path/to/bootchain.conf to dnsmasq.conf).',
    'Pi-hole: save it as /etc/dnsmasq.d/07-bootchain.conf with Pi-hole\'s DHCP server on (Settings → DHCP), then run pihole restartdns.',
    'Check it with dnsmasq --test, then restart dnsmasq (systemctl restart dnsmasq).',
  ],
  isc: [
    'Paste it at the top level of /etc/dhcp/dhcpd.conf, or save it as /etc/dhcp/bootchain.conf and add include "/etc/dhcp/bootchain.conf"; to dhcpd.conf.',
    'Check it with dhcpd -t -cf /etc/dhcp/dhcpd.conf, then restart the server (systemctl restart isc-dhcp-server).',
  ],
  kea: [
    'Merge "client-classes" (and the subnet, if shown) into the "Dhcp4" object of /etc/kea/kea-dhcp4.conf.',
    'Check it with kea-dhcp4 -t /etc/kea/kea-dhcp4.conf, then restart Kea (systemctl restart kea-dhcp4-server).',
  ],
  openwrt: [
    'Copy the file to the router: scp openwrt-dhcp.uci root@<router>:/tmp/',
    'On the router: uci batch < /tmp/openwrt-dhcp.uci && /etc/init.d/dnsmasq restart',
    'The new sections then show in LuCI under Network → DHCP and DNS; the file is re-applied the same way after a change.',
  ],
};

/** The dialect each router kind gets (dnsmasq-proxy is the "serve from this computer" side). */
const DIALECT: Record<RouterKind, DhcpDialect> = { mikrotik: 'mikrotik', dnsmasq: 'dnsmasq', isc: 'isc', kea: 'kea', openwrt: 'openwrt' };

export interface RouterSnippet {
  kind: RouterKind;
  file: string;
  text: string;
  where: string[];
}

/** The snippet for a valid project's own router kind (or another kind). Throws on a value the generators refuse. */
export function routerSnippet(p: Project, kind: RouterKind = p.router.kind): RouterSnippet {
  const d = DIALECT[kind];
  return { kind, file: DHCP_FILES[d], text: dhcpConfig(p, d), where: ROUTER_PLACEMENT[kind] };
}

/** The same from a draft: the snippet, or why there is none yet (in words). */
export function routerSnippetOf(draft: ProjectInput, kind?: RouterKind): { ok: true; value: RouterSnippet } | { ok: false; reason: string } {
  const r = loadProject(draft);
  if (!r.ok) return { ok: false, reason: 'Fix the highlighted values of the Identity step first: the snippet is made from them.' };
  try {
    return { ok: true, value: routerSnippet(r.value, kind) };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}
