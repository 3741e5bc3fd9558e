/**
 * The live boot watch (issue 19): starts every event source it can — the scripts' stage markers
 * (an HTTP listener, or the serving boot server's), the boot server's own events, iPXE's syslog,
 * the DHCP broadcasts, the NAS's iSCSI sessions over SSH — turns what each sees into timeline
 * events, and streams each workstation's timeline as it changes. A boot that errs or stalls is
 * stopped at a Verify link, and that link's check runs at once for the fix. A source that cannot
 * start is said plainly and the watch goes on with the others.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Client } from 'ssh2';
import type { ServeEvent } from '../../../shared/bootserver';
import { BootchainError, fail } from '../../../shared/errors';
import { macHexhyp, parseMac } from '../../../shared/model/mac';
import type { Project, Workstation } from '../../../shared/model/project';
import type { LinkId } from '../../../shared/verify';
import { WATCH_STAGES, type StationTimeline, type WatchCheck, type WatchItem, type WatchReport, type WatchSource, type WatchSourceState, type WatchStageId } from '../../../shared/watch';
import { bootEvents, servingNow } from '../bootserver/events';
import { BootHttpServer } from '../bootserver/http-server';
import { startDhcpListener, type DhcpSeen } from './dhcp-listen';
import { decodeIpxeError, findIpxeErrors, type IpxeError } from './ipxe-errors';
import { watchSessions, type CommandRunner, type PollOptions, type SessionEvent } from './nas-sessions';
import { startSyslogReceiver, type SyslogEvent } from './syslog';
import { stageOfIpxeLine, Timeline, type WatchEvent, type WatchStation } from './timeline';

export interface WatchJobRequest {
  project: Project;
  /** The workstations watched. */
  stations: Workstation[];
  /** Receive stage markers here (the project's boot.watch.markers), unless a running boot server serves that port. */
  markers?: { address: string; port: number } | undefined;
  syslog?: { address: string; port: number } | undefined;
  /** Listen for DHCP broadcasts (port 67 unless a test gives another). */
  dhcp?: { port: number } | undefined;
  /** The NAS's sessions: a command runner on the NAS (the upload's SSH connection) and how to poll. */
  nas?: { runner: CommandRunner | Client | { connection: Client | null }; poll?: PollOptions | undefined; intervalMs?: number | undefined } | undefined;
  /** Why the NAS's sessions cannot be polled (its SSH login failed), said as the source's state. */
  nasUnavailable?: string | undefined;
  stallMs: number;
  timeoutMs: number;
  /** Verify's check of a link, run when a boot stops there. */
  check?: ((station: Workstation, link: LinkId, signal: AbortSignal) => Promise<WatchCheck | undefined>) | undefined;
  /** Aborting it ends the watch with its report (jobs:cancel ends it without one). */
  stop?: AbortSignal | undefined;
}

export interface WatchContext {
  signal: AbortSignal;
  log(line: string, level?: 'info' | 'warn' | 'error'): void;
  item(i: WatchItem): void;
  progress(p: { phase: string; done?: number; total?: number }): void;
}

/** How long a sanboot may stay quiet before it is taken to have handed the boot to the disk (markers only, no NAS). */
export const SANBOOT_QUIET_MS = 30_000;
/** How long a boot done at the SAN boot is still watched for a late failure. */
export const DONE_GRACE_MS = 10_000;
const MARKER_STAGE: Record<string, WatchStageId | undefined> = { 'ipxe-dhcp': 'ipxe-dhcp', default: 'default', station: 'station' };
/** After these stages a quiet spell is normal for longer: the OS loads its kernel over the SAN disk before it logs in itself. */
const SLOW_AFTER: WatchStageId[] = ['nas-login', 'san-login', 'san-boot'];
const ipOf = (client: string): string | undefined => /^(\d{1,3}(?:\.\d{1,3}){3})(?::\d+)?$/.exec(client.replace(/^::ffff:/, ''))?.[1];

