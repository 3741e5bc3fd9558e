import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dhcpConfig } from '../../shared/gen/dhcp';
import { routerSnippet } from '../../shared/gen/router-snippet';
import { sampleProject } from '../../shared/gen/fixtures';
import { loadProject, type Project } from '../../shared/model/project';
import { daemonCheck as daemon, haveDaemon as have } from '../support/dhcp-daemons';

// The generated DHCP configs, loaded by their real daemons where Debian has them (dnsmasq,
// ISC dhcpd, Kea), and golden files for RouterOS and OpenWrt (no daemon runs here) checked
// line by line against their documented syntax.
const GOLDEN = path.join(import.meta.dirname, 'golden');

function project(rootPath: string): Project {
  const r = loadProject(sampleProject({ router: { kind: 'dnsmasq', rootPath, subnet: { cidr: '10.77.0.0/24', rangeStart: '10.77.0.100', rangeEnd: '10.77.0.150', gateway: '10.77.0.1', interface: 'eth0' } } }));
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}
const variants = [
  ['root-path', project('http://10.77.0.20/boot')],
  ['no root-path', project('')],
] as const;

describe.each(variants)('real daemons accept the generated config (%s)', (_name, p) => {
  it.skipIf(!have('/usr/sbin/dnsmasq'))('dnsmasq --test, normal and proxy-DHCP', async () => {
    for (const d of ['dnsmasq', 'dnsmasq-proxy'] as const) {
      const r = await daemon('/usr/sbin/dnsmasq', (f) => ['--test', '-C', f], dhcpConfig(p, d), `${d}.conf`);
      expect(r.out).toContain('syntax check OK');
      expect(r.code).toBe(0);
    }
  });
  it.skipIf(!have('/usr/sbin/dhcpd'))('ISC dhcpd -t -cf', async () => {
    const r = await daemon('/usr/sbin/dhcpd', (f) => ['-t', '-cf', f], dhcpConfig(p, 'isc'), 'dhcpd.conf');
    expect(r.out).not.toMatch(/error|expecting/i);
    expect(r.code).toBe(0);
  });
  it.skipIf(!have('/usr/sbin/kea-dhcp4'))('kea-dhcp4 -t', async () => {
    const r = await daemon('/usr/sbin/kea-dhcp4', (f) => ['-t', f], dhcpConfig(p, 'kea'), 'kea.json');
    expect(r.out).not.toMatch(/ERROR|FATAL/);
    expect(r.code).toBe(0);
  });
  it('a broken config is refused by the same check (the checks can fail)', async () => {
    if (!existsSync('/usr/sbin/dnsmasq')) return;
    const r = await daemon('/usr/sbin/dnsmasq', (f) => ['--test', '-C', f], `${dhcpConfig(p, 'dnsmasq')}dhcp-boot=tag:\n`, 'bad.conf');
    expect(r.code).not.toBe(0);
  });
});

// What the Router step shows and saves (routerSnippet, the function it renders), loaded by the
// same daemons: as a snippet (no network entered: the step's default) and with the network.
const snippetVariants = [
  ['snippet, no network', (() => {
    const r = loadProject(sampleProject({ router: { kind: 'dnsmasq', rootPath: '' } }));
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.value;
  })()],
  ['with the network and root-path', project('http://10.77.0.20/boot')],
] as const;

