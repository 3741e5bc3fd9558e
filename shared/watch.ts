/**
 * The live boot watch (issue 19): the user powers on a real workstation and Bootchain follows its
 * boot stage by stage from every source it has — the built-in boot server, the scripts' stage
 * markers, iPXE's syslog lines, the DHCP broadcasts, the NAS's iSCSI sessions — on one clock per
 * workstation; a boot that errs or stalls ends in "stopped at <link>" with Verify's check of that
 * link. This is the contract (input, streamed items, the report) and the report's Markdown.
 */
import { z } from 'zod';
import { isIPv4 } from './ipv4';
import { SshAuth } from './upload';
import type { LinkId } from './verify';

/** The stages of a diskless boot, in order, each with the Verify link that checks it. */
export const WATCH_STAGES = [
  { id: 'dhcp', what: "the firmware's DHCP", link: 'dhcp' },
  { id: 'bootfile', what: 'the boot file (iPXE) fetched', link: 'bootfile' },
  { id: 'ipxe', what: 'iPXE running', link: 'embedded' },
  { id: 'ipxe-dhcp', what: "iPXE's own DHCP", link: 'embedded' },
  { id: 'default', what: 'default.ipxe fetched', link: 'default' },
  { id: 'station', what: 'the per-MAC script fetched', link: 'station' },
  { id: 'san-login', what: 'the SAN login, as iPXE saw it', link: 'target' },
  { id: 'nas-login', what: 'the SAN login, as the NAS saw it', link: 'target' },
  { id: 'san-boot', what: 'booting from the SAN disk', link: 'bootsector' },
  { id: 'os-login', what: "the OS's own iSCSI login (its initramfs)", link: 'kernel' },
] as const satisfies ReadonlyArray<{ id: string; what: string; link: LinkId }>;
export type WatchStageId = (typeof WATCH_STAGES)[number]['id'];

/** Where a watch event came from. */
export const WATCH_SOURCES = ['bootserver', 'marker', 'syslog', 'dhcp', 'nas'] as const;
export type WatchSource = (typeof WATCH_SOURCES)[number];

export interface StageSeen {
  id: WatchStageId;
  /** ms since the watch started. */
  at: number;
  source: WatchSource;
  evidence: string;
}

/** Verify's check of the link a boot stopped at, run when it stopped. */
export interface WatchCheck {
  link: LinkId;
  status: 'pass' | 'fail' | 'warn' | 'skip';
  summary: string;
  fix?: string | undefined;
}

/** One workstation's boot as watched. */
export interface StationTimeline {
  station: string;
  mac: string;
  stages: StageSeen[];
  /** Set once the boot stopped: at which stage (and its Verify link), and why. */
  stopped?: { stage: WatchStageId; link: LinkId; why: string; at: number; check?: WatchCheck | undefined } | undefined;
  /** Every stage up to the OS's own login was seen. */
  done: boolean;
  /** What the sources saw of this workstation, in order (bounded). */
  evidence: string[];
}

/** booted: up to the OS's own login; stopped: an error or a stall; watching: started, not over; not-seen: nothing of it yet. */
export type WatchVerdict = 'booted' | 'stopped' | 'watching' | 'not-seen';
export const verdictOf = (t: StationTimeline): WatchVerdict => (t.done ? 'booted' : t.stopped ? 'stopped' : t.stages.length > 0 ? 'watching' : 'not-seen');

/** A source's state: listening, off (not asked for / not possible, and why), failed. */
export interface WatchSourceState {
  source: WatchSource;
  state: 'listening' | 'off' | 'failed';
  detail: string;
}

/** What a watch streams. */
export type WatchItem =
  | { type: 'source'; source: WatchSourceState }
  | { type: 'event'; at: number; source: WatchSource; station?: string | undefined; stage?: WatchStageId | undefined; evidence: string }
  | { type: 'station'; timeline: StationTimeline };

/** The end of a watch (every station booted or stopped, the time ran out, or the user stopped it). */
export interface WatchReport {
  project: string;
  startedAt: string;
  durationMs: number;
  /** Why the watch ended. */
  ended: 'all-done' | 'timeout' | 'stopped';
  sources: WatchSourceState[];
  stations: StationTimeline[];
  /** Hostile or foreign input counted and dropped, by source and reason. */
  dropped: Record<string, number>;
}

