import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BootchainError } from '../../../shared/errors';
import { screenText } from '../vm/console';
import { IpxeSyslogConsole } from './fixtures/ipxe-syslog-model';
import { parseIscsiLogin, parseSyslogLine, startSyslogReceiver, type SyslogEvent, type SyslogReceiverOptions } from './syslog';

// Every test listens on 127.0.0.1 with a port the system picks; senders are real UDP sockets on
// loopback addresses (127.0.0.x: all of 127/8 is this host's), never the machine's interfaces.
const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

async function receiver(o: Partial<SyslogReceiverOptions> = {}) {
  const ac = new AbortController();
  const r = await startSyslogReceiver({ address: '127.0.0.1', port: 0, signal: ac.signal, ...o });
  cleanup.push(() => ac.abort());
  return { r, ac };
}

async function sender(address = '127.0.0.1') {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((res) => s.bind({ address, port: 0 }, res));
  cleanup.push(() => s.close());
  return {
    send: (to: number, msg: Buffer | string) => new Promise<void>((res, rej) => s.send(typeof msg === 'string' ? Buffer.from(msg, 'latin1') : msg, to, '127.0.0.1', (e) => (e ? rej(e) : res()))),
  };
}

/** Waits until the receiver's count of received datagrams stops moving (the kernel may drop some of a flood). */
async function settled(r: { stats(): { received: number } }, want?: number) {
  let last = -1;
  let same = 0;
  while (same < 4) {
    await new Promise((res) => setTimeout(res, 40));
    const n = r.stats().received;
    if (want !== undefined && n >= want) return;
    same = n === last ? same + 1 : 0;
    last = n;
  }
}

const fixtureLines = (name: string) => screenText(readFileSync(path.join(__dirname, '..', 'vm', 'fixtures', `${name}.console`), 'latin1')).split('\n');

