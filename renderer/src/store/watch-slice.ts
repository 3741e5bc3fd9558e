import type { StateCreator } from 'zustand';
import type { ProjectInput } from '../../../shared/model/project';
import type { SshAuth } from '../../../shared/upload';
import { watchMarkers, type StationTimeline, type WatchItem, type WatchSource, type WatchSourceState, type WatchStartInput } from '../../../shared/watch';
import { api } from '../api/client';
import type { AppState } from './index';
import { cancelJob, idleJob, runJob, type JobSlot, type JobState } from './job';
import { uploadTarget } from './upload-slice';

/** One line the sources saw, as the evidence log shows it. */
export type WatchEvidence = Extract<WatchItem, { type: 'event' }>;

/** How many evidence lines the panel keeps (the report holds each station's own, bounded by the service). */
export const WATCH_EVIDENCE_CAP = 300;

/**
 * The markers' port when the project has none yet: the built-in boot server's HTTP port (8080 by
 * default), so that while "Serve from this computer" serves HTTP the markers arrive through it,
 * and otherwise the watch's own listener takes the same port (no grant: it is above 1024).
 */
export const DEFAULT_MARKERS_PORT = 8080;

/** Diagnostics' "Watch a boot": options, the live timelines per workstation, the sources, the report. */
export interface WatchSlice {
  watch: JobState<'watch'> & {
    /** The workstations not to watch (by name); the others are watched. */
    skip: string[];
    /** Receive iPXE's syslog at the project's boot.watch.syslog (when it has one). */
    syslog: boolean;
    /** Listen for the workstations' DHCP broadcasts (UDP 67). */
    dhcp: boolean;
    stallSeconds: string;
    minutes: string;
    /** This computer's address and port the markers toggle writes into the project. */
    address: string;
    markersPort: string;
    sources: Partial<Record<WatchSource, WatchSourceState>>;
    timelines: Record<string, StationTimeline>;
    events: WatchEvidence[];
    /** watch:stop was asked: the report is on its way. */
    stopping: boolean;
    /** The picture's selected link, per workstation. */
    selected: Record<string, string>;
  };
  setWatch(patch: Partial<Pick<WatchSlice['watch'], 'skip' | 'syslog' | 'dhcp' | 'stallSeconds' | 'minutes' | 'address' | 'markersPort' | 'selected'>>): void;
  /** Turns the scripts' stage markers on (at address:markersPort) or off, in the project. */
  setWatchMarkers(on: boolean): void;
  /** Points the scripts' iPXE syslog at this computer (address) or nowhere, in the project. */
  setWatchSyslogTarget(on: boolean): void;
  startWatch(): Promise<void>;
  /** Ends the watch with its report (watch:stop). */
  stopWatch(): Promise<void>;
  /** Ends the watch without a report (jobs:cancel). */
  cancelWatch(): Promise<void>;
}

interface BootDraft {
  biosFile?: string;
  uefiFile?: string;
  userClass?: string;
  watch?: { markers?: string; syslog?: string };
}
const bootOf = (st: AppState): BootDraft => ((st.identity.project as { boot?: BootDraft }).boot ?? {}) as BootDraft;

/** Where the project's scripts send their markers, or undefined when it sends none. */
export const markersOf = (project: AppState['identity']['project']) => watchMarkers(project as { boot?: BootDraft });

/**
 * The NAS login the Upload step holds, when it has a usable one: the watch polls the NAS's
 * sessions with it (over the project's nas.ssh, which the Upload step fills in).
 */
export function uploadNasLogin(s: AppState['upload']['server']): { auth: SshAuth; who: string } | undefined {
  if (s.kind !== 'ssh' || !s.user.trim()) return undefined;
  if ((s.auth === 'key' && !s.keyPath.trim()) || (s.auth === 'password' && !s.password)) return undefined;
  const t = uploadTarget(s);
  return t.kind === 'ssh' ? { auth: t.auth, who: `${t.user}@${t.host || 'the NAS'}` } : undefined;
}

/** The timelines a watch starts from: every watched station, nothing seen yet. */
function emptyTimelines(st: AppState, names: string[]): Record<string, StationTimeline> {
  const wss = (st.identity.project as { workstations?: Array<{ name: string; mac: string }> }).workstations ?? [];
  return Object.fromEntries(wss.filter((w) => names.includes(w.name)).map((w) => [w.name, { station: w.name, mac: w.mac, stages: [], done: false, evidence: [] }]));
}

