import type { StateCreator } from 'zustand';
import { appError, type AppError } from '../../../shared/errors';
import { DISCOVERY_INITIATOR, type DiscoverJobResult, type ProbeResult } from '../../../shared/iscsi';
import type { JobEventOf, JobProgress } from '../../../shared/jobs';
import { api } from '../api/client';
import type { AppState } from './index';
import type { JobStatus } from './scan-slice';

/** CHAP form state (secrets stay in memory only). */
export interface ChapForm {
  enabled: boolean;
  username: string;
  secret: string;
  mutual: boolean;
  mutualUsername: string;
  mutualSecret: string;
}

/** Probe state of one target. */
export interface ProbeState {
  jobId?: string | undefined;
  status: JobStatus;
  result?: ProbeResult | undefined;
  error?: AppError | undefined;
}

/** The choice the later steps build on. */
export interface ChosenTarget {
  target: string;
  portal: { address: string; port: number };
  lun: number;
  sizeBytes?: number | undefined;
  summary: string;
}

/** Target step: discovery on the chosen portals, a probe per target, the user's choice. */
export interface TargetSlice {
  target: {
    initiatorName: string;
    discoveryChap: ChapForm;
    targetChap: ChapForm;
    discover: { jobId?: string | undefined; status: JobStatus; progress?: JobProgress | undefined; error?: AppError | undefined; result?: DiscoverJobResult | undefined };
    probes: Record<string, ProbeState>;
    chosen?: ChosenTarget | undefined;
    /** A target whose disk is not empty, waiting for the user's confirmation. */
    confirm?: string | undefined;
  };
  setInitiatorName(v: string): void;
  setChap(which: 'discoveryChap' | 'targetChap', patch: Partial<ChapForm>): void;
  discoverTargets(): Promise<void>;
  probe(target: string): Promise<void>;
  chooseTarget(target: string): void;
  confirmChoice(yes: boolean): void;
  applyDiscoverEvent(e: JobEventOf<'discover'>): void;
  applyProbeEvent(e: JobEventOf<'probe'>): void;
  resetTarget(): void;
}

const emptyChap = (): ChapForm => ({ enabled: false, username: '', secret: '', mutual: false, mutualUsername: '', mutualSecret: '' });

const initial = (): TargetSlice['target'] => ({
  initiatorName: DISCOVERY_INITIATOR,
  discoveryChap: emptyChap(),
  targetChap: emptyChap(),
  discover: { status: 'idle' },
  probes: {},
});

/** The CHAP object of the contract, or an error naming the missing field. */
export function chapInput(f: ChapForm): { ok: true; value?: { username: string; secret: string; mutual?: { username?: string; secret: string } } } | { ok: false; error: AppError } {
  if (!f.enabled) return { ok: true };
  if (f.username.trim() === '') return { ok: false, error: appError('INVALID_INPUT', 'Enter the CHAP user name', { field: 'chap.username' }) };
  if (f.secret === '') return { ok: false, error: appError('INVALID_INPUT', 'Enter the CHAP secret', { field: 'chap.secret' }) };
  const value: { username: string; secret: string; mutual?: { username?: string; secret: string } } = { username: f.username.trim(), secret: f.secret };
  if (f.mutual) {
    if (f.mutualSecret === '') return { ok: false, error: appError('INVALID_INPUT', 'Enter the target (mutual) CHAP secret', { field: 'chap.mutualSecret' }) };
    value.mutual = f.mutualUsername.trim() ? { username: f.mutualUsername.trim(), secret: f.mutualSecret } : { secret: f.mutualSecret };
  }
  return { ok: true, value };
}

/** Probes at once after discovery (each is one short login). */
const PROBE_CONCURRENCY = 4;