describe('syslog receiver: iPXE datagrams over real UDP', () => {
  it("takes a recorded boot's lines as iPXE sends them, in order, per hostname, with a monotonic time", async () => {
    const { r } = await receiver();
    const a = await sender('127.0.0.1');
    const b = await sender('127.0.0.2');
    // Two stations at once: the built iPXE's BIOS boot from .1 (hostname biosb), the empty LUN from .2 (c6).
    const ca = new IpxeSyslogConsole('biosb');
    for (const l of fixtureLines('bios-built-sanboot')) ca.write(`${l}\n`);
    const cb = new IpxeSyslogConsole('c6', 'lab');
    for (const l of fixtureLines('bios-nicrom-emptylun')) cb.write(`${l}\n`);
    for (let i = 0; i < Math.max(ca.sent.length, cb.sent.length); i++) {
      if (ca.sent[i]) await a.send(r.port, ca.sent[i]!);
      if (cb.sent[i]) await b.send(r.port, cb.sent[i]!);
    }
    await settled(r, ca.sent.length + cb.sent.length);
    const events = r.drain().filter((e): e is Extract<SyslogEvent, { kind: 'ipxe' }> => e.kind === 'ipxe');
    expect(events.length).toBe(ca.sent.length + cb.sent.length);
    const ats = events.map((e) => e.at);
    expect([...ats].sort((x, y) => x - y)).toEqual(ats);
    const byHost = (h: string) => events.filter((e) => e.hostname === h).map((e) => e.class.kind).filter((k) => k !== 'other');
    expect(byHost('biosb').slice(-3)).toEqual(['bootchain', 'san-registered', 'san-booting']);
    expect(byHost('c6.lab')).toContain('san-boot-failed');
    const failed = events.find((e) => e.class.kind === 'san-boot-failed')!;
    expect(failed.from.address).toBe('127.0.0.2');
    expect(failed.class.errors[0]?.words).toBe("Input/output error (EIO) in the BIOS's SAN boot (INT 13 disk) (int13.c)");
    const s = r.stats();
    expect(s.hostnames.biosb).toMatchObject({ lines: ca.sent.length, address: '127.0.0.1' });
    expect(s.hostnames['c6.lab']).toMatchObject({ lines: cb.sent.length, address: '127.0.0.2' });
    expect(s.sources['127.0.0.2']).toMatchObject({ received: cb.sent.length, accepted: cb.sent.length, dropped: 0 });
    expect(s.dropped).toEqual({});
  });

  it.each(['efi', 'bios'])("replays a real iPXE's datagrams (fixtures/ipxe-2.0.0-%s-syslog.ndjson) byte for byte", async (build) => {
    const { r } = await receiver();
    const a = await sender();
    const datagrams = readFileSync(path.join(__dirname, 'fixtures', `ipxe-2.0.0-${build}-syslog.ndjson`), 'utf8').trim().split('\n').map((l) => Buffer.from((JSON.parse(l) as { b64: string }).b64, 'base64'));
    for (const d of datagrams) await a.send(r.port, d);
    await settled(r, datagrams.length);
    const ev = r.drain();
    expect(ev.map((e) => e.kind === 'ipxe' && [e.hostname, e.class.kind])).toEqual([
      ['hyvm', 'bootchain'],
      ['hyvm', 'other'],
      ['hyvm', 'other'],
      ['hyvm', 'fetch-failed'],
      ['hyvm', 'fetch-failed'],
      ['hyvm', 'san-open-failed'],
      ['hyvm', 'bootchain'],
    ]);
    expect(r.stats()).toMatchObject({ received: datagrams.length, accepted: 7, dropped: {}, joining: 0 });
  });

  it('joins a long line from its 127-byte datagrams; next() and for-await read the queue', async () => {
    const { r, ac } = await receiver();
    const a = await sender();
    const long = `Bootchain: booting ws1 from ${Array.from({ length: 4 }, (_, i) => `iscsi:10.77.0.20:::${i}:iqn.2026-11.test.bootchain.lab:ws1`).join(' ')}`;
    const c = new IpxeSyslogConsole('ws1').write(`${long}\nRegistered SAN device 0x80\n`);
    expect(c.sent.length).toBeGreaterThan(2);
    for (const d of c.sent) await a.send(r.port, d);
    const first = await r.next();
    expect(first).toMatchObject({ kind: 'ipxe', text: long, parts: c.sent.length - 1, partial: false });
    const seen: string[] = [];
    setTimeout(() => ac.abort(), 50);
    for await (const e of r) if (e.kind === 'ipxe') seen.push(e.text);
    expect(seen).toEqual(['Registered SAN device 0x80']);
    expect(await r.next()).toBeUndefined();
  });

  it('hostile datagrams are counted by reason and dropped', async () => {
    const { r } = await receiver({ allow: (a) => a === '127.0.0.1', hostnames: new Set(['pc1']) });
    const ok = await sender('127.0.0.1');
    const stranger = await sender('127.0.0.9');
    const bad: Array<[string, Buffer | string]> = [
      ['too-large', Buffer.concat([Buffer.from('<6>pc1 ipxe: '), Buffer.alloc(3000, 0x41)])],
      ['binary', Buffer.concat([Buffer.from('<6>pc1 ipxe: '), Buffer.from([0x00, 0x01, 0x02, 0xff])])],
      ['invalid-utf8', Buffer.concat([Buffer.from('<6>pc1 ipxe: '), Buffer.from([0x41, 0xff, 0x41])])],
      ['no-pri', 'pc1 ipxe: Registered SAN device 0x80'],
      ['bad-pri', '<999>pc1 ipxe: x'],
      ['not-ipxe', '<13>Dec  2 03:00:00 nas kernel: something else'],
      ['unknown-source', '<6>spoofed ipxe: Booting from SAN device 0x80'], // a hostname that is no station's
      ['empty', ''],
    ];
    for (const [, d] of bad) await ok.send(r.port, d);
    await stranger.send(r.port, '<6>pc1 ipxe: Booting from SAN device 0x80'); // a known name from an unknown address
    await ok.send(r.port, '<6>pc1 ipxe: Registered SAN device 0x80');
    await settled(r, bad.length + 2);
    const s = r.stats();
    expect(s.received).toBe(bad.length + 2);
    expect(s.accepted).toBe(1);
    expect(s.dropped).toEqual({ 'too-large': 1, binary: 1, 'invalid-utf8': 1, 'no-pri': 1, 'bad-pri': 1, 'not-ipxe': 1, 'unknown-source': 2, empty: 1 });
    expect(s.sources['127.0.0.9']).toEqual({ received: 1, accepted: 0, dropped: 1 });
    expect(r.drain().map((e) => e.kind === 'ipxe' && e.text)).toEqual(['Registered SAN device 0x80']);
    expect(Object.keys(s.hostnames)).toEqual(['pc1']);
  });

  it('a flood of 100k datagrams: rate-limited per source, a capped queue and capped tables (bounded memory)', async () => {
    const queueMax = 500;
    const maxSources = 16;
    const { r } = await receiver({ queueMax, maxSources, maxHostnames: 32, rate: { perSecond: 200, burst: 400 } });
    // 90,000 from one address with changing hostnames (spoofed MAC names), 10,000 over 40 addresses.
    const one = await sender('127.0.0.1');
    const many = await Promise.all(Array.from({ length: 40 }, (_, i) => sender(`127.0.1.${i + 1}`)));
    const heapBefore = process.memoryUsage().heapUsed;
    let sent = 0;
    for (let i = 0; i < 100_000; i++) {
      const s = i % 10 === 9 ? many[Math.floor(i / 10) % 40]! : one;
      const p = s.send(r.port, `<6>pc-${i % 5000} ipxe: Configuring (net0 52:54:00:00:${(i >> 8) & 0xff}:${i & 0xff})...... ok`);
      sent++;
      // Pace the sender so the kernel's receive buffer does not drop most of it: the receiver, not the kernel, is under test.
      if (i % 50 === 49) {
        await p;
        await new Promise((res) => setImmediate(res));
      }
    }
    await settled(r);
    const s = r.stats();
    console.log(`flood: sent ${sent}, received ${s.received}, accepted ${s.accepted}, dropped ${JSON.stringify(s.dropped)}, queued ${s.queued}, sources ${Object.keys(s.sources).length}, hostnames ${Object.keys(s.hostnames).length}, heap +${((process.memoryUsage().heapUsed - heapBefore) / 1048576).toFixed(1)} MiB`);
    expect(s.received).toBeGreaterThan(50_000); // most of the flood reached the receiver, far past every cap
    expect(s.accepted + Object.values(s.dropped).reduce((x, y) => x + y, 0)).toBe(s.received); // every datagram is accounted for
    expect(s.dropped['rate-limited']).toBeGreaterThan(0);
    expect(s.queued).toBeLessThanOrEqual(queueMax);
    expect(s.accepted).toBeLessThanOrEqual(queueMax); // nobody read: what was taken is what is queued
    expect(Object.keys(s.sources).length).toBe(maxSources); // 41 senders, the least recent forgotten
    expect(Object.keys(s.hostnames).length).toBeLessThanOrEqual(32);
    expect(s.joining).toBe(0);
    // What the receiver keeps is the queue: its lines are at most 2 KiB each.
    const kept = r.drain();
    expect(kept.length).toBe(s.queued);
    expect(kept.reduce((n, e) => n + e.text.length, 0)).toBeLessThanOrEqual(queueMax * 2048);
  }, 60_000);

  it("a station's hostname from another address is 'spoofed' and dropped", async () => {
    const { r } = await receiver({ addressOf: (h) => (h === 'pc1' ? '127.0.0.1' : undefined) });
    const real = await sender('127.0.0.1');
    const fake = await sender('127.0.0.7');
    await fake.send(r.port, '<6>pc1 ipxe: Boot from SAN device 0x80 failed: Input/output error (https://ipxe.org/1d852039)');
    await real.send(r.port, '<6>pc1 ipxe: Booting from SAN device 0x80');
    await fake.send(r.port, '<6>other ipxe: Registered SAN device 0x80'); // a name with no known address passes
    await settled(r, 3);
    expect(r.drain().map((e) => e.kind === 'ipxe' && `${e.hostname}@${e.from.address}: ${e.text}`)).toEqual(['pc1@127.0.0.1: Booting from SAN device 0x80', 'other@127.0.0.7: Registered SAN device 0x80']);
    expect(r.stats().dropped).toEqual({ spoofed: 1 });
  });
});