export const createWatchSlice: StateCreator<AppState, [], [], WatchSlice> = (set, get) => {
  const patch = (p: Partial<WatchSlice['watch']>) => set((st) => ({ watch: { ...st.watch, ...p } }));
  /** Writes boot.watch (no key for what is off; no watch at all when both are). */
  const setBootWatch = (w: { markers?: string | undefined; syslog?: string | undefined }) => {
    const { watch: _old, ...boot } = bootOf(get());
    const watch = { ...(w.markers ? { markers: w.markers } : {}), ...(w.syslog ? { syslog: w.syslog } : {}) };
    get().setProjectField({ boot: { ...boot, ...(watch.markers || watch.syslog ? { watch } : {}) } as ProjectInput['boot'] });
  };
  /** The watch: sources, evidence lines and timelines are items; the report replaces them at the end. */
  const job: JobSlot<'watch', WatchSlice['watch']> = {
    read: () => get().watch,
    write: patch,
    item: (w, item) => {
      if (item.type === 'source') return { sources: { ...w.sources, [item.source.source]: item.source } };
      if (item.type === 'event') return { events: [...w.events, item].slice(-WATCH_EVIDENCE_CAP) };
      return { timelines: { ...w.timelines, [item.timeline.station]: item.timeline } };
    },
    end: (w, e) =>
      e.type === 'succeeded'
        ? {
            stopping: false,
            sources: Object.fromEntries(e.result.sources.map((s) => [s.source, s])),
            timelines: { ...w.timelines, ...Object.fromEntries(e.result.stations.map((t) => [t.station, t])) },
          }
        : { stopping: false },
    logCap: 300,
  };
  return {
    watch: {
      ...idleJob,
      skip: [],
      syslog: true,
      dhcp: true,
      stallSeconds: '60',
      minutes: '20',
      address: '',
      markersPort: String(DEFAULT_MARKERS_PORT),
      sources: {},
      timelines: {},
      events: [],
      stopping: false,
      selected: {},
    },
    setWatch: (p) => {
      patch(p);
      // A new address or port of markers that are on goes into the project at once.
      const m = markersOf(get().identity.project);
      if (m && (p.address !== undefined || p.markersPort !== undefined)) get().setWatchMarkers(true);
    },
    setWatchMarkers: (on) => {
      const w = get().watch;
      const cur = bootOf(get()).watch ?? {};
      const address = w.address || markersOf(get().identity.project)?.address || get().serve.interfaces[0]?.subnets[0]?.address || '';
      const port = Number(w.markersPort) || DEFAULT_MARKERS_PORT;
      setBootWatch(on && address ? { ...cur, markers: `http://${address}:${port}` } : { ...cur, markers: undefined });
    },
    setWatchSyslogTarget: (on) => {
      const cur = bootOf(get()).watch ?? {};
      const address = get().watch.address || get().serve.interfaces[0]?.subnets[0]?.address || '';
      setBootWatch(on && address ? { ...cur, syslog: address } : { ...cur, syslog: undefined });
    },
    startWatch: async () => {
      const st = get();
      const w = st.watch;
      if (w.status === 'running') return;
      const all = ((st.identity.project as { workstations?: Array<{ name: string }> }).workstations ?? []).map((x) => x.name);
      const names = all.filter((n) => !w.skip.includes(n));
      if (names.length === 0) return;
      const login = uploadNasLogin(st.upload.server);
      const input: WatchStartInput = {
        project: st.identity.project,
        // "No syslog" is said as false: absent, the service takes the project's boot.watch.syslog.
        ...(w.syslog ? {} : { syslog: false }),
        secrets: st.identity.secrets,
        ...(names.length < all.length ? { stations: names } : {}),
        dhcp: w.dhcp,
        ...(Number(w.stallSeconds) ? { stallSeconds: Math.round(Number(w.stallSeconds)) } : {}),
        ...(Number(w.minutes) ? { minutes: Math.round(Number(w.minutes)) } : {}),
        ...(login ? { nas: { auth: login.auth } } : {}),
      };
      await runJob('watch:start', input, job, { sources: {}, events: [], stopping: false, timelines: emptyTimelines(st, names), selected: {} });
    },
    stopWatch: async () => {
      const { jobId } = get().watch;
      if (!jobId) return;
      patch({ stopping: true });
      const r = await api().invoke('watch:stop', { jobId });
      if (!r.ok || !r.value.stopped) patch({ stopping: false });
    },
    cancelWatch: () => cancelJob(get().watch),
  };
};