export const createTargetSlice: StateCreator<AppState, [], [], TargetSlice> = (set, get) => {
  const patch = (p: Partial<TargetSlice['target']>) => set((st) => ({ target: { ...st.target, ...p } }));
  const setProbe = (name: string, p: ProbeState) => set((st) => ({ target: { ...st.target, probes: { ...st.target.probes, [name]: p } } }));
  /** Portals the scan step chose (only iSCSI ones). */
  const portals = () =>
    get()
      .scan.selected.map((k) => get().scan.portals[k])
      .filter((p): p is NonNullable<typeof p> => !!p && p.iscsi === true)
      .map((p) => ({ address: p.address, port: p.port }));
  const portalOf = (name: string) => {
    const t = get().target.discover.result?.targets.find((x) => x.name === name);
    return t?.portals[0];
  };
  const waiters = new Map<string, () => void>();
  const earlyEnds = new Map<string, JobEventOf<'probe'>>();
  const setChosen = (name: string) => {
    const p = get().target.probes[name]?.result;
    const lun = p?.luns.find((l) => l.lun === p.bootLun);
    if (!p || !lun) return;
    patch({ chosen: { target: name, portal: p.portal, lun: lun.lun, sizeBytes: lun.sizeBytes, summary: lun.layout?.summary ?? lun.deviceTypeName } });
    get().invalidateAfter('target');
  };
  /** Targets waiting for a probe, run a few at a time. */
  let queue: string[] = [];
  let running = 0;
  const pump = () => {
    while (running < PROBE_CONCURRENCY && queue.length > 0) {
      const name = queue.shift()!;
      running++;
      void get()
        .probe(name)
        .finally(() => {
          running--;
          pump();
        });
    }
  };
  return {
    target: initial(),
    setInitiatorName: (v) => patch({ initiatorName: v }),
    setChap: (which, p) => patch({ [which]: { ...get().target[which], ...p } } as Partial<TargetSlice['target']>),
    discoverTargets: async () => {
      const t = get().target;
      if (t.discover.status === 'running') return;
      const chap = chapInput(t.discoveryChap);
      if (!chap.ok) return patch({ discover: { status: 'failed', error: chap.error } });
      const ps = portals();
      if (ps.length === 0) return patch({ discover: { status: 'failed', error: appError('INVALID_INPUT', 'No iSCSI portal chosen', { hint: 'Go back to Scan and tick at least one iSCSI portal.' }) } });
      queue = [];
      patch({ discover: { status: 'running', progress: { phase: 'discover', done: 0, total: ps.length } }, probes: {}, chosen: undefined, confirm: undefined });
      const r = await api().invoke('iscsi:discover', { portals: ps, initiatorName: t.initiatorName.trim(), ...(chap.value ? { chap: chap.value } : {}) });
      if (r.ok) patch({ discover: { ...get().target.discover, jobId: r.value.jobId } });
      else patch({ discover: { status: 'failed', error: r.error } });
    },
    probe: async (name) => {
      const t = get().target;
      const portal = portalOf(name);
      if (!portal) return;
      const chap = chapInput(t.targetChap);
      if (!chap.ok) return setProbe(name, { status: 'failed', error: chap.error });
      const dchap = chapInput(t.discoveryChap);
      setProbe(name, { status: 'running' });
      const r = await api().invoke('iscsi:probe', {
        address: portal.address,
        port: portal.port,
        target: name,
        initiatorName: t.initiatorName.trim(),
        ...(chap.value ? { chap: chap.value } : {}),
        ...(dchap.ok && dchap.value ? { discoveryChap: dchap.value } : {}),
      });
      if (!r.ok) return setProbe(name, { status: 'failed', error: r.error });
      const jobId = r.value.jobId;
      setProbe(name, { status: 'running', jobId });
      // A terminal event may have come before the reply that named the job.
      const early = earlyEnds.get(jobId);
      earlyEnds.delete(jobId);
      if (early) return get().applyProbeEvent(early);
      // Resolve when the job ends, so the probe queue moves on.
      await new Promise<void>((resolve) => waiters.set(jobId, resolve));
    },
    chooseTarget: (name) => {
      const p = get().target.probes[name]?.result;
      const lun = p?.luns.find((l) => l.lun === p.bootLun);
      if (!p || !lun) return;
      // Etcher-style: a disk that already holds something needs an explicit yes.
      if (lun.layout && lun.layout.verdict !== 'empty') patch({ confirm: name });
      else setChosen(name);
    },
    confirmChoice: (yes) => {
      const name = get().target.confirm;
      patch({ confirm: undefined });
      if (name && yes) setChosen(name);
    },
    applyDiscoverEvent: (e) => {
      const d = get().target.discover;
      if (e.jobId !== d.jobId) return;
      if (e.type === 'progress') patch({ discover: { ...d, progress: e.progress } });
      else if (e.type === 'succeeded') {
        patch({ discover: { jobId: d.jobId, status: 'succeeded', result: e.result } });
        queue = e.result.targets.map((t) => t.name);
        pump();
      } else if (e.type === 'failed') patch({ discover: { jobId: d.jobId, status: 'failed', error: e.error } });
      else if (e.type === 'cancelled') patch({ discover: { jobId: d.jobId, status: 'cancelled' } });
    },
    applyProbeEvent: (e) => {
      if (e.type !== 'succeeded' && e.type !== 'failed' && e.type !== 'cancelled') return;
      const probes = get().target.probes;
      const name = Object.keys(probes).find((n) => probes[n]?.jobId === e.jobId);
      if (!name) {
        earlyEnds.set(e.jobId, e);
        return;
      }
      if (e.type === 'succeeded') setProbe(name, { jobId: e.jobId, status: 'succeeded', result: e.result });
      else if (e.type === 'failed') setProbe(name, { jobId: e.jobId, status: 'failed', error: e.error });
      else setProbe(name, { jobId: e.jobId, status: 'cancelled' });
      waiters.get(e.jobId)?.();
      waiters.delete(e.jobId);
    },
    resetTarget: () => {
      queue = [];
      set({ target: initial() });
    },
  };
};