/** The project's markers URL (boot.watch.markers, http://ADDR[:PORT]) as the address and port they go to. */
export function watchMarkers(p: { boot?: { watch?: { markers?: string | undefined } | undefined } | undefined }): { address: string; port: number } | undefined {
  const m = /^http:\/\/([\d.]+)(?::(\d+))?$/.exec(p.boot?.watch?.markers ?? '');
  return m ? { address: m[1]!, port: Number(m[2] ?? 80) } : undefined;
}

const ipv4 = z.string().refine(isIPv4, { message: 'an IPv4 address of this computer' });
const port = z.number().int().min(1).max(65535);

export const WatchStartInput = z
  .object({
    project: z.unknown(),
    secrets: z.record(z.string().max(128), z.string().max(256)).default({}),
    /** The workstations to watch (names); absent: all of the project's. */
    stations: z.array(z.string().max(63)).min(1).max(256).optional(),
    /** Receive the scripts' stage markers where the project sends them (boot.watch.markers). */
    markers: z.boolean().default(true),
    /** iPXE's syslog receiver; absent: the project's boot.watch.syslog on port 514, when set; false: none. */
    syslog: z.union([z.object({ address: ipv4, port: port.default(514) }).strict(), z.literal(false)]).optional(),
    /** Listen for the workstations' DHCP broadcasts (UDP 67; needs the ports grant). */
    dhcp: z.boolean().default(true),
    /** Poll the NAS's iSCSI sessions over SSH (the project's nas.ssh) with this login. */
    nas: z
      .object({
        auth: SshAuth,
        /** tgtd's control port when it is not 0 (tgtd -C N). */
        tgtControlPort: z.number().int().min(0).max(65535).optional(),
        /** Run tgtadm through `sudo -n` (an account allowed to without a password). */
        sudo: z.boolean().default(false),
      })
      .strict()
      .optional(),
    /** A started boot with nothing new for this long has stopped. */
    stallSeconds: z.number().int().min(3).max(600).default(60),
    /** The watch ends after this long. */
    minutes: z.number().int().min(1).max(240).default(20),
    /** Run Verify's check of the link a boot stopped at. */
    check: z.boolean().default(true),
  })
  .strict();
export type WatchStartInput = z.input<typeof WatchStartInput>;

const ms = (n: number) => `${(n / 1000).toFixed(1)} s`;
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** A watched boot as Markdown (the export, and `bootchain watch --markdown`). */
export function watchMarkdown(r: WatchReport): string {
  const out = [`# Boot watch: ${r.project}`, '', `Started ${r.startedAt}, watched ${ms(r.durationMs)} (${r.ended === 'all-done' ? 'every workstation finished' : r.ended === 'timeout' ? 'the time ran out' : 'stopped by the user'}).`, ''];
  out.push('| Source | State | Detail |', '| --- | --- | --- |', ...r.sources.map((s) => `| ${s.source} | ${s.state} | ${cell(s.detail)} |`), '');
  for (const t of r.stations) {
    const v = verdictOf(t);
    out.push(`## ${t.station} (${t.mac}): ${v === 'booted' ? 'booted' : v === 'stopped' ? `stopped at ${t.stopped!.link}` : v === 'watching' ? 'not finished' : 'not seen'}`, '');
    if (t.stages.length) out.push('| Time | Stage | Source | Evidence |', '| --- | --- | --- | --- |', ...t.stages.map((s) => `| ${ms(s.at)} | ${WATCH_STAGES.find((x) => x.id === s.id)!.what} | ${s.source} | ${cell(s.evidence)} |`), '');
    if (t.stopped) {
      out.push(`**Stopped at ${t.stopped.link}** (${WATCH_STAGES.find((x) => x.id === t.stopped!.stage)!.what}) after ${ms(t.stopped.at)}: ${t.stopped.why}`, '');
      if (t.stopped.check) out.push(`Verify's check of ${t.stopped.check.link}: ${t.stopped.check.status.toUpperCase()} — ${t.stopped.check.summary}${t.stopped.check.fix ? `\n\nFix: ${t.stopped.check.fix}` : ''}`, '');
    }
    if (t.evidence.length) {
      // A fence longer than any run of backticks in the evidence: nothing seen can end it.
      const fence = '`'.repeat(Math.max(3, ...t.evidence.map((l) => Math.max(0, ...[...l.matchAll(/`+/g)].map((m) => m[0].length)) + 1)));
      out.push('<details><summary>Everything seen</summary>', '', fence, ...t.evidence, fence, '</details>', '');
    }
  }
  const drops = Object.entries(r.dropped).filter(([, n]) => n > 0);
  if (drops.length) out.push(`Dropped: ${drops.map(([k, n]) => `${k} ${n}`).join(', ')}.`, '');
  return out.join('\n');
}