/** An iPXE error number as a marker carries it: 0x-hex (iPXE formats ${errno} with setting_type_uint32), decimal, or an ipxe.org page code. */
export function errnoOf(e: string | undefined): IpxeError | undefined {
  if (e === undefined) return undefined;
  return /^0x[0-9a-f]{1,8}$/i.test(e) ? decodeIpxeError(parseInt(e, 16)) : /^\d{1,10}$/.test(e) ? decodeIpxeError(Number(e)) : decodeIpxeError(e);
}

/** Where a failed SAN boot stopped: the login (iscsi.c, tcp.c …) or the boot from the disk (int13.c, efi_block.c …). */
export function sanFailurePlace(d: IpxeError | undefined, nasSawLogin: boolean): { stage: WatchStageId; link: LinkId } {
  const seen = { stage: nasSawLogin ? 'san-boot' : 'san-login', link: nasSawLogin ? 'bootsector' : 'target' } as const;
  if (!d) return seen;
  // The file that raised it decides; the POSIX error only when the file is not one of the known.
  const file = d.file.name;
  if (file && ['tcp', 'arp', 'ipv4', 'netdevice'].includes(file)) return { stage: 'san-login', link: 'portal' };
  if (file && ['iscsi', 'scsi'].includes(file)) return { stage: 'san-login', link: 'target' };
  if (file) return { stage: 'san-boot', link: 'bootsector' };
  if (['ECONNREFUSED', 'ETIMEDOUT', 'ENETUNREACH', 'EHOSTUNREACH'].includes(d.posix.name)) return { stage: 'san-login', link: 'portal' };
  if (['EACCES', 'EPERM', 'ENODEV'].includes(d.posix.name)) return { stage: 'san-login', link: 'target' };
  return seen;
}

/** Where a failed sanboot stopped and why, from the error number the script's marker sent. */
export function sanbootFailure(e: string | undefined, nasSawLogin: boolean): { stage: WatchStageId; link: LinkId; text: string } {
  const d = errnoOf(e);
  return { ...sanFailurePlace(d, nasSawLogin), text: d ? `sanboot failed: ${d.words} (${d.url})` : 'sanboot failed (iPXE gave no error number)' };
}

