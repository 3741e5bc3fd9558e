import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ServeEvent } from '../../../shared/bootserver';
import { sampleProject } from '../../../shared/gen/fixtures';
import { loadProject, type ProjectInput } from '../../../shared/model/project';
import { buildDiscover } from '../dhcp/packet';
import { BootHttpServer } from '../bootserver/http-server';
import { WatchStartInput } from '../../../shared/watch';
import { readDhcpRequest } from './dhcp-listen';
import { runWatch } from './start';
import { sanbootFailure, watchJob } from './watch-job';

describe('where a failed sanboot stopped, from the error number the script sends', () => {
  // What real boots sent in the lab (e2e/watch/watch.int.test.ts: QEMU's iPXE NIC ROM and the stock
  // snponly.efi against tgtd): the full numbers the scripts' markers carried, or the ipxe.org page
  // the run printed where only that was recorded.
  it.each([
    ['0x2c0d603b', 'san-login', 'target', /No such device \(ENODEV\) in the iSCSI session/], // target name typo
    ['410d61', 'san-login', 'target', /Initiator authentication failed/], // wrong CHAP secret
    ['0x1d852039', 'san-boot', 'bootsector', /INT 13/], // BIOS: an empty LUN
    ['7f2220', 'san-boot', 'bootsector', /efi_block/], // UEFI: an empty LUN
    [String(0x2c0d603b), 'san-login', 'target', /ENODEV/], // decimal as well
  ])('%s', (e, stage, link, text) => {
    const f = sanbootFailure(e, false);
    expect(f).toMatchObject({ stage, link });
    expect(f.text).toMatch(text);
  });
  it('the file that raised it decides over the POSIX error: ENODEV from the INT 13 boot is the boot sector', () => {
    // 0x2c852039: ENODEV (0x2c) raised in int13.c (the file of 0x1d852039 above).
    expect(sanbootFailure('0x2c852039', false)).toMatchObject({ stage: 'san-boot', link: 'bootsector' });
  });
  it('without a number: the login when the NAS saw none, the boot when it did', () => {
    expect(sanbootFailure(undefined, false)).toMatchObject({ stage: 'san-login', link: 'target' });
    expect(sanbootFailure('zz', true)).toMatchObject({ stage: 'san-boot', link: 'bootsector' });
  });
});

describe('the DHCP ear', () => {
  it("tells a firmware's request from iPXE's, and reads the requested address", () => {
    const fw = readDhcpRequest(buildDiscover({ xid: 1, mac: '52:54:00:aa:bb:cc', arch: 0 }));
    expect(fw).toMatchObject({ mac: '52:54:00:aa:bb:cc', type: 'discover', ipxe: false, vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 0 });
    expect(readDhcpRequest(buildDiscover({ xid: 2, mac: '52:54:00:aa:bb:cc', arch: 7, ipxe: true }))).toMatchObject({ ipxe: true, arch: 7 });
    // RFC 3004 option 77 with length-prefixed classes, and iPXE's plain string.
    expect(readDhcpRequest(buildDiscover({ xid: 3, mac: '52:54:00:aa:bb:cc', arch: 0, userClass: '\x04iPXE' }))).toMatchObject({ ipxe: true, userClass: 'iPXE' });
    expect(readDhcpRequest(buildDiscover({ xid: 4, mac: '52:54:00:aa:bb:cc', arch: 0, userClass: 'bootchain' }))).toMatchObject({ ipxe: true, userClass: 'bootchain' });
    const req = buildDiscover({ xid: 5, mac: '52:54:00:aa:bb:cc', arch: 0 });
    req[242] = 3; // DHCPREQUEST
    const withIp = Buffer.concat([req.subarray(0, req.length - 1), Buffer.from([50, 4, 10, 77, 0, 183, 255])]);
    expect(readDhcpRequest(withIp)).toMatchObject({ type: 'request', ip: '10.77.0.183' });
  });
  it('hostile packets: malformed ones throw (counted as dropped), replies and non-Ethernet ones are not requests', () => {
    const good = buildDiscover({ xid: 1, mac: '52:54:00:aa:bb:cc', arch: 0 });
    expect(() => readDhcpRequest(good.subarray(0, 200))).toThrow(/too short/);
    const noMagic = Buffer.from(good);
    noMagic.writeUInt32BE(0, 236);
    expect(() => readDhcpRequest(noMagic)).toThrow(/magic/);
    const runs = Buffer.concat([good.subarray(0, good.length - 1), Buffer.from([77, 200, 1, 2])]);
    expect(() => readDhcpRequest(runs)).toThrow(/runs past/);
    const reply = Buffer.from(good);
    reply[0] = 2;
    expect(readDhcpRequest(reply)).toBeUndefined();
    const ib = Buffer.from(good);
    ib[1] = 32; // InfiniBand
    expect(readDhcpRequest(ib)).toBeUndefined();
    // Binary in the user class comes out printable and bounded.
    const bin = readDhcpRequest(buildDiscover({ xid: 9, mac: '52:54:00:aa:bb:cc', arch: 0, userClass: `\x00\xff${'A'.repeat(200)}`.slice(0, 250) }));
    expect(bin?.userClass).toMatch(/^[\x20-\x7e]{1,64}$/);
  });
});

