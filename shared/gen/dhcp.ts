/**
 * DHCP server configuration for the boot chain, in five dialects. The rules are the same in each:
 * - PXE firmware (not iPXE): BIOS (option 93 = 0) gets the BIOS iPXE, x64 UEFI (93 = 7 or 9) the
 *   UEFI iPXE, from next-server = the NAS;
 * - any iPXE (user-class "iPXE" or option 175 present) gets default.ipxe instead of iPXE again,
 *   so even a stock iPXE without an embedded script cannot loop;
 * - option 17 (root-path) goes only to Bootchain's iPXE (its embedded script sets the user-class
 *   boot.userClass): an iPXE-based NIC ROM given a root-path treats it as a SAN URI and fails.
 */
import { formatIPv4, parseBlock, prefixMask } from '../ipv4';
import type { Project } from '../model/project';
import { scriptValue } from './ipxe';

export type DhcpDialect = 'mikrotik' | 'dnsmasq' | 'dnsmasq-proxy' | 'isc' | 'kea' | 'openwrt';

/** File name of each dialect under dhcp/. */
export const DHCP_FILES: Record<DhcpDialect, string> = {
  mikrotik: 'mikrotik.rsc',
  dnsmasq: 'dnsmasq.conf',
  'dnsmasq-proxy': 'dnsmasq-proxy.conf',
  isc: 'dhcpd.conf',
  kea: 'kea-dhcp4.json',
  openwrt: 'openwrt-dhcp.uci',
};

/** What every dialect needs, checked once. */
interface Plan {
  nas: string;
  bios: string;
  uefi: string;
  userClass: string;
  rootPath: string;
  subnet?: { network: string; mask: string; prefix: number; start: string; end: string; gateway?: string | undefined; dns?: string | undefined; iface: string } | undefined;
}

function plan(p: Project): Plan {
  const out: Plan = {
    nas: p.nas.address,
    bios: p.boot.biosFile,
    uefi: p.boot.uefiFile,
    userClass: scriptValue('userClass', p.boot.userClass, 'boot.userClass'),
    rootPath: scriptValue('url', p.router.rootPath, 'router.rootPath'),
  };
  const s = p.router.subnet;
  if (s) {
    const b = parseBlock(s.cidr);
    if (b.ok) {
      const prefix = Number(s.cidr.split('/')[1]);
      out.subnet = { network: formatIPv4((b.value.first & prefixMask(prefix)) >>> 0), mask: formatIPv4(prefixMask(prefix)), prefix, start: s.rangeStart, end: s.rangeEnd, gateway: s.gateway, dns: s.dns, iface: s.interface };
    }
  }
  return out;
}

const banner = (comment: string, where: string) =>
  [
    `${comment} Bootchain: DHCP for diskless iSCSI boot.`,
    `${comment} PXE firmware gets iPXE; any iPXE gets default.ipxe (no DHCP loop); option 17 goes only`,
    `${comment} to Bootchain's iPXE (user-class set by its embedded script).`,
    `${comment} Where it goes: ${where}`,
  ].join('\n');

function dnsmasq(pl: Plan, proxy: boolean): string {
  const L: string[] = [banner('#', proxy ? 'a dnsmasq beside your router, answering PXE only (proxy-DHCP); include with conf-file= or put in /etc/dnsmasq.d/' : 'your dnsmasq: include with conf-file= or put in /etc/dnsmasq.d/'), ''];
  if (proxy) {
    if (!pl.subnet) throw new Error('The proxyDHCP file needs your network (like 192.168.1.0/24): enter it in the Router step');
    L.push('# Proxy-DHCP: the router keeps handing out addresses; this only adds boot information.', `dhcp-range=${pl.subnet.network},proxy,${pl.subnet.mask}`);
  } else if (pl.subnet) {
    L.push(`interface=${pl.subnet.iface}`, `dhcp-range=${pl.subnet.start},${pl.subnet.end},${pl.subnet.mask},12h`);
    if (pl.subnet.gateway) L.push(`dhcp-option=option:router,${pl.subnet.gateway}`);
    if (pl.subnet.dns) L.push(`dhcp-option=option:dns-server,${pl.subnet.dns}`);
  }
  L.push(
    '# Answer at once (a ping before each offer delays PXE firmware).',
    'no-ping',
    '# Which client is which.',
    'dhcp-match=set:efi64,option:client-arch,7',
    'dhcp-match=set:efi64,option:client-arch,9',
    'dhcp-match=set:ipxe,175',
    'dhcp-userclass=set:ipxe,iPXE',
    `dhcp-userclass=set:bootchain,${pl.userClass}`,
  );
  if (proxy) {
    L.push(
      '# PXE firmware, by architecture (proxy-DHCP offers go through pxe-service).',
      `pxe-service=tag:!ipxe,tag:!bootchain,x86PC,"Bootchain (BIOS)",${pl.bios.replace(/\.[^.]+$/, '')},${pl.nas}`,
      `pxe-service=tag:!ipxe,tag:!bootchain,X86-64_EFI,"Bootchain (UEFI)",${pl.uefi.replace(/\.[^.]+$/, '')},${pl.nas}`,
      '# iPXE: the boot script instead of iPXE again.',
      `dhcp-boot=tag:ipxe,default.ipxe,,${pl.nas}`,
    );
  } else {
    L.push(
      '# PXE firmware, by architecture.',
      `dhcp-boot=tag:!ipxe,tag:!bootchain,tag:!efi64,${pl.bios},,${pl.nas}`,
      `dhcp-boot=tag:!ipxe,tag:!bootchain,tag:efi64,${pl.uefi},,${pl.nas}`,
      '# iPXE: the boot script instead of iPXE again.',
      `dhcp-boot=tag:ipxe,default.ipxe,,${pl.nas}`,
      `dhcp-boot=tag:bootchain,default.ipxe,,${pl.nas}`,
    );
  }
  if (pl.rootPath) L.push('# Option 17 (root-path) for Bootchain\'s iPXE only.', `dhcp-option=tag:bootchain,option:root-path,${pl.rootPath}`);
  else L.push('# Option 17 (root-path) is left out: scripts come from the TFTP server that served iPXE.');
  return `${L.join('\n')}\n`;
}