/** Runs a watch until every station booted or stopped, the time runs out, or `stop` aborts. */
export async function watchJob(req: WatchJobRequest, ctx: WatchContext): Promise<WatchReport> {
  if (req.stations.length === 0) fail('INVALID_INPUT', 'No workstation to watch', { field: 'stations', hint: 'Add a workstation in the Identity step first.' });
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const now = () => Math.round(performance.now() - t0);
  const inner = new AbortController();
  const onCancel = () => inner.abort();
  ctx.signal.addEventListener('abort', onCancel, { once: true });
  req.stop?.addEventListener('abort', onCancel, { once: true });
  const byMac = new Map<string, Workstation>();
  for (const w of req.stations) {
    const m = parseMac(w.mac);
    if (m.ok) byMac.set(m.value, w);
  }
  const byHexhyp = new Map([...byMac].map(([m, w]) => [macHexhyp(m), w]));
  const stallAfter = Object.fromEntries(SLOW_AFTER.map((s) => [s, req.stallMs * 3]));
  const timeline = new Timeline(
    req.stations.map((w) => ({ name: w.name, mac: w.mac, initiatorIqn: w.initiatorIqn, hostname: w.name })),
    // Without the NAS's sessions polled, its view of the login is never implied (only its forwarded log lines can show it).
    { stallMs: req.stallMs, stallMsAfter: stallAfter, neverImplied: req.nas ? [] : ['nas-login'], lastStage: req.nas ? 'os-login' : 'san-boot' },
  );
  const sources: WatchSourceState[] = [];
  const dropped: Record<string, number> = {};
  const drop = (key: string) => (dropped[key] = (dropped[key] ?? 0) + 1);
  const source = (s: WatchSource, state: WatchSourceState['state'], detail: string) => {
    const x = { source: s, state, detail };
    const i = sources.findIndex((y) => y.source === s);
    if (i >= 0) sources[i] = x;
    else sources.push(x);
    ctx.item({ type: 'source', source: x });
    ctx.log(`${s}: ${state}: ${detail}`, state === 'failed' ? 'warn' : 'info');
  };
  const pending = new Set<Promise<void>>();
  /** Stations whose NAS session(s) were seen, by initiator session key: the first is iPXE's, a later one the OS's own. */
  const nasKeys = new Map<string, Set<string>>();
  const handedOver = new Map<string, NodeJS.Timeout>();
  /**
   * The first DHCP exchange of a boot is the firmware's — QEMU's and other iPXE-based NIC ROMs
   * carry iPXE's marks too — unless it has the project's user class (our iPXE's embedded script);
   * a later exchange (another transaction id) with iPXE's marks is iPXE's own.
   */
  const firstXid = new Map<string, number>();
  const dhcpStage = (s: DhcpSeen): WatchStageId => {
    if ((s.userClass ?? '').split(',').includes(req.project.boot.userClass)) return 'ipxe-dhcp';
    if (!firstXid.has(s.mac)) firstXid.set(s.mac, s.xid);
    return firstXid.get(s.mac) !== s.xid && s.ipxe ? 'ipxe-dhcp' : 'dhcp';
  };

  const publish = (t: StationTimeline) => ctx.item({ type: 'station', timeline: structuredClone(t) });
  const stopped = (t: StationTimeline) => {
    const w = req.stations.find((x) => x.name === t.station)!;
    const stage = WATCH_STAGES.find((s) => s.id === t.stopped!.stage)!;
    ctx.log(`${t.station}: stopped at ${t.stopped!.link} (${stage.what}): ${t.stopped!.why}`, 'warn');
    publish(t);
    if (!req.check) return;
    const p = req
      .check(w, t.stopped!.link, inner.signal)
      .then((c) => {
        if (c && t.stopped) {
          t.stopped.check = c;
          ctx.log(`${t.station}: Verify's check of ${c.link}: ${c.status}: ${c.summary}${c.fix ? ` — fix: ${c.fix}` : ''}`);
          publish(t);
        }
      })
      .catch((e: unknown) => ctx.log(`${t.station}: the check of ${t.stopped?.link} could not run: ${e instanceof BootchainError ? e.appError.message : String(e)}`, 'warn'))
      .finally(() => pending.delete(p));
    pending.add(p);
  };
  /**
   * Syslog lines that name no workstation yet (iPXE sends its first lines before the per-MAC
   * script's `set hostname`), by sender address: replayed in order, with their own times, once an
   * event ties that address to a workstation (a named line, a DHCP request, a marker). Bounded.
   */
  const unnamed = new Map<string, WatchEvent[]>();
  const keepUnnamed = (e: WatchEvent) => {
    if (!unnamed.has(e.ip!) && unnamed.size >= 256) return drop('syslog:unnamed-overflow');
    const list = unnamed.get(e.ip!) ?? [];
    if (list.length >= 200) return drop('syslog:unnamed-overflow');
    list.push(e);
    unnamed.set(e.ip!, list);
  };
  const add = (raw: WatchEvent) => {
    // Evidence reaches terminals and exports: control characters (ESC, C1) become "?".
    // eslint-disable-next-line no-control-regex
    const e = { ...raw, evidence: raw.evidence.replace(/[\x00-\x1f\x7f-\x9f]/g, '?').slice(0, 400) };
    const w = timeline.stationOf(e);
    if (!w && e.source === 'syslog' && e.ip && !e.initiator) return keepUnnamed(e);
    if (w && e.ip && unnamed.has(e.ip)) {
      const early = unnamed.get(e.ip)!;
      unnamed.delete(e.ip);
      for (const x of early) addNamed(x, w);
    }
    addNamed(e, w);
  };
  const addNamed = (e: WatchEvent, w: WatchStation | undefined) => {
    ctx.item({ type: 'event', at: e.at, source: e.source, station: w?.name, stage: e.stage ?? e.error?.stage, evidence: e.evidence });
    // What changed is told by three facts of the timeline before the event (no copy of it).
    const was = w ? timeline.all().find((t) => t.station === w.name) : undefined;
    const before = was && { stages: was.stages.length, stopped: !!was.stopped, done: was.done };
    const t = timeline.add(e);
    if (!t) return;
    if (t.stopped && !before?.stopped) return stopped(t);
    if (t.stages.length !== before?.stages || t.done !== before?.done) {
      const reached = t.stages.at(-1)!;
      ctx.progress({ phase: `${t.station}: ${WATCH_STAGES.find((s) => s.id === reached.id)!.what}`, done: t.stages.length, total: WATCH_STAGES.length });
      publish(t);
    }
  };

  // --- The boot server's events and the markers ------------------------------------------------
  const onMarker = (e: ServeEvent) => {
    const m = /^\/?watch\/([0-9a-f-]{17})\/([a-z-]+)$/.exec(e.file ?? '');
    if (!m) return drop('marker:malformed');
    const w = byHexhyp.get(m[1]!);
    if (!w) return drop('marker:foreign');
    const marker = m[2]!;
    const errno = /^e=(\S+)$/.exec(e.message ?? '')?.[1];
    const base = { at: now(), source: 'marker' as const, mac: w.mac, ip: ipOf(e.client) };
    const stage = MARKER_STAGE[marker];
    if (stage) return add({ ...base, stage, evidence: `the script fetched its "${marker}" marker from ${e.client}` });
    if (marker === 'sanboot') {
      add({ ...base, evidence: 'the per-MAC script starts sanboot' });
      // Nothing here can see the OS take over without the NAS's sessions: a sanboot that reports no
      // failure for a while has handed the boot to the disk (a later failure still stops it).
      if (!req.nas) {
        clearTimeout(handedOver.get(w.name));
        handedOver.set(
          w.name,
          setTimeout(() => {
            const t = timeline.all().find((x) => x.station === w.name);
            if (!t || t.stopped || t.done) return;
            add({ at: now(), source: 'marker', mac: w.mac, stage: 'san-boot', evidence: `no failure from sanboot for ${SANBOOT_QUIET_MS / 1000} s: iPXE handed the boot to the disk (without the NAS's sessions the OS's own login cannot be seen)` });
          }, SANBOOT_QUIET_MS),
        );
      }
      return;
    }
    const why = errno ? `: ${errnoOf(errno)?.words ?? errno}` : '';
    if (marker === 'fail-default') return add({ ...base, error: { stage: 'default', text: `iPXE could not load default.ipxe${why}` }, evidence: `marker ${marker} ${errno ?? ''}` });
    if (marker === 'fail-station') return add({ ...base, error: { stage: 'station', text: `iPXE found no per-MAC script ${m[1]!}.ipxe${why}` }, evidence: `marker ${marker} ${errno ?? ''}` });
    if (marker === 'fail-sanboot') {
      const f = sanbootFailure(errno, (nasKeys.get(w.name)?.size ?? 0) > 0);
      return add({ ...base, error: { stage: f.stage, link: f.link, text: f.text }, evidence: `marker ${marker} e=${errno ?? '?'}` });
    }
    drop('marker:unknown');
  };
  const onBootEvent = (e: ServeEvent) => {
    if (e.status === 'marker') return onMarker(e);
    const ip = ipOf(e.client);
    const file = (e.file ?? '').replace(/^\//, '');
    if ((e.kind === 'tftp' || e.kind === 'http') && file && (e.status === 'done' || e.status === 'failed' || e.status === 'refused')) {
      const perMac = /^([0-9a-f]{2}(?:-[0-9a-f]{2}){5})\.ipxe$/i.exec(file);
      const w = perMac ? byHexhyp.get(perMac[1]!.toLowerCase()) : undefined;
      const evidence = `${e.kind.toUpperCase()} ${file} to ${e.client}: ${e.status}${e.message ? ` (${e.message})` : ''}`;
      const ok = e.status === 'done';
      const stage: WatchStageId | undefined = file === req.project.boot.biosFile || file === req.project.boot.uefiFile ? 'bootfile' : file === 'default.ipxe' ? 'default' : perMac ? 'station' : undefined;
      if (!stage) return add({ at: now(), source: 'bootserver', ip, evidence });
      return add({ at: now(), source: 'bootserver', ip, ...(w ? { mac: w.mac } : {}), ...(ok ? { stage } : { error: { stage, text: `the boot server could not serve ${file}: ${e.message ?? e.status}` } }), evidence });
    }
    if (e.kind === 'proxydhcp' && e.status === 'answered') add({ at: now(), source: 'bootserver', ip, evidence: `proxyDHCP: ${e.message ?? 'answered'} (${e.client})` });
  };
  bootEvents.on('event', onBootEvent);
  const cleanups: Array<() => Promise<void> | void> = [() => void bootEvents.off('event', onBootEvent), () => handedOver.forEach((t) => clearTimeout(t))];
  const serving = servingNow();
  source('bootserver', serving.length ? 'listening' : 'off', serving.length ? `the built-in boot server serves on ${serving.map((s) => `${s.address} (TFTP ${s.tftpPort}${s.httpPort ? `, HTTP ${s.httpPort}` : ''}${s.proxyDhcp ? ', proxyDHCP' : ''})`).join(', ')}` : 'the built-in boot server is not serving (the NAS and the router serve): its view is not part of this watch');

  try {
    if (req.markers) {
      const { address, port } = req.markers;
      if (serving.some((s) => s.httpPort === port && (s.address === address || s.address === '0.0.0.0'))) source('marker', 'listening', `through the boot server's HTTP on ${address}:${port}`);
      else {
        const root = mkdtempSync(path.join(os.tmpdir(), 'bootchain-watch-'));
        const http = new BootHttpServer({ root, address, port, onEvent: (e) => (e.status === 'marker' ? onMarker(e) : e.status === 'refused' || e.status === 'failed' ? drop('marker:refused') : undefined) });
        try {
          await http.start();
          source('marker', 'listening', `the scripts' stage markers on http://${address}:${port}/watch/`);
          cleanups.push(async () => {
            await http.stop();
            rmSync(root, { recursive: true, force: true });
          });
        } catch (e) {
          rmSync(root, { recursive: true, force: true });
          const code = (e as NodeJS.ErrnoException).code;
          source('marker', 'failed', code === 'EADDRINUSE' ? `port ${port} on ${address} is in use by another program: the scripts' markers cannot be received (choose another port in the project and upload again)` : code === 'EADDRNOTAVAIL' ? `${address} is not an address of this computer: the project's markers go elsewhere (set this computer's address under Watch and upload again)` : code === 'EACCES' ? `port ${port} needs the "Ports below 1024" right` : String((e as Error).message));
        }
      }
    } else source('marker', 'off', "the project's scripts send no stage markers (turn on the watch markers in Diagnostics and upload again)");

    if (req.syslog) {
      try {
        // No hostname filter: iPXE's first lines carry none, and a DHCP domain makes "pc" "pc.lab"; the timeline ties them to a workstation.
        // The events are taken here as they come: the receiver's own queue is emptied each time (it would fill and go deaf).
        let rxRef: { drain(): unknown } | undefined;
        const rx = await startSyslogReceiver({ address: req.syslog.address, port: req.syslog.port, signal: inner.signal, onEvent: (e) => (onSyslog(e), rxRef?.drain()) });
        rxRef = rx;
        rx.drain();
        source('syslog', 'listening', `iPXE's syslog on ${rx.address}:${rx.port}`);
        cleanups.push(async () => {
          for (const [k, n] of Object.entries(rx.stats().dropped)) if (n) dropped[`syslog:${k}`] = n;
          await rx.closed;
        });
      } catch (e) {
        source('syslog', 'failed', e instanceof BootchainError ? `${e.appError.message}${e.appError.hint ? `. ${e.appError.hint}` : ''}` : String(e));
      }
    } else source('syslog', 'off', "no syslog receiver asked for (the project's scripts set no syslog address)");

    if (req.dhcp) {
      try {
        const l = await startDhcpListener({
          port: req.dhcp.port,
          signal: inner.signal,
          macs: new Set(byMac.keys()),
          userClass: req.project.boot.userClass,
          // The first DHCP of a boot is the firmware's (QEMU's and other iPXE-based NIC ROMs carry iPXE's marks too), unless it has the project's user class (our iPXE's embedded script).
          onSeen: (s, from) => add({ at: now(), source: 'dhcp', mac: s.mac, ip: s.ip, stage: dhcpStage(s), evidence: `DHCP ${s.type.toUpperCase()} from ${s.mac}${s.ip ? ` (${s.ip})` : ''} via ${from}${s.userClass ? `, user class ${s.userClass}` : ''}${s.vendorClass ? `, ${s.vendorClass}` : ''}${s.ipxe ? ': iPXE' : ''}` }),
          onDrop: (reason) => drop(`dhcp:${reason}`),
        });
        source('dhcp', 'listening', `the workstations' DHCP broadcasts on UDP ${l.port}`);
        cleanups.push(() => l.closed);
      } catch (e) {
        source('dhcp', 'failed', e instanceof BootchainError ? `${e.appError.message}. ${e.appError.hint ?? ''}` : String(e));
      }
    } else source('dhcp', 'off', 'not asked for');

    let nasDone: Promise<void> | undefined;
    if (req.nas) {
      let first = true;
      nasDone = watchSessions(req.nas.runner, {
        ...(req.nas.poll ?? {}),
        intervalMs: req.nas.intervalMs ?? 1000,
        signal: inner.signal,
        onChange: (events, poll) => {
          if (first || poll.fallbacks.length) source('nas', 'listening', `the NAS's iSCSI sessions by ${poll.method}${poll.fallbacks.length ? ` (${poll.fallbacks.map((f) => f.message).join('; ')})` : ''}`);
          first = false;
          for (const ev of events) onNas(ev);
        },
        onError: (e) => source('nas', 'failed', `${e.message}${e.hint ? `. ${e.hint}` : ''}`),
      }).catch((e: unknown) => source('nas', 'failed', e instanceof BootchainError ? e.appError.message : String(e)));
    } else if (req.nasUnavailable) source('nas', 'failed', req.nasUnavailable);
    else source('nas', 'off', "the NAS's sessions are not polled (no SSH login for the NAS given)");

    function onNas(ev: SessionEvent) {
      const ini = ev.session.initiator;
      const w = ini ? req.stations.find((x) => x.initiatorIqn.toLowerCase() === ini.toLowerCase()) : undefined;
      const who = `${ini ?? ev.session.address ?? '?'}${ev.session.address ? ` from ${ev.session.address}` : ''}${ev.session.target ? ` to ${ev.session.target}` : ''}${ev.session.session !== undefined ? ` (session ${ev.session.session})` : ''}`;
      const base = { at: now(), source: 'nas' as const, initiator: ini, ip: ev.session.address };
      if (ev.initial) return add({ ...base, evidence: `already logged in when the watch started: ${who}` });
      if (ev.kind === 'logout') return add({ ...base, evidence: `${ev.method}: logged out: ${who}` });
      const name = w?.name ?? (ev.session.address ? timeline.stationOf({ ...base, evidence: '' })?.name : undefined);
      if (!name) return add({ ...base, evidence: `${ev.method}: a login from ${who}` });
      const keys = nasKeys.get(name) ?? new Set<string>();
      nasKeys.set(name, keys);
      const stage: WatchStageId = keys.size === 0 ? 'nas-login' : 'os-login';
      keys.add(ev.key);
      add({ ...base, stage, evidence: `${ev.method}: ${stage === 'nas-login' ? 'login' : "a second login (the booted OS's own)"}: ${who}` });
    }

    function onSyslog(e: SyslogEvent) {
      if (e.kind === 'iscsi-login') {
        // Only the NAS speaks for the NAS: a login line from any other sender is someone's forgery.
        const nasAddresses = [req.project.nas.address, req.project.nas.ssh?.host, ...req.stations.flatMap((w) => w.portals?.map((x) => x.address) ?? [])];
        if (!nasAddresses.includes(e.from.address)) return drop('syslog:nas-line-not-from-the-nas');
        return add({ at: now(), source: 'syslog', initiator: e.initiator, ip: e.sourceIp, ...(e.ok ? { stage: 'nas-login' as const } : { error: { stage: 'san-login' as const, text: `the NAS refused the login of ${e.initiator}: ${e.outcome}` } }), evidence: `NAS log (format not confirmed): ${e.text.slice(0, 200)}` });
      }
      const s = stageOfIpxeLine(e.class);
      // iPXE's own error URL, decoded; a failed SAN boot placed by the file that raised it, as the markers' are.
      const d = s.error ? findIpxeErrors(e.text)[0] : undefined;
      if (s.error && d) {
        const f = s.error.stage === 'san-login' || s.error.stage === 'san-boot' ? sanFailurePlace(d, false) : undefined;
        s.error = f ? { stage: f.stage, link: f.link, text: `${e.text.replace(/:[^:]*\(https?:\/\/ipxe\.org\/\S+\)\s*$/, '')}: ${d.words} (${d.url})` } : { ...s.error, text: `${s.error.text}: ${d.words} (${d.url})` };
      }
      add({ at: now(), source: 'syslog', hostname: e.hostname, ip: e.from.address, ...s, evidence: `iPXE${e.hostname ? ` ${e.hostname}` : ''}: ${e.text}` });
    }

    // --- Until every station has a verdict, the time runs out, or the user stops it -----------
    const deadline = now() + req.timeoutMs;
    let ended: WatchReport['ended'] = 'timeout';
    ctx.progress({ phase: `watching ${req.stations.map((w) => w.name).join(', ')}: power the workstation on` });
    while (!inner.signal.aborted) {
      for (const t of timeline.tick(now())) stopped(t);
      const all = timeline.all();
      // A boot done at the SAN boot (nothing can see the OS's login) is watched a little longer:
      // iPXE reports a failed boot from the disk just after "Booting from SAN device".
      const settled = (t: StationTimeline) => t.stopped || (t.done && (req.nas || now() - t.stages.at(-1)!.at >= DONE_GRACE_MS));
      if (all.every(settled) && pending.size === 0) {
        ended = 'all-done';
        break;
      }
      if (now() >= deadline) break;
      await new Promise<void>((r) => {
        const done = () => {
          clearTimeout(timer);
          inner.signal.removeEventListener('abort', done);
          r();
        };
        const timer = setTimeout(done, 250);
        inner.signal.addEventListener('abort', done, { once: true });
      });
    }
    if (ctx.signal.aborted) fail('CANCELLED', 'The watch was cancelled');
    if (req.stop?.aborted) ended = 'stopped';
    await Promise.allSettled([...pending]);
    inner.abort();
    await nasDone;
    return { project: req.project.name, startedAt, durationMs: now(), ended, sources, stations: timeline.all().map((t) => structuredClone(t)), dropped };
  } finally {
    inner.abort();
    ctx.signal.removeEventListener('abort', onCancel);
    req.stop?.removeEventListener('abort', onCancel);
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  }
}