describe.each(snippetVariants)("real daemons accept the Router step's text (%s)", (_name, p) => {
  it.skipIf(!have('/usr/sbin/dnsmasq'))('dnsmasq --test -C (dnsmasq / Pi-hole)', async () => {
    const s = routerSnippet(p, 'dnsmasq');
    expect(s.where.join(' ')).toMatch(/\/etc\/dnsmasq\.d\//);
    const r = await daemon('/usr/sbin/dnsmasq', (f) => ['--test', '-C', f], s.text, s.file);
    expect(r.out).toContain('syntax check OK');
    expect(r.code).toBe(0);
  });
  it.skipIf(!have('/usr/sbin/dhcpd'))('ISC dhcpd -t -cf', async () => {
    const s = routerSnippet(p, 'isc');
    const r = await daemon('/usr/sbin/dhcpd', (f) => ['-t', '-cf', f], s.text, s.file);
    expect(r.out).not.toMatch(/error|expecting/i);
    expect(r.code).toBe(0);
  });
  it.skipIf(!have('/usr/sbin/kea-dhcp4'))('kea-dhcp4 -t', async () => {
    const s = routerSnippet(p, 'kea');
    const r = await daemon('/usr/sbin/kea-dhcp4', (f) => ['-t', f], s.text, s.file);
    expect(r.out).not.toMatch(/ERROR|FATAL/);
    expect(r.code).toBe(0);
  });
});

/** RouterOS 7 script syntax (RouterOS docs: /ip dhcp-server option, option sets, matcher, network). */
function checkRouterOs(text: string): string[] {
  const problems: string[] = [];
  const options = new Set<string>();
  const sets = new Set<string>();
  let menu = '';
  text.split('\n').forEach((line, i) => {
    const n = i + 1;
    if (line === '' || line.startsWith('#')) return;
    let m: RegExpExecArray | null;
    if ((m = /^\/ip dhcp-server (option|option sets|matcher|network)$/.exec(line))) menu = m[1]!;
    else if (menu === 'option' && (m = /^add code=(\d{1,3}) name=([\w-]+) value="s'([^'"\\]*)'"$/.exec(line))) {
      if (Number(m[1]) > 254) problems.push(`${n}: option code ${m[1]}`);
      options.add(m[2]!);
    } else if (menu === 'option sets' && (m = /^add name=([\w-]+) options=([\w-]+(?:,[\w-]+)*)$/.exec(line))) {
      for (const o of m[2]!.split(',')) if (!options.has(o)) problems.push(`${n}: option ${o} is not defined`);
      sets.add(m[1]!);
    } else if (menu === 'matcher' && (m = /^add name=([\w-]+) server=([\w.-]+) code=(\d{1,3}) value=("[^"]*"|0x[0-9a-f]+) option-set=([\w-]+)$/.exec(line))) {
      if (!sets.has(m[5]!)) problems.push(`${n}: option set ${m[5]} is not defined`);
    } else if (menu === 'network' && /^set \[find address="[\d.]+\/\d{1,2}"\] next-server=[\d.]+$/.test(line)) {
      // fine
    } else problems.push(`${n}: not RouterOS syntax for ${menu || 'no menu'}: ${line}`);
  });
  return problems;
}

/** OpenWrt uci batch syntax for /etc/config/dhcp sections (OpenWrt docs: dhcp). */
function checkUci(text: string): string[] {
  const problems: string[] = [];
  const allowed: Record<string, string[]> = {
    match: ['networkid', 'match', 'force'],
    userclass: ['networkid', 'userclass', 'force'],
    boot: ['filename', 'serveraddress', 'servername', 'networkid', 'force', 'dhcp_option'],
    tag: ['force', 'dhcp_option'],
  };
  const types = new Map<string, string>();
  let committed = false;
  text.split('\n').forEach((line, i) => {
    const n = i + 1;
    if (line === '' || line.startsWith('#')) return;
    let m: RegExpExecArray | null;
    if ((m = /^set dhcp\.([a-z0-9_]+)=(match|userclass|boot|tag)$/.exec(line))) types.set(m[1]!, m[2]!);
    else if ((m = /^(set|add_list) dhcp\.([a-z0-9_]+)\.([a-z_]+)='([^'\n]*)'$/.exec(line))) {
      const t = types.get(m[2]!);
      if (!t) problems.push(`${n}: section ${m[2]} used before it is created`);
      else if (!allowed[t]!.includes(m[3]!)) problems.push(`${n}: ${t} has no option ${m[3]}`);
      if (m[1] === 'add_list' && m[3] !== 'dhcp_option') problems.push(`${n}: ${m[3]} is not a list`);
    } else if (line === 'commit dhcp') committed = true;
    else problems.push(`${n}: not uci batch syntax: ${line}`);
  });
  if (!committed) problems.push('no "commit dhcp"');
  return problems;
}

describe.each([
  ['mikrotik', 'mikrotik.rsc', checkRouterOs],
  ['openwrt', 'openwrt-dhcp.uci', checkUci],
] as const)('%s golden files', (dialect, file, check) => {
  it.each(variants)('matches the golden file and its documented syntax (%s)', (name, p) => {
    const text = dhcpConfig(p, dialect);
    const golden = path.join(GOLDEN, `${name.replace(/ /g, '-')}.${file}`);
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden, text);
    expect(text).toBe(readFileSync(golden, 'utf8'));
    expect(check(text)).toEqual([]);
    if (name === 'root-path') expect(text).toContain('http://10.77.0.20/boot');
    else expect(text).not.toMatch(/code=17|'17,/);
  });
  it('the syntax check catches a broken line', () => {
    expect(check(`${dhcpConfig(variants[0][1], dialect)}add name=oops\n`).length).toBeGreaterThan(0);
  });
});