describe("the boot server's marker route", () => {
  it('answers a marker with a harmless script and reports it; refuses anything else under /watch/', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'bc-marker-'));
    const events: ServeEvent[] = [];
    const s = new BootHttpServer({ root, address: '127.0.0.1', port: 0, onEvent: (e) => events.push(e) });
    const { port } = await s.start();
    const get = (p: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: p }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        }).on('error', reject);
      });
    try {
      expect(await get('/watch/52-54-00-aa-bb-cc/station')).toEqual({ status: 200, body: '#!ipxe\n' });
      expect(await get('/watch/52-54-00-aa-bb-cc/fail-sanboot?e=0x2c0d603b')).toMatchObject({ status: 200 });
      for (const bad of ['/watch/52-54-00-aa-bb-cc/station?x=1', '/watch/../etc/passwd', '/watch/52-54-00-aa-bb/station', '/watch/52-54-00-aa-bb-cc/fail-sanboot?e=%24%7B17%7D', `/watch/52-54-00-aa-bb-cc/${'a'.repeat(40)}`]) expect((await get(bad)).status).toBe(404);
      const marks = events.filter((e) => e.status === 'marker');
      expect(marks.map((e) => [e.file, e.message])).toEqual([
        ['/watch/52-54-00-aa-bb-cc/station', undefined],
        ['/watch/52-54-00-aa-bb-cc/fail-sanboot', 'e=0x2c0d603b'],
      ]);
      expect(s.stats.markers).toBe(2);
    } finally {
      await s.stop();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

/** A watch with only a syslog receiver on a free loopback port, and a socket that sends to it as `from` would. */
async function syslogWatch(over: Partial<ProjectInput>, o: { stallMs: number; timeoutMs: number }) {
  const p = loadProject(sampleProject(over));
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  let port = 0;
  let ready!: () => void;
  const listening = new Promise<void>((r) => (ready = r));
  const job = watchJob(
    { project: p.value, stations: p.value.workstations, syslog: { address: '127.0.0.1', port: 0 }, ...o },
    {
      signal: new AbortController().signal,
      log: () => undefined,
      progress: () => undefined,
      item: (i) => {
        if (i.type !== 'source' || i.source.source !== 'syslog') return;
        port = Number(/:(\d+)$/.exec(i.source.detail)?.[1] ?? 0);
        ready();
      },
    },
  );
  await listening;
  const sock = dgram.createSocket('udp4');
  const send = (text: string) => new Promise<void>((r) => sock.send(Buffer.from(text), port, '127.0.0.1', () => r()));
  return { send, report: () => job.finally(() => sock.close()) };
}

describe("iPXE's syslog in the watch", () => {
  // Datagrams in iPXE's own format (src/net/udp/syslog.c: "<PRI>" then hostname[.domain] and a
  // space when a hostname is set, then "ipxe: " and the line), with the lines a real v2.0.0 build
  // sent in the lab (e2e/watch/syslog-built.int.test.ts): the first ones before the per-MAC
  // script's `set hostname`, the later ones named "pc.lab.test" (DHCP gave a domain).
  it('lines without a hostname wait for their sender to be named, then count with their own times; the domain is ignored; the error is decoded', { timeout: 15_000 }, async () => {
    const w = await syslogWatch({ workstations: [{ name: 'pc', mac: '52:54:00:b0:1a:03', firmware: 'bios', target: 'iqn.2026-11.test.bootchain.lab:spare', lun: 1, initiatorIqn: 'iqn.2026-11.test.bootchain:pc', initramfs: 'genkernel' }] }, { stallMs: 10_000, timeoutMs: 10_000 });
    const send = (host: string, text: string) => w.send(`<6>${host ? `${host} ` : ''}ipxe: ${text}`);
    for (const line of ['Bootchain: asking DHCP for an address...', 'Configuring (net0 52:54:00:b0:1a:03)...... ok', '/default.ipxe... ok', '/52-54-00-b0-1a-03.ipxe... ok']) await send('', line);
    await new Promise((r) => setTimeout(r, 50));
    for (const line of ['Registered SAN device 0x80', 'Booting from SAN device 0x80', 'Boot from SAN device 0x80 failed: Input/output error (https://ipxe.org/1d852039)']) await send('pc.lab.test', line);
    const r = await w.report();
    const t = r.stations[0]!;
    expect(t.stages.map((s) => [s.id, s.source, s.evidence.startsWith('(implied') ? 'implied' : 'seen'])).toEqual([
      ['dhcp', 'syslog', 'implied'],
      ['bootfile', 'syslog', 'implied'],
      ['ipxe', 'syslog', 'implied'],
      ['ipxe-dhcp', 'syslog', 'seen'],
      ['default', 'syslog', 'seen'],
      ['station', 'syslog', 'seen'],
      ['san-login', 'syslog', 'seen'],
      // No NAS source: its view of the login is not implied.
      ['san-boot', 'syslog', 'seen'],
    ]);
    // The early lines kept their own (earlier) times.
    expect(t.stages.find((s) => s.id === 'default')!.at).toBeLessThan(t.stages.find((s) => s.id === 'san-login')!.at);
    expect(t.stopped).toMatchObject({ stage: 'san-boot', link: 'bootsector', why: 'Boot from SAN device 0x80 failed: Input/output error (EIO) in the BIOS\'s SAN boot (INT 13 disk) (int13.c) (https://ipxe.org/err/1d8520)' });
    expect(r.dropped).toEqual({});
  });

  it("a NAS login line is taken from the NAS's address only", { timeout: 15_000 }, async () => {
    const station = { name: 'pc', mac: '52:54:00:b0:1a:05', firmware: 'bios', target: 'iqn.2026-11.test.bootchain.lab:spare', lun: 1, initiatorIqn: 'iqn.2026-11.test.bootchain:pc', initramfs: 'genkernel' } as const;
    const run = async (nasAddress: string) => {
      const w = await syslogWatch({ nas: { address: nasAddress, iscsiPort: 3260, tftpRoot: '/srv/tftp' }, workstations: [station] }, { stallMs: 3_000, timeoutMs: 4_000 });
      // QTS's connection-log fields (the shape parseIscsiLogin reads; QNAP's format is unconfirmed).
      await w.send('<14>Dec  2 06:00:00 nas qlogd[123]: conn log: Users: iqn.2026-11.test.bootchain:pc, Source IP: 10.77.0.183, Computer name: ---, Connection type: iSCSI, Accessed resources: iqn.2026-11.test.bootchain.lab:spare, Action: Login Fail');
      return w.report();
    };
    const forged = await run('10.77.0.20');
    expect(forged.stations[0]!.stopped).toBeUndefined();
    expect(forged.dropped['syslog:nas-line-not-from-the-nas']).toBe(1);
    const real = await run('127.0.0.1');
    expect(real.stations[0]!.stopped).toMatchObject({ stage: 'san-login', why: expect.stringMatching(/the NAS refused the login of iqn\.2026-11\.test\.bootchain:pc: Login Fail/) });
  });
});

describe('runWatch: what the input asks for', () => {
  it("syslog: false listens for no syslog even when the project's scripts send it; the markers go where the project says", { timeout: 15_000 }, async () => {
    const port = 19000 + Math.floor(Math.random() * 500);
    const p = loadProject(sampleProject({ boot: { biosFile: 'undionly.kpxe', uefiFile: 'snponly.efi', userClass: 'bootchain', watch: { markers: `http://127.0.0.1:${port}`, syslog: '127.0.0.1' } } }));
    if (!p.ok) throw new Error(JSON.stringify(p.errors));
    const stop = new AbortController();
    const r = await runWatch(p.value, WatchStartInput.parse({ project: {}, syslog: false, dhcp: false, check: false }), { secrets: {}, knownHostsFile: '/nonexistent/known_hosts', stop: stop.signal }, {
      signal: new AbortController().signal,
      log: () => undefined,
      item: () => undefined,
      progress: (x) => (x.phase.startsWith('watching') ? stop.abort() : undefined),
    });
    expect(r.ended).toBe('stopped');
    expect(r.sources.find((s) => s.source === 'syslog')?.state).toBe('off');
    expect(r.sources.find((s) => s.source === 'marker')).toMatchObject({ state: 'listening', detail: expect.stringContaining(`http://127.0.0.1:${port}/watch/`) });
  });
});
