import { describe, expect, it } from 'vitest';
import { loadProject, type Project } from '../model/project';
import { generateArtifacts, generateFromRaw } from './artifacts';
import { dhcpConfig } from './dhcp';
import { SAMPLE_SECRETS, sampleProject } from './fixtures';
import { buildIscsiUri, checkScriptSyntax, type IscsiUri, defaultScript, embedScript, parseIscsiUri, scriptValue, ScriptValueError, stationScript } from './ipxe';
import { checkKernelConfig, checkKernelParams, kernelParams } from './kernel';

const project = (over = {}): Project => {
  const r = loadProject(sampleProject(over));
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
};
const lookup = (ref: string) => SAMPLE_SECRETS[ref]!;

describe('iSCSI SAN URI', () => {
  it.each([
    [{ server: '10.0.0.5', target: 'iqn.2001-04.com.example:disk' }, 'iscsi:10.0.0.5::::iqn.2001-04.com.example:disk'],
    [{ server: '10.0.0.5', lun: 1, target: 'iqn.2001-04.com.example:disk' }, 'iscsi:10.0.0.5:::1:iqn.2001-04.com.example:disk'],
    [{ server: '10.0.0.5', port: 3261, lun: 0, protocol: '6', target: 'iqn.2001-04.com.example:a:b' }, 'iscsi:10.0.0.5:6:3261:0:iqn.2001-04.com.example:a:b'],
    [{ server: 'fd00::5', lun: 1, target: 'iqn.2001-04.com.example:d' }, 'iscsi:[fd00::5]:::1:iqn.2001-04.com.example:d'],
  ] as Array<[IscsiUri, string]>)('builds and parses back %j', (u, text) => {
    expect(buildIscsiUri(u)).toBe(text);
    const p = parseIscsiUri(text);
    expect(p.ok && p.value).toMatchObject({ server: u.server, target: u.target, lun: u.lun, port: u.port });
  });
  it.each(['iscsi:', 'iscsi:10.0.0.5:::iqn.x', 'iscsi::::1:iqn.2001-04.com.example:d', 'iscsi:10.0.0.5::99999::iqn.x', 'iscsi:10.0.0.5:::x:iqn.x', 'http://x'])('refuses %j', (t) =>
    expect(parseIscsiUri(t).ok).toBe(false),
  );
  it('refuses names as servers and bad targets', () => {
    expect(() => buildIscsiUri({ server: 'nas.local', target: 'iqn.2001-04.com.example:d' })).toThrow(/IP address/);
    expect(() => buildIscsiUri({ server: '10.0.0.5', target: 'iqn.2001-04.com.example:d e' })).toThrow(ScriptValueError);
    expect(() => buildIscsiUri({ server: '10.0.0.5', lun: 20000, target: 'iqn.2001-04.com.example:d' })).toThrow(/0 to 16383/);
  });
});

describe('injection-proof script values', () => {
  it.each([
    ['chapSecret', 'pass word1234', /spaces/],
    ['chapSecret', 'pass\nsanboot x', /line break/],
    ['chapSecret', 'abc${17}defgh', /expand/],
    ['chapSecret', 'abc||reboot12', /chain another/],
    ['chapSecret', 'abc&&reboot12', /chain another/],
    ['chapSecret', 'abc;reboot123', /";"/],
    ['chapSecret', 'abc#comment12', /comment/],
    ['filename', '\\EFI\\BOOT\\', /trailing/],
    ['userClass', 'boot chain', /spaces/],
    ['url', 'http://x/${17}', /expand/],
    ['iqn', 'iqn.2001-04.com.example:x"y', /not allowed/],
  ] as const)('%s refuses %j', (kind, value, re) => {
    expect(() => scriptValue(kind, value, 'f')).toThrow(re);
  });
  it('a hostile CHAP secret never reaches a script', () => {
    const p = project();
    expect(() => stationScript(p, p.workstations[1]!, 1, () => 'x${17}||shell')).toThrow(/workstations\[1\]\.chap\.secretRef/);
  });
});

