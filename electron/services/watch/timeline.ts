/**
 * The live boot watch's timeline (issue 19): events from every source — the boot server,
 * iPXE's syslog lines, the scripts' stage markers, the NAS's iSCSI sessions, DHCP broadcasts —
 * put on one clock per workstation (told apart by MAC, by initiator IQN for the NAS's view, by
 * hostname for syslog), as stages in boot order; a boot that shows an error or stops moving
 * ends in "stopped at <link>", the Verify link whose check gives the fix. Pure: the sources and
 * the job feed it, it decides.
 */
import type { LinkId } from '../../../shared/verify';
import { WATCH_STAGES, type StageSeen, type StationTimeline, type WatchSource, type WatchStageId } from '../../../shared/watch';

export { WATCH_STAGES, type StageSeen, type StationTimeline, type WatchStageId };

/** One thing a source saw. */
export interface WatchEvent {
  /** Monotonic ms (every source on the same clock). */
  at: number;
  source: WatchSource;
  /** Who: any of these that the source knows. */
  mac?: string | undefined;
  /** The workstation's IPv4 address (a source that names both MAC and address teaches the timeline the pair). */
  ip?: string | undefined;
  initiator?: string | undefined;
  hostname?: string | undefined;
  /** The stage it shows reached, when it shows one. */
  stage?: WatchStageId | undefined;
  /** An error it shows (iPXE's "Could not boot image", a failed NAS login …), with the stage it stops. */
  error?: { stage: WatchStageId; text: string; link?: LinkId | undefined } | undefined;
  /** What was seen, for the evidence list. */
  evidence: string;
}

export interface WatchStation {
  name: string;
  mac: string;
  initiatorIqn: string;
  /** The hostname its scripts set (option 12 / set hostname), when known. */
  hostname?: string | undefined;
}

const order = (id: WatchStageId): number => WATCH_STAGES.findIndex((s) => s.id === id);
const linkOf = (id: WatchStageId): LinkId => WATCH_STAGES.find((s) => s.id === id)!.link;
const normMac = (m: string): string => m.toLowerCase().replace(/-/g, ':');
/** Most evidence lines kept per station. */
const MAX_EVIDENCE = 200;

/** The timelines of the watched stations, fed event by event. */
export class Timeline {
  private readonly byName = new Map<string, StationTimeline>();
  private readonly lastMove = new Map<string, number>();
  /** Addresses learnt from events naming MAC and address (DHCP requests, markers): syslog lines without a hostname come by address only. */
  private readonly byIp = new Map<string, string>();

  constructor(
    private readonly stations: WatchStation[],
    /**
     * stallMsAfter: a longer quiet spell allowed after some stages (the OS loading over the SAN disk
     * before its own login). neverImplied: stages only a source can show, never implied by a later
     * one (the NAS's view of the login when its sessions are not watched). lastStage: the stage
     * that ends a boot well (the OS's own login; the SAN boot when nothing can see that login).
     */
    private readonly opts: { stallMs: number; stallMsAfter?: Partial<Record<WatchStageId, number>> | undefined; neverImplied?: readonly WatchStageId[] | undefined; lastStage?: WatchStageId | undefined },
  ) {
    for (const s of stations) this.byName.set(s.name, { station: s.name, mac: normMac(s.mac), stages: [], done: false, evidence: [] });
  }

  /** The station an event is about, when it names one of the watched. */
  stationOf(e: WatchEvent): WatchStation | undefined {
    if (e.mac) {
      const m = normMac(e.mac);
      const s = this.stations.find((x) => normMac(x.mac) === m);
      if (s) {
        if (e.ip) this.byIp.set(e.ip, s.name);
        return s;
      }
    }
    if (e.initiator) {
      const s = this.stations.find((x) => x.initiatorIqn.toLowerCase() === e.initiator!.toLowerCase());
      if (s) return s;
    }
    if (e.hostname) {
      // iPXE names itself <hostname>.<domain> when DHCP gave a domain (most routers do): the part before the first dot.
      const h = e.hostname.toLowerCase().split('.')[0]!;
      const s = this.stations.find((x) => (x.hostname ?? x.name).toLowerCase() === h);
      if (s) {
        if (e.ip) this.byIp.set(e.ip, s.name);
        return s;
      }
    }
    if (e.ip && this.byIp.has(e.ip)) return this.stations.find((x) => x.name === this.byIp.get(e.ip!));
    return undefined;
  }

