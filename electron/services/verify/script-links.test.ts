import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateArtifacts } from '../../../shared/gen/artifacts';
import { SAMPLE_SECRETS, sampleProject } from '../../../shared/gen/fixtures';
import { loadProject, type ProjectInput } from '../../../shared/model/project';
import { TftpServer } from '../bootserver/tftp-server';
import { defaultLink, embeddedLink } from './script-links';
import { stationLink } from './station-link';
import { startWalk, type VerifyOptions, type Walk } from './walk';

// The script links alone — embedded script, default.ipxe, per-MAC script — against a real TFTP
// server (Bootchain's own, on 127.0.0.1 at a port of its choosing) serving the files the project
// generates. DHCP is not probed: iPXE's answer is the generated config's (as when UDP 68 is not
// allowed), so no network beyond loopback is needed. The binary is set on the walk as the
// boot-file link would have left it: a stand-in iPXE, with or without an embedded script.
const project = (over: Partial<ProjectInput> = {}) => {
  const r = loadProject(sampleProject(over));
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
};
const files = (over: Partial<ProjectInput> = {}) => {
  const g = generateArtifacts(project(over), SAMPLE_SECRETS);
  if (!g.ok) throw new Error('generate');
  return g.files;
};
const stockIpxe = Buffer.from('\0iPXE 1.21.1+\0http://ipxe.org/%08x\0');
/** iPXE with `script` embedded as .incbin lays it out: no terminator, data right after it. */
const withScript = (script: string) => Buffer.concat([stockIpxe, Buffer.from(script, 'latin1'), Buffer.from([0, 0x8b, 0x45])]);

const servers: TftpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});
/** A TFTP root holding `served` (name -> text), and a walk for `station` pointed at it. */
async function walkServing(served: Record<string, string>, bin: Buffer, station: 'ws1' | 'ws2' = 'ws1', o: Partial<VerifyOptions> = {}): Promise<Walk> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'bc-verify-scripts-'));
  for (const [name, text] of Object.entries(served)) writeFileSync(path.join(root, name), text);
  const s = new TftpServer({ root, address: '127.0.0.1', port: 0 });
  servers.push(s);
  const w = startWalk(project(), SAMPLE_SECRETS, station, { dhcp: false, dhcpWaitMs: 0, ...o });
  w.nextServer = '127.0.0.1';
  w.tftpPort = (await s.start()).port;
  w.bin = bin;
  return w;
}
const WS1 = '52-54-00-12-34-56.ipxe';
const pick = (f: Record<string, string>, ...names: string[]) => Object.fromEntries(names.map((n) => [n, f[n]!]));