describe('syslog receiver: the socket', () => {
  it('aborting closes the socket: the port is free again and readers get undefined', async () => {
    const { r, ac } = await receiver();
    const pending = r.next();
    ac.abort();
    expect(await pending).toBeUndefined();
    await r.closed;
    const again = dgram.createSocket('udp4');
    await new Promise<void>((res, rej) => {
      again.once('error', rej);
      again.bind({ address: '127.0.0.1', port: r.port, exclusive: true }, res);
    });
    again.close();
  });

  it('a port in use is BUSY; a bad address INVALID_INPUT; an aborted signal CANCELLED', async () => {
    const { r } = await receiver();
    const err = await startSyslogReceiver({ address: '127.0.0.1', port: r.port, signal: new AbortController().signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BootchainError);
    expect((err as BootchainError).appError).toMatchObject({ code: 'BUSY', message: `UDP port ${r.port} on 127.0.0.1 is already in use` });
    await expect(startSyslogReceiver({ address: 'nas.local', port: 0, signal: new AbortController().signal })).rejects.toMatchObject({ appError: { code: 'INVALID_INPUT' } });
    await expect(startSyslogReceiver({ address: '127.0.0.1', port: 0, signal: AbortSignal.abort() })).rejects.toMatchObject({ appError: { code: 'CANCELLED' } });
  });

  it('port 514 without the ports grant is PERMISSION_DENIED naming cap_net_bind_service and how to grant it', () => {
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
    if (start <= 514) {
      console.log(`SKIP port 514 refusal: net.ipv4.ip_unprivileged_port_start is ${start}, so any user may bind 514 here`);
      return;
    }
    // A real refusal by the kernel: the receiver started in a child as an ordinary user (nobody, no capabilities).
    const root = path.resolve(__dirname, '../../..');
    const tsx = path.join(root, 'node_modules/tsx/dist/cli.mjs');
    const script = `import { startSyslogReceiver } from ${JSON.stringify(path.join(__dirname, 'syslog.ts'))};
startSyslogReceiver({ address: '127.0.0.1', port: 514, signal: AbortSignal.timeout(1000) }).then(() => console.log('{"bound":true}'), (e) => console.log(JSON.stringify(e.appError ?? { raw: String(e) })));`;
    const asRoot = process.getuid?.() === 0;
    if (asRoot && !existsSync('/usr/bin/setpriv')) {
      console.log('SKIP port 514 refusal: running as root and setpriv is not installed to drop to an ordinary user');
      return;
    }
    const argv = asRoot ? ['/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', process.execPath, tsx, '-e', script] : [process.execPath, tsx, '-e', script];
    const run = spawnSync(argv[0]!, argv.slice(1), { cwd: '/tmp', encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '', HOME: '/tmp', TSX_TSCONFIG_PATH: path.join(root, 'tsconfig.json') } });
    const out = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as { code?: string; message?: string; hint?: string };
    expect(out.code, run.stderr).toBe('PERMISSION_DENIED');
    expect(out.message).toBe(`Bootchain may not listen on UDP port 514 for iPXE's syslog: ${process.execPath} lacks cap_net_bind_service (the "Ports below 1024" right)`);
    expect(out.hint).toContain('bootchain privileges grant ports');
    expect(out.hint).toContain(`sudo setcap cap_net_bind_service=+ep ${process.execPath}`);
  }, 40_000);
});