  /** Adds an event; returns the station's timeline when it changed it. */
  add(e: WatchEvent): StationTimeline | undefined {
    const s = this.stationOf(e);
    if (!s) return undefined;
    const t = this.byName.get(s.name)!;
    // A boot "done" by inference (the SAN boot, where nothing can see the OS's own login) still
    // takes a later failure: iPXE may report one after the quiet spell the inference waited for.
    if (t.stopped || (t.done && !(e.error && t.stages.at(-1)?.id !== 'os-login'))) return undefined;
    if (t.done) t.done = false;
    t.evidence.push(`${e.source}: ${e.evidence}`);
    if (t.evidence.length > MAX_EVIDENCE) t.evidence.splice(0, t.evidence.length - MAX_EVIDENCE);
    if (e.error) {
      t.stopped = { stage: e.error.stage, link: e.error.link ?? linkOf(e.error.stage), why: e.error.text, at: e.at };
      return t;
    }
    if (!e.stage) return t;
    // A stage seen implies the ones before it (iPXE's syslog starts only once iPXE runs).
    let changed = false;
    const n = order(e.stage);
    for (let i = 0; i <= n; i++) {
      const id = WATCH_STAGES[i]!.id;
      if (t.stages.some((x) => x.id === id)) continue;
      // The OS's login is a NAS login *after* the SAN boot: it is seen, never implied.
      if ((id === 'os-login' || this.opts.neverImplied?.includes(id)) && i < n) continue;
      t.stages.push({ id, at: e.at, source: e.source, evidence: i === n ? e.evidence : '(implied by a later stage)' });
      changed = true;
    }
    // A second NAS login after the SAN boot is the OS's own — only when the NAS itself showed the
    // first (iPXE's, seen late by a poll, must not pass for the OS's).
    const nasSaw = t.stages.find((x) => x.id === 'nas-login');
    if (!changed && e.stage === 'nas-login' && nasSaw && nasSaw.source === e.source && !nasSaw.evidence.startsWith('(implied') && t.stages.some((x) => x.id === 'san-boot') && !t.stages.some((x) => x.id === 'os-login')) {
      t.stages.push({ id: 'os-login', at: e.at, source: e.source, evidence: e.evidence });
      changed = true;
    }
    t.stages.sort((a, b) => order(a.id) - order(b.id));
    if (changed) this.lastMove.set(s.name, e.at);
    t.done = t.stages.some((x) => x.id === (this.opts.lastStage ?? 'os-login'));
    return t;
  }

  /** Ends, at `now`, each started boot that has not moved for stallMs: stopped at the next stage. */
  tick(now: number): StationTimeline[] {
    const out: StationTimeline[] = [];
    for (const t of this.byName.values()) {
      if (t.stopped || t.done || t.stages.length === 0) continue;
      const last = this.lastMove.get(t.station) ?? 0;
      const reached = t.stages.reduce((m, x) => Math.max(m, order(x.id)), -1);
      if (now - last < (this.opts.stallMsAfter?.[WATCH_STAGES[reached]!.id] ?? this.opts.stallMs)) continue;
      const next = WATCH_STAGES[reached + 1] ?? WATCH_STAGES[WATCH_STAGES.length - 1]!;
      t.stopped = { stage: next.id, link: next.link, why: `nothing new for ${Math.round((now - last) / 1000)} s after ${WATCH_STAGES[reached]!.what}`, at: now };
      out.push(t);
    }
    return out;
  }

  /** Every station's timeline. */
  all(): StationTimeline[] {
    return [...this.byName.values()];
  }
}

/** What one of iPXE's lines (classified by ipxe-lines.ts) means for the timeline: a stage reached or an error that stops one. */
export function stageOfIpxeLine(c: { kind: string; stage?: string | undefined; ok?: boolean | undefined; error?: string | undefined; subject?: string | undefined }): Pick<WatchEvent, 'stage' | 'error'> {
  const fetched = (s: string | undefined): WatchStageId => (s && /default\.ipxe$/.test(s) ? 'default' : s && /\.ipxe$/.test(s) ? 'station' : 'default');
  // A marker the watch did not receive (iPXE logs "…/watch/<mac>/default... Connection refused"): not the boot's failure.
  if (c.subject && /\/watch\/[0-9a-f-]{17}\//.test(c.subject)) return {};
  if (c.ok === false) {
    const stage: WatchStageId = c.stage === 'dhcp' ? 'ipxe-dhcp' : c.stage === 'fetch' ? fetched(c.subject) : c.stage === 'san' ? 'san-login' : 'san-boot';
    return { error: { stage, text: c.error ?? c.kind } };
  }
  if (c.kind === 'banner' || c.kind === 'ipxe-start') return { stage: 'ipxe' };
  if (c.kind === 'dhcp-ok') return { stage: 'ipxe-dhcp' };
  if (c.kind === 'fetch-ok' && c.subject && /\.ipxe$/.test(c.subject)) return { stage: fetched(c.subject) };
  if (c.kind === 'san-registered') return { stage: 'san-login' };
  if (c.kind === 'san-booting') return { stage: 'san-boot' };
  return {};
}
