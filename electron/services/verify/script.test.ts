import { describe, expect, it } from 'vitest';
import { generateArtifacts } from '../../../shared/gen/artifacts';
import { SAMPLE_SECRETS, sampleProject } from '../../../shared/gen/fixtures';
import { loadProject } from '../../../shared/model/project';
import { resolveUri, runScript, type ScriptHost } from './script';

// The evaluator is pure logic over a fetcher: here the "server" is a map of URLs to the files
// Bootchain generates (the verify tests run it against the lab's real TFTP and DHCP).
const project = (over = {}) => {
  const p = loadProject(sampleProject(over));
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  const g = generateArtifacts(p.value, SAMPLE_SECRETS);
  if (!g.ok) throw new Error('generate');
  return g.files;
};
const server = (files: Record<string, string>, base = 'tftp://10.77.0.20/', offer: Record<string, string> | undefined = { 'next-server': '10.77.0.20', ip: '10.77.0.111' }): ScriptHost & { dhcpAsked: Array<string | undefined> } => {
  const dhcpAsked: Array<string | undefined> = [];
  return {
    dhcpAsked,
    fetch: async (url) => {
      const name = url.startsWith(base) ? url.slice(base.length) : undefined;
      const text = name !== undefined ? files[name] : undefined;
      return text === undefined ? { url, ok: false, error: 'file not found' } : { url, ok: true, data: Buffer.from(text) };
    },
    dhcp: async (uc) => {
      dhcpAsked.push(uc);
      return offer;
    },
  };
};
const MAC = '52:54:00:12:34:56';

