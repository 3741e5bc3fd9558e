import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_SECRETS, sampleProject } from '../../../shared/gen/fixtures';
import { loadProject } from '../../../shared/model/project';
import { TftpServer } from '../bootserver/tftp-server';
import { bootfileLink } from './bootfile-link';
import { startWalk, type VerifyOptions } from './walk';

// The boot-file link alone, against a real TFTP server: Bootchain's own (bootserver/tftp-server)
// on 127.0.0.1 at a port of its choosing, the walk pointed at it as DHCP would point the firmware
// at next-server. The binaries are stand-ins: iPXE is told by its ipxe.org error URLs and its
// version string, which is all the link reads besides the sha256.
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const ipxe = Buffer.concat([Buffer.alloc(512, 0x90), Buffer.from('\0iPXE 1.21.1+ (g4bd064d)\0http://ipxe.org/%08x\0'), Buffer.alloc(2048, 7)]);
const other = Buffer.from('PXELINUX 6.04 '.repeat(200));
const root = mkdtempSync(path.join(os.tmpdir(), 'bc-verify-bootfile-'));
writeFileSync(path.join(root, 'undionly.kpxe'), ipxe);
writeFileSync(path.join(root, 'pxelinux.0'), other);
let server: TftpServer;
let port = 0;
beforeAll(async () => {
  server = new TftpServer({ root, address: '127.0.0.1', port: 0 });
  port = (await server.start()).port;
});
afterAll(() => server.stop());

const project = () => {
  const r = loadProject(sampleProject());
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
};
/** A walk for ws1 (BIOS) whose DHCP sent it to 127.0.0.1 for `file`. */
const walkTo = (file: string, o: Partial<VerifyOptions> = {}, at = port) => {
  const w = startWalk(project(), SAMPLE_SECRETS, 'ws1', { dhcp: false, dhcpWaitMs: 0, ...o });
  w.nextServer = '127.0.0.1';
  w.bootFile = file;
  w.tftpPort = at;
  return w;
};
/** A build folder whose manifest lists these artifacts. */
const buildDir = (artifacts: Array<{ file: string; sha256: string; size: number }>, raw?: string) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-verify-build-'));
  const m = { builtAt: '2026-12-01T10:00:00.000Z', engine: 'local', ipxe: { version: 'v1.21.1', source: 'stand-in' }, options: {}, artifacts: artifacts.map((a) => ({ target: `bin/${a.file}`, embeddedVerified: true, ...a })) };
  writeFileSync(path.join(dir, 'manifest.json'), raw ?? JSON.stringify(m));
  return dir;
};

describe('boot-file link alone, against a real TFTP server', () => {
  it('an iPXE the project did not build passes, naming its version; the binary is kept for the scripts', async () => {
    const w = walkTo('undionly.kpxe');
    expect(await bootfileLink(w)).toBe(true);
    expect(w.links.get('bootfile')).toMatchObject({ status: 'pass', summary: '127.0.0.1 serves undionly.kpxe (iPXE 1.21.1+, not built by this project)' });
    expect(w.links.get('bootfile')!.evidence[0]).toBe(`TFTP 127.0.0.1 undionly.kpxe: ${ipxe.length} bytes, blksize 1432, sha256 ${sha(ipxe)}`);
    expect(w.bin?.equals(ipxe)).toBe(true);
    expect(w.own).toBeUndefined();
  });

  it("a binary whose sha256 is in the build manifest is Bootchain's own build, under whatever name it is served", async () => {
    const w = walkTo('undionly.kpxe', { buildDir: buildDir([{ file: 'ipxe.pxe', sha256: sha(ipxe), size: ipxe.length }]) });
    await bootfileLink(w);
    const l = w.links.get('bootfile')!;
    expect(l).toMatchObject({ status: 'pass', summary: "127.0.0.1 serves undionly.kpxe: Bootchain's own build (ipxe.pxe, built 2026-12-01T10:00:00.000Z)" });
    expect(l.evidence).toContain('same sha256 as ipxe.pxe of the build of 2026-12-01T10:00:00.000Z');
    expect(w.own?.file).toBe('ipxe.pxe');
  });

  it('a built file of that name with another sha256 is a stale upload', async () => {
    const w = walkTo('undionly.kpxe', { buildDir: buildDir([{ file: 'undionly.kpxe', sha256: 'ab'.repeat(32), size: 99 }]) });
    await bootfileLink(w);
    expect(w.links.get('bootfile')).toMatchObject({ status: 'fail', summary: 'The TFTP server serves a different undionly.kpxe than the one built', fix: expect.stringMatching(/^Upload again/) });
    expect(w.links.get('bootfile')!.evidence).toContain(`built undionly.kpxe: 99 bytes, sha256 ${'ab'.repeat(32)}`);
  });

  it('a damaged manifest is evidence; the verdict comes from the binary', async () => {
    const w = walkTo('undionly.kpxe', { buildDir: buildDir([], '{ not json') });
    await bootfileLink(w);
    const l = w.links.get('bootfile')!;
    expect(l.status).toBe('pass');
    expect(l.evidence.some((e) => /manifest\.json is not a readable build manifest/.test(e))).toBe(true);
  });

  it('a boot file that is not iPXE warns, naming the one to serve', async () => {
    const w = walkTo('pxelinux.0');
    expect(await bootfileLink(w)).toBe(true);
    expect(w.links.get('bootfile')).toMatchObject({ status: 'warn', summary: 'pxelinux.0 is not an iPXE binary Bootchain recognises', fix: 'Serve iPXE (undionly.kpxe) as the boot file.' });
  });

  it('a missing boot file fails and stops the walk: the links after it are skipped, the kernel link is left to be checked', async () => {
    const w = walkTo('snponly.efi');
    expect(await bootfileLink(w)).toBe(false);
    expect(w.links.get('bootfile')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/^127\.0\.0\.1 has no snponly\.efi: /), fix: expect.stringMatching(/^Upload snponly\.efi into the TFTP root/) });
    expect([...w.links.keys()]).toEqual(['bootfile', 'embedded', 'default', 'station', 'portal', 'target', 'bootsector']);
    expect(w.links.get('portal')).toMatchObject({ status: 'skip', summary: 'not reached: iPXE could not be loaded' });
  });

  it('a TFTP server that never answers is told apart from a missing file', { timeout: 10_000 }, async () => {
    // A UDP socket that takes the request and says nothing, as a server behind a firewall that drops it.
    const mute = dgram.createSocket('udp4');
    await new Promise<void>((r) => mute.bind(0, '127.0.0.1', () => r()));
    try {
      const w = walkTo('undionly.kpxe', {}, mute.address().port);
      expect(await bootfileLink(w)).toBe(false);
      expect(w.links.get('bootfile')).toMatchObject({ status: 'fail', summary: 'The TFTP server 127.0.0.1 does not answer', fix: expect.stringMatching(/^Start the TFTP service on 127\.0\.0\.1/) });
    } finally {
      mute.close();
    }
  });
});