describe('generated iPXE scripts', () => {
  it('embed.ipxe: user-class, DHCP retries, option 17 guard, chain, no loop', () => {
    const empty = embedScript(project());
    expect(empty).toMatch(/^#!ipxe\n/);
    expect(empty).toContain('set user-class bootchain');
    expect(empty).toContain('dhcp || dhcp || dhcp || goto dhcp_failed');
    expect(empty).toContain('isset ${17} && goto root_path_unexpected ||');
    expect(empty).toContain('chain ${17}/default.ipxe || goto chain_failed');
    expect(empty).toMatch(/shell\n$/);
    expect(checkScriptSyntax(empty)).toEqual([]);
    const withRoot = embedScript(project({ router: { kind: 'dnsmasq', rootPath: 'http://10.77.0.20/boot' } }));
    expect(withRoot).toContain('iseq ${17} http://10.77.0.20/boot || goto root_path_wrong');
    expect(checkScriptSyntax(withRoot)).toEqual([]);
  });
  it('default.ipxe: the recipe chain by ${mac:hexhyp}, a message naming the file', () => {
    const d = defaultScript();
    expect(d).toContain('chain ${17}/${mac:hexhyp}.ipxe || goto no_station');
    expect(d).toContain('no boot script for this machine: ${17}/${mac:hexhyp}.ipxe');
    expect(checkScriptSyntax(d)).toEqual([]);
  });
  it('per-MAC scripts: lower-case hyphen name, IQN, CHAP, LUN from the probe, UEFI file name', () => {
    const p = project();
    const bios = stationScript(p, p.workstations[0]!, 0, lookup);
    expect(bios.name).toBe('52-54-00-12-34-56.ipxe');
    expect(bios.text).toContain('set initiator-iqn iqn.2026-11.test.bootchain:ws1-525400123456');
    expect(bios.text).toContain('sanboot iscsi:10.77.0.20:::1:iqn.2026-11.test.bootchain.lab:ws1 || goto failed');
    expect(bios.text).not.toContain('password');
    const uefi = stationScript(p, p.workstations[1]!, 1, lookup);
    expect(uefi.name).toBe('52-54-00-ab-cd-ef.ipxe');
    expect(uefi.text).toContain('set username ws2-user\nset password Abcdefgh2345\nset reverse-username nas\nset reverse-password Zyxwvuts9876');
    expect(uefi.text).toContain('sanboot --filename \\EFI\\BOOT\\BOOTX64.EFI iscsi:10.77.0.20:::1:iqn.2026-11.test.bootchain.lab:ws2-uefi');
    for (const s of [bios, uefi]) expect(checkScriptSyntax(s.text)).toEqual([]);
  });
  it('the live watch: a stage marker per script that cannot fail the boot, failures with ${errno}, syslog and the hostname', () => {
    const p = project({ boot: { biosFile: 'undionly.kpxe', uefiFile: 'snponly.efi', userClass: 'bootchain', watch: { markers: 'http://10.77.0.10:8088', syslog: '10.77.0.10' } } });
    const mark = (m: string) => `imgfetch --timeout 2000 --name bcwatch http://10.77.0.10:8088/watch/\${mac:hexhyp}/${m} && imgfree bcwatch ||`;
    const e = embedScript(p);
    expect(e).toContain(`dhcp || dhcp || dhcp || goto dhcp_failed\n${mark('ipxe-dhcp')}`);
    expect(e).toContain(mark('fail-default?e=${errno}'));
    expect(e.split('\n')[3]).toBe('set syslog 10.77.0.10');
    const d = defaultScript(p);
    expect(d).toContain(mark('default'));
    expect(d).toContain(mark('fail-station?e=${errno}'));
    const s = stationScript(p, p.workstations[0]!, 0, lookup).text;
    expect(s).toContain(`set syslog 10.77.0.10\nset hostname ws1\n${mark('station')}`);
    expect(s).toContain(`${mark('sanboot')}\nsanboot `);
    expect(s).toMatch(/:failed\nimgfetch .*fail-sanboot\?e=\$\{errno\} && imgfree bcwatch \|\|/);
    for (const t of [e, d, s]) expect(checkScriptSyntax(t)).toEqual([]);
    // Without the watch, nothing of it.
    for (const t of [embedScript(project()), defaultScript(project()), stationScript(project(), project().workstations[0]!, 0, lookup).text]) expect(t).not.toMatch(/imgfetch|syslog|hostname/);
    // The model refuses anything but http://IPv4[:port].
    expect(() => project({ boot: { biosFile: 'undionly.kpxe', uefiFile: 'snponly.efi', userClass: 'bootchain', watch: { markers: 'http://10.0.0.1:8080/x ${17}' } } })).toThrow(/http:\/\/192\.168\.1\.10:8080/);
  });
  it('multipath, a port, keep-san, upper-case MAC input', () => {
    const p = project();
    const w = { ...p.workstations[0]!, mac: '52:54:00:AA:BB:CC', keepSan: true, portals: [{ address: '10.77.0.20', port: 3260 }, { address: '10.77.0.22', port: 3261 }] };
    const s = stationScript(p, w, 0, lookup);
    expect(s.name).toBe('52-54-00-aa-bb-cc.ipxe');
    expect(s.text).toContain('sanboot --keep iscsi:10.77.0.20:::1:iqn.2026-11.test.bootchain.lab:ws1 iscsi:10.77.0.22::3261:1:iqn.2026-11.test.bootchain.lab:ws1 || goto failed');
  });
  it('the syntax checker finds real mistakes', () => {
    expect(checkScriptSyntax('chain x')).toContain('line 1: a script must start with #!ipxe');
    expect(checkScriptSyntax('#!ipxe\ngoto nowhere')).toContain('line 2: goto nowhere has no label');
    expect(checkScriptSyntax('#!ipxe\nfrobnicate')).toContain('line 2: unknown command "frobnicate"');
    expect(checkScriptSyntax('#!ipxe\necho ${17')).toContain('line 2: unbalanced ${...}');
    expect(checkScriptSyntax('#!ipxe\necho a \\')).toContain('line 2: trailing backslash joins lines');
  });
});

describe('kernel side', () => {
  const p = project();
  it('genkernel parameters of the recipe', () => {
    const k = kernelParams(p, p.workstations[0]!, 0, lookup);
    expect(k.params).toBe('iscsi_target=iqn.2026-11.test.bootchain.lab:ws1 iscsi_address=10.77.0.20 iscsi_initiatorname=iqn.2026-11.test.bootchain:ws1-525400123456 ip=dhcp');
    expect(k.hint).toMatch(/genkernel --iscsi/);
    expect(checkKernelParams(k.params, { address: '10.77.0.20', initiator: 'iqn.2026-11.test.bootchain:ws1-525400123456' })).toEqual([]);
  });
  it('dracut and initramfs-tools, CHAP with a warning', () => {
    const d = kernelParams(p, p.workstations[1]!, 1, lookup);
    expect(d.params).toContain('netroot=iscsi:ws2-user:Abcdefgh2345:nas:Zyxwvuts9876@10.77.0.20:::1:iqn.2026-11.test.bootchain.lab:ws2-uefi');
    expect(d.params).toContain('rd.iscsi.initiator=iqn.2026-11.test.bootchain:ws2-525400abcdef ip=dhcp');
    expect(d.warnings[0]).toMatch(/\/proc\/cmdline/);
    const t = kernelParams(p, { ...p.workstations[1]!, initramfs: 'initramfs-tools' }, 1, lookup);
    expect(t.params).toMatch(/^iscsi_initiator=\S+ iscsi_target_name=\S+ iscsi_target_ip=10\.77\.0\.20 iscsi_target_port=3260 iscsi_username=ws2-user iscsi_password=Abcdefgh2345 iscsi_in_username=nas iscsi_in_password=Zyxwvuts9876 ip=dhcp root=UUID=1234-abcd$/);
  });
  it('finds the recipe pitfalls in parameters', () => {
    expect(checkKernelParams('iscsi_target=t iscsi_address=10.0.0.5 iscsi_initiatorname=a', { address: '10.0.0.5', initiator: 'a' })).toEqual([expect.stringMatching(/no ip=dhcp/)]);
    expect(checkKernelParams('iscsi_address=nas.lan ip=dhcp', { address: '10.0.0.5', initiator: 'a' })[0]).toMatch(/is a name/);
    expect(checkKernelParams('iscsi_address=10.0.0.5 iscsi_initiatorname=b ip=dhcp', { address: '10.0.0.5', initiator: 'a' })[0]).toMatch(/differs from iPXE/);
  });
  it('checks a kernel .config: built-in, module, missing', () => {
    const cfg = ['CONFIG_SCSI=y', 'CONFIG_BLK_DEV_SD=y', 'CONFIG_ISCSI_TCP=m', 'CONFIG_SCSI_ISCSI_ATTRS=m', '# CONFIG_CRYPTO_CRC32C is not set', 'CONFIG_IP_PNP=y', 'CONFIG_IP_PNP_DHCP=m', 'CONFIG_DEFAULT_HOSTNAME="ws1"'].join('\n');
    const r = checkKernelConfig(cfg);
    const by = Object.fromEntries(r.checks.map((c) => [c.name, c]));
    expect(by.CONFIG_ISCSI_TCP).toMatchObject({ state: 'module', ok: true, note: expect.stringMatching(/genkernel --iscsi/) });
    expect(by.CONFIG_CRYPTO_CRC32C).toMatchObject({ state: 'missing', ok: false });
    expect(by.CONFIG_IP_PNP_DHCP).toMatchObject({ state: 'module', ok: false, note: expect.stringMatching(/built in/) });
    expect(r.hostname).toBe('ws1');
    expect(r.needsInitramfs).toBe(true);
  });
});

describe('all artifacts', () => {
  it('writes every file of the recipe from the model', () => {
    const r = generateFromRaw(sampleProject(), SAMPLE_SECRETS);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(Object.keys(r.files).sort()).toEqual(
      [
        '52-54-00-12-34-56.ipxe',
        '52-54-00-ab-cd-ef.ipxe',
        'autoexec.ipxe',
        'default.ipxe',
        'dhcp/dhcpd.conf',
        'dhcp/dnsmasq-proxy.conf',
        'dhcp/dnsmasq.conf',
        'dhcp/kea-dhcp4.json',
        'dhcp/mikrotik.rsc',
        'dhcp/openwrt-dhcp.uci',
        'embed.ipxe',
        'kernel/ws1.txt',
        'kernel/ws2.txt',
      ].sort(),
    );
    for (const [name, text] of Object.entries(r.files)) if (name.endsWith('.ipxe')) expect(checkScriptSyntax(text)).toEqual([]);
    // Secure Boot: the signed iPXE's autoexec.ipxe does what the embedded script does.
    expect(r.files['autoexec.ipxe']!.split('\n').slice(3)).toEqual(r.files['embed.ipxe']!.split('\n').slice(3));
  });
  it('writes nothing and names the field when anything is wrong', () => {
    const p = sampleProject();
    const bad = generateFromRaw({ ...p, workstations: [{ ...p.workstations![0]!, mac: 'zz' }] }, SAMPLE_SECRETS);
    expect(bad).toEqual({ ok: false, errors: [expect.objectContaining({ field: 'workstations[0].mac' })] });
    const noSecret = generateFromRaw(p, {});
    expect(noSecret).toMatchObject({ ok: false, errors: [{ field: 'workstations[1].chap.secretRef', message: expect.stringMatching(/no secret stored under "ws2.chap"/) }] });
    const hostile = generateArtifacts(project(), { ...SAMPLE_SECRETS, 'ws2.chap': 'ok${17}||shell' });
    expect(hostile).toMatchObject({ ok: false, errors: [{ field: 'workstations[1].chap.secretRef' }] });
  });
  it('proxy-DHCP needs the subnet', () => {
    const p = project({ router: { kind: 'dnsmasq' } });
    expect(() => dhcpConfig(p, 'dnsmasq-proxy')).toThrow(/needs your network \(like 192\.168\.1\.0\/24\): enter it in the Router step/);
  });
});
