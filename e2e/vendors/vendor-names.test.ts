import { describe, expect, it } from 'vitest';
import { runScript, type ScriptHost } from '../../electron/services/verify/script';
import { generateFromRaw } from '../../shared/gen/artifacts';
import { SAMPLE_SECRETS, sampleProject } from '../../shared/gen/fixtures';
import { checkScriptSyntax, parseIscsiUri } from '../../shared/gen/ipxe';
import { checkKernelParams, kernelParams } from '../../shared/gen/kernel';
import { normaliseIqn, sameIqn } from '../../shared/model/iqn';
import { loadProject, type Project } from '../../shared/model/project';
import { dracutParse, dracutParserMissing, netrootOf } from '../dracut/dracut-parser';
import { DAEMON_CHECKS, daemonCheck, haveDaemon } from '../support/dhcp-daemons';
import { VENDOR_NAMES } from './vendor-names';

// Vendors' own target names (sources in vendor-names.ts) through every generator and checker:
// the model, the per-MAC iPXE scripts, genkernel / dracut / initramfs-tools parameters, the DHCP
// dialects (read by the real daemons), verify's script runner and kernel-parameter check, and
// dracut's own netroot parser. Each name must arrive exactly as the target reports it.
const NAS = '10.77.0.20';
const MACS = { bios: '52:54:00:12:34:56', uefi: '52:54:00:ab:cd:ef' };

function projectFor(name: string): Project {
  const s = sampleProject();
  const r = loadProject({ ...s, workstations: s.workstations!.map((w) => ({ ...w, target: name })) });
  if (!r.ok) throw new Error(`the model refuses ${name}: ${JSON.stringify(r.errors)}`);
  return r.value;
}
/** Verify's view of the TFTP root: the generated files by URL. */
const tftp = (files: Record<string, string>): ScriptHost => ({
  fetch: async (url) => {
    const text = url.startsWith(`tftp://${NAS}/`) ? files[url.slice(`tftp://${NAS}/`.length)] : undefined;
    return text === undefined ? { url, ok: false, error: 'file not found' } : { url, ok: true, data: Buffer.from(text) };
  },
  dhcp: async () => ({ 'next-server': NAS, ip: '10.77.0.111' }),
});
const lookup = (ref: string) => SAMPLE_SECRETS[ref]!;
const dracutWhy = dracutParserMissing();

describe.each(VENDOR_NAMES)('$vendor target $name', ({ name }) => {
  const p = projectFor(name);
  const g = generateFromRaw(sampleProject({ workstations: p.workstations }), SAMPLE_SECRETS);

  it('the model keeps it and generate writes every file', () => {
    expect(p.workstations.map((w) => w.target)).toEqual([name, name]);
    expect(g).toMatchObject({ ok: true });
  });

  it('iPXE: sanboot names it exactly, and the scripts pass the syntax check', () => {
    if (!g.ok) throw new Error('generate failed');
    const bios = g.files['52-54-00-12-34-56.ipxe']!;
    const uefi = g.files['52-54-00-ab-cd-ef.ipxe']!;
    expect(bios).toContain(`sanboot iscsi:${NAS}:::1:${name} || goto failed`);
    expect(uefi).toContain(`iscsi:${NAS}:::1:${name} || goto failed`);
    expect(bios).toContain(`target ${name}`);
    for (const s of [bios, uefi]) expect(checkScriptSyntax(s)).toEqual([]);
  });

  it("verify's script runner walks embed -> default -> per-MAC script to a sanboot of this very name", async () => {
    if (!g.ok) throw new Error('generate failed');
    for (const mac of Object.values(MACS)) {
      const r = await runScript(g.files['embed.ipxe']!, `tftp://${NAS}/undionly.kpxe`, tftp(g.files), { mac });
      expect(r.end).toBe('sanboot');
      const sb = r.events.find((e) => e.kind === 'sanboot') as { uris: string[] };
      const u = parseIscsiUri(sb.uris[0]!);
      expect(u.ok && u.value).toMatchObject({ server: NAS, lun: 1, target: name });
    }
  });

  it('genkernel, dracut and initramfs-tools parameters name it exactly; verify finds no problem in them', () => {
    const params = (initramfs: 'genkernel' | 'dracut' | 'initramfs-tools') => kernelParams(p, { ...p.workstations[1]!, initramfs }, 1, lookup).params;
    expect(params('genkernel').split(' ')).toContain(`iscsi_target=${name}`);
    expect(netrootOf(params('dracut')).endsWith(`@${NAS}:::1:${name}`)).toBe(true);
    expect(params('initramfs-tools').split(' ')).toContain(`iscsi_target_name=${name}`);
    if (g.ok) expect(g.files['kernel/ws1.txt']).toContain(`iscsi_target=${name} `);
    for (const f of ['genkernel', 'dracut', 'initramfs-tools'] as const) expect(checkKernelParams(params(f), { address: NAS, initiator: p.workstations[1]!.initiatorIqn })).toEqual([]);
  });

  it.skipIf(!!dracutWhy)("dracut's own parse_iscsi_root reads the name, the LUN and the CHAP values back", async () => {
    const got = await dracutParse(netrootOf(kernelParams(p, p.workstations[1]!, 1, lookup).params));
    expect(got).toMatchObject({ rc: 0, targetName: name, lun: '1', targetIp: NAS, username: 'ws2-user', password: SAMPLE_SECRETS['ws2.chap'], inUsername: 'nas', inPassword: SAMPLE_SECRETS['ws2.chap-mutual'] });
  });

  it('compares case-insensitively (RFC 3722), but writes it as given', () => {
    expect(sameIqn(name, name.toLowerCase())).toBe(true);
    expect(sameIqn(name, name.toUpperCase())).toBe(true);
    expect(sameIqn(name, normaliseIqn(name))).toBe(true);
    expect(sameIqn(name, `${name}0`)).toBe(false);
  });
});

describe('the DHCP files of these projects pass the real daemons', () => {
  // DHCP configs carry no target name; each distinct file of the table's projects is checked once.
  const files = new Map<string, { dialect: keyof typeof DAEMON_CHECKS; text: string }>();
  for (const { name } of VENDOR_NAMES) {
    const g = generateFromRaw(sampleProject({ workstations: projectFor(name).workstations }), SAMPLE_SECRETS);
    if (!g.ok) continue; // the per-vendor tests above report it
    for (const [file, dialect] of [['dhcp/dnsmasq.conf', 'dnsmasq'], ['dhcp/dnsmasq-proxy.conf', 'dnsmasq'], ['dhcp/dhcpd.conf', 'isc'], ['dhcp/kea-dhcp4.json', 'kea']] as const) {
      files.set(`${file}\n${g.files[file]}`, { dialect, text: g.files[file]! });
    }
  }
  it.each(Object.keys(DAEMON_CHECKS) as Array<keyof typeof DAEMON_CHECKS>)('%s', async (dialect) => {
    const d = DAEMON_CHECKS[dialect];
    if (!haveDaemon(d.bin)) return;
    const mine = [...files.values()].filter((f) => f.dialect === dialect);
    expect(mine.length).toBeGreaterThan(0);
    for (const [i, f] of mine.entries()) {
      const r = await daemonCheck(d.bin, d.args, f.text, `vendor-${dialect}-${i}${dialect === 'kea' ? '.json' : '.conf'}`);
      expect(d.ok(r), r.out).toBe(true);
    }
  });
});