function isc(pl: Plan): string {
  const L: string[] = [banner('#', 'your ISC dhcpd.conf (include "…"; or paste at top level)'), ''];
  L.push(
    'option client-arch code 93 = unsigned integer 16;',
    'option space ipxe;',
    'option ipxe-encap-opts code 175 = encapsulate ipxe;',
    '',
    `next-server ${pl.nas};`,
    `if exists user-class and option user-class = "${pl.userClass}" {`,
    '  # Bootchain\'s iPXE.',
    '  filename "default.ipxe";',
  );
  if (pl.rootPath) L.push(`  option root-path "${pl.rootPath}";`);
  L.push(
    '} elsif option user-class = "iPXE" or exists ipxe-encap-opts {',
    '  # Any other iPXE: the script, not iPXE again.',
    '  filename "default.ipxe";',
    '} elsif option client-arch = 00:07 or option client-arch = 00:09 {',
    `  filename "${pl.uefi}";`,
    '} else {',
    `  filename "${pl.bios}";`,
    '}',
  );
  if (pl.subnet) {
    L.push('', `subnet ${pl.subnet.network} netmask ${pl.subnet.mask} {`, `  range ${pl.subnet.start} ${pl.subnet.end};`);
    if (pl.subnet.gateway) L.push(`  option routers ${pl.subnet.gateway};`);
    if (pl.subnet.dns) L.push(`  option domain-name-servers ${pl.subnet.dns};`);
    L.push('}');
  }
  return `${L.join('\n')}\n`;
}

function kea(pl: Plan): string {
  const classes: Array<Record<string, unknown>> = [
    // Kea evaluates classes in order; the first boot-file-name that applies wins per client.
    { name: 'bootchain-ipxe', test: `option[77].text == '${pl.userClass}'`, 'next-server': pl.nas, 'boot-file-name': 'default.ipxe', ...(pl.rootPath ? { 'option-data': [{ name: 'root-path', data: pl.rootPath }] } : {}) },
    { name: 'any-ipxe', test: `(option[77].text == 'iPXE' or option[175].exists) and not member('bootchain-ipxe')`, 'next-server': pl.nas, 'boot-file-name': 'default.ipxe' },
    { name: 'pxe-uefi', test: `(option[93].hex == 0x0007 or option[93].hex == 0x0009) and not member('any-ipxe') and not member('bootchain-ipxe')`, 'next-server': pl.nas, 'boot-file-name': pl.uefi },
    { name: 'pxe-bios', test: `option[93].hex == 0x0000 and not member('any-ipxe') and not member('bootchain-ipxe')`, 'next-server': pl.nas, 'boot-file-name': pl.bios },
  ];
  const dhcp4: Record<string, unknown> = {
    comment: 'Bootchain: DHCP for diskless iSCSI boot. Merge "client-classes" (and the subnet) into your kea-dhcp4.conf.',
    'client-classes': classes,
  };
  if (pl.subnet) {
    dhcp4['interfaces-config'] = { interfaces: [pl.subnet.iface] };
    dhcp4['lease-database'] = { type: 'memfile', persist: false };
    const opts: Array<Record<string, string>> = [];
    if (pl.subnet.gateway) opts.push({ name: 'routers', data: pl.subnet.gateway });
    if (pl.subnet.dns) opts.push({ name: 'domain-name-servers', data: pl.subnet.dns });
    dhcp4['subnet4'] = [{ id: 1, subnet: `${pl.subnet.network}/${pl.subnet.prefix}`, pools: [{ pool: `${pl.subnet.start} - ${pl.subnet.end}` }], ...(opts.length ? { 'option-data': opts } : {}) }];
  }
  return `${JSON.stringify({ Dhcp4: dhcp4 }, null, 2)}\n`;
}