describe("the NAS's iSCSI login events (QNAP; format not confirmed)", () => {
  it('reads RFC 3164 and RFC 5424 headers', () => {
    const a = parseSyslogLine(Buffer.from('<134>Dec  2 03:01:02 NAS01 qlogd[4242]: conn log: Users: iqn.1991-05.com.microsoft:pc1, Source IP: 10.77.0.50, Computer name: ---, Connection type: iSCSI, Accessed resources: iqn.2004-04.com.qnap:ts-453:iscsi.pc1.3a5f1e, Action: Login OK'));
    expect(a).toMatchObject({ ok: true, line: { format: 'rfc3164', facility: 16, severity: 6, timestamp: 'Dec  2 03:01:02', hostname: 'NAS01', app: 'qlogd' } });
    const b = parseSyslogLine(Buffer.from('<131>1 2026-12-02T03:01:02.5+01:00 nas01 qlogd 4242 - - \uFEFFiSCSI login failed: initiator iqn.2026-11.test.bootchain:pc2 target iqn.2004-04.com.qnap:ts-453:iscsi.pc2'));
    expect(b).toMatchObject({ ok: true, line: { format: 'rfc5424', severity: 3, timestamp: '2026-12-02T03:01:02.5+01:00', hostname: 'nas01', app: 'qlogd', text: 'iSCSI login failed: initiator iqn.2026-11.test.bootchain:pc2 target iqn.2004-04.com.qnap:ts-453:iscsi.pc2' } });
    expect(parseSyslogLine(Buffer.from([0x3c, 0x31, 0x3e, 0xff]))).toEqual({ ok: false, reason: 'invalid-utf8' });
  });

  it('finds the initiator, the target and the outcome', () => {
    expect(parseIscsiLogin('conn log: Users: iqn.1991-05.com.microsoft:pc1, Source IP: 10.77.0.50, Computer name: ---, Connection type: iSCSI, Accessed resources: iqn.2004-04.com.qnap:ts-453:iscsi.pc1.3a5f1e, Action: Login OK')).toEqual({
      initiator: 'iqn.1991-05.com.microsoft:pc1',
      target: 'iqn.2004-04.com.qnap:ts-453:iscsi.pc1.3a5f1e',
      ok: true,
      outcome: 'Login OK',
      sourceIp: '10.77.0.50',
    });
    expect(parseIscsiLogin('Connection type: iSCSI, Users: iqn.2026-11.test.bootchain:c6, Action: Login Fail')).toMatchObject({ initiator: 'iqn.2026-11.test.bootchain:c6', ok: false });
    expect(parseIscsiLogin('iSCSI login failed: initiator iqn.2026-11.test.bootchain:pc2 target iqn.2004-04.com.qnap:ts-453:iscsi.pc2')).toMatchObject({ initiator: 'iqn.2026-11.test.bootchain:pc2', target: 'iqn.2004-04.com.qnap:ts-453:iscsi.pc2', ok: false });
    expect(parseIscsiLogin('[Hardware Status] fan speed normal')).toBeUndefined();
    expect(parseIscsiLogin('Users: admin, Connection type: SSH, Action: Login OK')).toBeUndefined();
    expect(parseIscsiLogin('iSCSI Login OK but no IQN anywhere')).toBeUndefined();
  });

  it('arrive on the same receiver as iscsi-login events', async () => {
    const { r } = await receiver();
    const nas = await sender('127.0.0.3');
    await nas.send(r.port, '<134>Dec  2 03:01:02 NAS01 qlogd[4242]: conn log: Users: iqn.2026-11.test.bootchain:c1, Source IP: 10.77.0.50, Connection type: iSCSI, Accessed resources: iqn.2026-11.test.bootchain.lab:boot-marker, Action: Login OK');
    await nas.send(r.port, '<134>Dec  2 03:01:03 NAS01 qlogd[4242]: conn log: Users: admin, Source IP: 10.77.0.9, Connection type: HTTP, Action: Login OK');
    await settled(r, 2);
    expect(r.drain()).toEqual([expect.objectContaining({ kind: 'iscsi-login', hostname: 'NAS01', app: 'qlogd', initiator: 'iqn.2026-11.test.bootchain:c1', target: 'iqn.2026-11.test.bootchain.lab:boot-marker', ok: true, formatConfirmed: false, from: expect.objectContaining({ address: '127.0.0.3' }) })]);
    expect(r.stats().dropped).toEqual({ 'not-ipxe': 1 });
  });
});