describe('iPXE script evaluator', () => {
  it('walks the generated chain: embed -> default.ipxe -> per-MAC script -> sanboot with the workstation identity', async () => {
    const f = project();
    const host = server(f);
    const r = await runScript(f['embed.ipxe']!, 'tftp://10.77.0.20/undionly.kpxe', host, { mac: MAC });
    expect(r.end).toBe('sanboot');
    expect(host.dhcpAsked).toEqual(['bootchain']);
    expect(r.scripts.map((s) => s.url)).toEqual(['tftp://10.77.0.20/undionly.kpxe', 'tftp://10.77.0.20/default.ipxe', 'tftp://10.77.0.20/52-54-00-12-34-56.ipxe']);
    const sb = r.events.find((e) => e.kind === 'sanboot');
    expect(sb).toMatchObject({ uris: ['iscsi:10.77.0.20::::iqn.2026-11.test.bootchain.lab:ws1'.replace('::::', ':::1:')] });
    expect(r.settings['initiator-iqn']).toBe('iqn.2026-11.test.bootchain:ws1-525400123456');
  });

  it("the watch's stage markers: walked past without fetching them, no error, the same sanboot", async () => {
    const f = project({ boot: { biosFile: 'undionly.kpxe', uefiFile: 'snponly.efi', userClass: 'bootchain', watch: { markers: 'http://10.77.0.10:8088', syslog: '10.77.0.10' } } });
    const host = server(f);
    const asked: string[] = [];
    const fetch = host.fetch;
    host.fetch = async (u) => (asked.push(u), fetch(u));
    const r = await runScript(f['embed.ipxe']!, 'tftp://10.77.0.20/undionly.kpxe', host, { mac: MAC });
    expect(f['52-54-00-12-34-56.ipxe']).toContain('/watch/${mac:hexhyp}/station');
    expect(r.end).toBe('sanboot');
    expect(asked.filter((u) => u.includes('/watch/'))).toEqual([]);
    expect(r.events.filter((e) => e.kind === 'error')).toEqual([]);
    expect(r.settings.hostname).toBe('ws1');
  });

  it('the UEFI station with CHAP: username, password and filename reach sanboot', async () => {
    const f = project();
    const r = await runScript(f['default.ipxe']!, 'tftp://10.77.0.20/default.ipxe', server(f), { mac: '52:54:00:AB:CD:EF' });
    const sb = r.events.find((e) => e.kind === 'sanboot');
    expect(sb).toMatchObject({ filename: '\\EFI\\BOOT\\BOOTX64.EFI', settings: { username: 'ws2-user', password: SAMPLE_SECRETS['ws2.chap'], 'reverse-username': 'nas' } });
  });

  it('option 17 where none is expected: the embedded script stops in its shell, saying why', async () => {
    const f = project();
    const r = await runScript(f['embed.ipxe']!, 'tftp://10.77.0.20/undionly.kpxe', server(f, undefined, { 17: 'iscsi:10.77.0.20::::iqn.x:y', 'next-server': '10.77.0.20' }), { mac: MAC });
    expect(r.end).toBe('shell');
    expect(r.events.filter((e) => e.kind === 'echo').map((e) => (e as { text: string }).text).join('\n')).toContain('DHCP sent option 17 (root-path) = iscsi:10.77.0.20::::iqn.x:y');
  });

  it('a missing per-MAC file: the chain fails there and default.ipxe gives up in its shell', async () => {
    const f = project();
    delete f['52-54-00-12-34-56.ipxe'];
    const r = await runScript(f['default.ipxe']!, 'tftp://10.77.0.20/default.ipxe', server(f), { mac: MAC });
    expect(r.end).toBe('shell');
    expect(r.events.find((e) => e.kind === 'chain-failed')).toMatchObject({ target: 'tftp://10.77.0.20/52-54-00-12-34-56.ipxe', error: 'file not found' });
  });

  it('no DHCP answer: three tries, then the script says so', async () => {
    const f = project();
    const host = { ...server(f), dhcp: async (uc: string | undefined) => void asked.push(uc) };
    const asked: Array<string | undefined> = [];
    const r = await runScript(f['embed.ipxe']!, 'tftp://10.77.0.20/undionly.kpxe', host, { mac: MAC });
    expect(asked).toEqual(['bootchain', 'bootchain', 'bootchain']);
    expect(r.end).toBe('shell');
  });

  it('follows option 17 as a URL prefix; chaining a binary ends the walk (the loop)', async () => {
    const f = project({ router: { kind: 'dnsmasq', rootPath: 'http://10.77.0.20/boot', subnet: undefined } });
    const host: ScriptHost = {
      fetch: async (url) => (url === 'http://10.77.0.20/boot/default.ipxe' ? { url, ok: true, data: Buffer.from('#!ipxe\nchain undionly.kpxe\n') } : url.endsWith('undionly.kpxe') ? { url, ok: true, data: Buffer.alloc(70000, 1) } : { url, ok: false }),
      dhcp: async () => ({ 17: 'http://10.77.0.20/boot' }),
    };
    const r = await runScript(f['embed.ipxe']!, 'tftp://10.77.0.20/undionly.kpxe', host, { mac: MAC });
    expect(r.end).toBe('chain-binary');
    expect(r.events.find((e) => e.kind === 'chain-binary')).toMatchObject({ target: 'http://10.77.0.20/boot/undionly.kpxe' });
  });

  it('settings, iseq, isset, && and ||, goto; an endless goto loop is caught', async () => {
    const host = server({});
    const s = ['#!ipxe', 'set a ${mac:hexraw}', 'iseq ${a} 525400123456 && set ok yes || set ok no', 'isset ${nothing} || set empty yes', 'goto end', 'set ok skipped', ':end', 'exit'].join('\n');
    const r = await runScript(s, 'tftp://x/s', host, { mac: MAC });
    expect(r.settings).toMatchObject({ a: '525400123456', ok: 'yes', empty: 'yes' });
    expect(r.end).toBe('exit');
    const loop = await runScript('#!ipxe\n:top\ngoto top\n', 'tftp://x/s', host, { mac: MAC });
    expect(loop.end).toBe('error');
    const unhandled = await runScript('#!ipxe\nchain nothing.ipxe\necho never\n', 'tftp://x/s', host, { mac: MAC });
    expect(unhandled.end).toBe('error');
    expect(unhandled.events.some((e) => e.kind === 'echo')).toBe(false);
  });

  it('resolves URIs as iPXE does', () => {
    expect(resolveUri('/default.ipxe', 'tftp://10.0.0.1/undionly.kpxe')).toBe('tftp://10.0.0.1/default.ipxe');
    expect(resolveUri('x.ipxe', 'tftp://10.0.0.1/boot/default.ipxe')).toBe('tftp://10.0.0.1/boot/x.ipxe');
    expect(resolveUri('http://a/b', 'tftp://10.0.0.1/x')).toBe('http://a/b');
  });
});