function mikrotik(pl: Plan, serverName: string): string {
  // RouterOS 7 (/ip dhcp-server): strings in option values are s'…' (RouterOS docs, "DHCP options").
  const L: string[] = [banner('#', 'paste into a RouterOS 7 terminal, or /import file=mikrotik.rsc'), ''];
  L.push(
    '/ip dhcp-server option',
    `add code=67 name=bootchain-file-bios value="s'${pl.bios}'"`,
    `add code=67 name=bootchain-file-uefi value="s'${pl.uefi}'"`,
    `add code=67 name=bootchain-file-script value="s'default.ipxe'"`,
    `add code=66 name=bootchain-tftp-server value="s'${pl.nas}'"`,
  );
  if (pl.rootPath) L.push(`add code=17 name=bootchain-root-path value="s'${pl.rootPath}'"`);
  L.push(
    '/ip dhcp-server option sets',
    'add name=bootchain-bios options=bootchain-tftp-server,bootchain-file-bios',
    'add name=bootchain-uefi options=bootchain-tftp-server,bootchain-file-uefi',
    'add name=bootchain-any-ipxe options=bootchain-tftp-server,bootchain-file-script',
    `add name=bootchain-ours options=bootchain-tftp-server,bootchain-file-script${pl.rootPath ? ',bootchain-root-path' : ''}`,
    '/ip dhcp-server matcher',
    `add name=bootchain-ours server=${serverName} code=77 value="${pl.userClass}" option-set=bootchain-ours`,
    `add name=bootchain-any-ipxe server=${serverName} code=77 value="iPXE" option-set=bootchain-any-ipxe`,
    `add name=bootchain-uefi-7 server=${serverName} code=93 value=0x0007 option-set=bootchain-uefi`,
    `add name=bootchain-uefi-9 server=${serverName} code=93 value=0x0009 option-set=bootchain-uefi`,
    `add name=bootchain-bios server=${serverName} code=93 value=0x0000 option-set=bootchain-bios`,
  );
  if (pl.subnet) L.push('/ip dhcp-server network', `set [find address="${pl.subnet.network}/${pl.subnet.prefix}"] next-server=${pl.nas}`);
  return `${L.join('\n')}\n`;
}

function openwrt(pl: Plan): string {
  // OpenWrt /etc/config/dhcp (uci batch): match/userclass sections set dnsmasq tags,
  // boot sections set dhcp-boot, a tag section carries option 17 (OpenWrt dnsmasq docs).
  const L: string[] = [banner('#', 'on the OpenWrt router: uci batch < openwrt-dhcp.uci && /etc/init.d/dnsmasq restart'), ''];
  const sec = (name: string, type: string, opts: Array<[string, string]>, lists: Array<[string, string]> = []) => {
    L.push(`set dhcp.${name}=${type}`);
    for (const [k, v] of opts) L.push(`set dhcp.${name}.${k}='${v}'`);
    for (const [k, v] of lists) L.push(`add_list dhcp.${name}.${k}='${v}'`);
  };
  sec('bootchain_efi7', 'match', [['networkid', 'efi64'], ['match', 'option:client-arch,7']]);
  sec('bootchain_efi9', 'match', [['networkid', 'efi64'], ['match', 'option:client-arch,9']]);
  sec('bootchain_ipxe175', 'match', [['networkid', 'ipxe'], ['match', '175']]);
  sec('bootchain_ipxe_uc', 'userclass', [['networkid', 'ipxe'], ['userclass', 'iPXE']]);
  sec('bootchain_ours_uc', 'userclass', [['networkid', 'bootchain'], ['userclass', pl.userClass]]);
  sec('bootchain_boot_ipxe', 'boot', [['filename', 'default.ipxe'], ['networkid', 'ipxe'], ['serveraddress', pl.nas], ['servername', 'nas']]);
  // Two tags at once: OpenWrt passes filename through to dhcp-boot, so tags can lead it.

  sec('bootchain_boot_uefi', 'boot', [['filename', `tag:efi64,tag:!ipxe,${pl.uefi}`], ['serveraddress', pl.nas], ['servername', 'nas']]);
  sec('bootchain_boot_bios', 'boot', [['filename', `tag:!efi64,tag:!ipxe,${pl.bios}`], ['serveraddress', pl.nas], ['servername', 'nas']]);
  if (pl.rootPath) sec('bootchain', 'tag', [['force', '1']], [['dhcp_option', `17,${pl.rootPath}`]]);
  L.push('commit dhcp');
  return `${L.join('\n')}\n`;
}

/** Generates one dialect. Throws ScriptValueError or Error naming the field on a bad value. */
export function dhcpConfig(p: Project, dialect: DhcpDialect): string {
  const pl = plan(p);
  switch (dialect) {
    case 'dnsmasq':
      return dnsmasq(pl, false);
    case 'dnsmasq-proxy':
      return dnsmasq(pl, true);
    case 'isc':
      return isc(pl);
    case 'kea':
      return kea(pl);
    case 'mikrotik':
      return mikrotik(pl, p.router.dhcpServerName);
    case 'openwrt':
      return openwrt(pl);
  }
}