describe('script links alone, against a real TFTP server', () => {
  it("stock iPXE: the generated config gives it default.ipxe, which finds the per-MAC script's sanboot", async () => {
    const f = files();
    const w = await walkServing(pick(f, 'default.ipxe', WS1), stockIpxe);
    expect(await embeddedLink(w)).toBe(true);
    expect(w.links.get('embedded')).toMatchObject({ status: 'pass', summary: 'Stock iPXE: DHCP gives iPXE a script instead of iPXE again (no loop)' });
    expect(w.links.get('embedded')!.evidence[0]).toBe('DHCP not probed: assumed the generated config (iPXE gets default.ipxe)');
    expect(defaultLink(w)).toBe(true);
    expect(w.links.get('default')).toMatchObject({ status: 'pass', summary: `tftp://127.0.0.1:${w.tftpPort}/default.ipxe ran and looked for ${WS1}` });
    expect(await stationLink(w)).toBe(true);
    expect(w.links.get('station')).toMatchObject({ status: 'pass', summary: `tftp://127.0.0.1:${w.tftpPort}/${WS1} boots iscsi:10.77.0.20:::1:iqn.2026-11.test.bootchain.lab:ws1` });
    expect(w.links.get('station')!.evidence.slice(1)).toEqual(['initiator-iqn iqn.2026-11.test.bootchain:ws1-525400123456', 'CHAP user (none)']);
    expect(w.sanboot?.uris).toEqual(['iscsi:10.77.0.20:::1:iqn.2026-11.test.bootchain.lab:ws1']);
  });

  it("the project's embedded script passes; one built for another user-class is told apart", async () => {
    const f = files();
    const w = await walkServing(pick(f, 'default.ipxe', WS1), withScript(f['embed.ipxe']!));
    await embeddedLink(w);
    expect(w.embeddedScript).toBe(f['embed.ipxe']);
    expect(w.links.get('embedded')).toMatchObject({ status: 'pass', summary: "The embedded script is the project's and gets past DHCP" });

    const stale = files({ boot: { biosFile: 'undionly.kpxe', uefiFile: 'snponly.efi', userClass: 'older' } })['embed.ipxe']!;
    const w2 = await walkServing(pick(f, 'default.ipxe', WS1), withScript(stale));
    await embeddedLink(w2);
    expect(w2.links.get('embedded')).toMatchObject({ status: 'warn', summary: "The embedded script differs from the project's", fix: expect.stringMatching(/^Build again/) });
  });

  it('no default.ipxe in the TFTP root fails default.ipxe and skips the rest', async () => {
    const f = files();
    const w = await walkServing(pick(f, WS1), withScript(f['embed.ipxe']!));
    await embeddedLink(w);
    expect(defaultLink(w)).toBe(false);
    expect(w.links.get('default')).toMatchObject({ status: 'fail', summary: expect.stringMatching(new RegExp(`^default\\.ipxe could not be loaded from tftp://127\\.0\\.0\\.1:${w.tftpPort}/default\\.ipxe: `)), fix: 'Upload default.ipxe into the TFTP root (Upload step).' });
    expect(w.links.get('station')).toMatchObject({ status: 'skip', summary: 'not reached: default.ipxe is missing' });
  });

  it('a per-MAC script uploaded under another spelling is found beside it and named in the fix', async () => {
    const f = files();
    const WS2 = '52-54-00-ab-cd-ef.ipxe';
    const UPPER = '52-54-00-AB-CD-EF.ipxe';
    const w = await walkServing({ 'default.ipxe': f['default.ipxe']!, [UPPER]: f[WS2]! }, stockIpxe, 'ws2');
    await embeddedLink(w);
    defaultLink(w);
    expect(await stationLink(w)).toBe(false);
    const l = w.links.get('station')!;
    expect(l).toMatchObject({ status: 'fail', summary: `${WS2} is missing, but ${UPPER} is there`, fix: expect.stringMatching(/^iPXE asks for the lower-case, hyphenated name: rename 52-54-00-AB-CD-EF\.ipxe to 52-54-00-ab-cd-ef\.ipxe/) });
    expect(l.evidence.at(-1)).toBe(`looked for other spellings in tftp://127.0.0.1:${w.tftpPort}/: ${UPPER}`);
    expect(w.links.get('portal')).toMatchObject({ status: 'skip', summary: 'not reached: no per-MAC script' });
  });

  it('a secret that only a served script sets is redacted from every link made after the scripts ran', async () => {
    const f = files();
    const seen: string[] = [];
    const served = f[WS1]!.replace('sanboot ', 'set username ws1-user\nset password Older-Secret-77\necho CHAP is ${password}\nsanboot ');
    const w = await walkServing({ 'default.ipxe': f['default.ipxe']!, [WS1]: served }, stockIpxe, 'ws1', { onLink: (l) => seen.push(JSON.stringify(l)), log: (l) => seen.push(l) });
    await embeddedLink(w);
    defaultLink(w);
    await stationLink(w);
    const all = JSON.stringify([...w.links.values()]);
    expect(all).toContain('echo: CHAP is [redacted]');
    expect(all + seen.join('')).not.toContain('Older-Secret-77');
    // The walk itself keeps it: the target link logs in with it.
    expect(w.sanboot?.settings.password).toBe('Older-Secret-77');
  });
});
