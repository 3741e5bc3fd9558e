import type { StateCreator } from 'zustand';
import { appError, type AppError } from '../../../shared/errors';
import { DISCOVERY_INITIATOR, type TargetProbe } from '../../../shared/iscsi';
import type { AppState } from './index';
import { idleJob, runJob, type JobSlot, type JobState } from './job';

import { chapOf, diskOptions, preferredPortal, type ChapForm, type ChosenTarget } from './disks';

export { chapOf, diskOptions, preferredPortal, type ChapForm, type ChosenTarget, type DiskOption } from './disks';

/**
 * Probe state of one target: from the discover job's probe of it, or (`jobId` set) from the
 * probe the user asked for again.
 */
export type ProbeState = JobState<'probe'>;


/** Target step: discovery on the chosen portals, a probe per target, the user's choice. */
export interface TargetSlice {
  target: {
    initiatorName: string;
    discoveryChap: ChapForm;
    targetChap: ChapForm;
    /** CHAP of one target (its own user and secret), over `targetChap` for that target. */
    chaps: Record<string, ChapForm>;
    /** Discovery, then a probe of each target found (the job's items); `result` holds the targets once found. */
    discover: JobState<'discover'>;
    probes: Record<string, ProbeState>;
    chosen?: ChosenTarget | undefined;
    /** A target whose disk is not empty, waiting for the user's confirmation. */
    confirm?: string | undefined;
  };
  setInitiatorName(v: string): void;
  setChap(which: 'discoveryChap' | 'targetChap', patch: Partial<ChapForm>): void;
  /** Sets the CHAP of one target (used by its probes and carried into Identity with its disk). */
  setTargetChapFor(target: string, patch: Partial<ChapForm>): void;
  discoverTargets(): Promise<void>;
  probe(target: string): Promise<void>;
  chooseTarget(target: string): void;
  confirmChoice(yes: boolean): void;
  resetTarget(): void;
}

const emptyChap = (): ChapForm => ({ enabled: false, username: '', secret: '', mutual: false, mutualUsername: '', mutualSecret: '' });

const initial = (): TargetSlice['target'] => ({
  initiatorName: DISCOVERY_INITIATOR,
  discoveryChap: emptyChap(),
  targetChap: emptyChap(),
  chaps: {},
  discover: { ...idleJob },
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

export const createTargetSlice: StateCreator<AppState, [], [], TargetSlice> = (set, get) => {
  const patch = (p: Partial<TargetSlice['target']>) => set((st) => ({ target: { ...st.target, ...p } }));
  const patchProbes = (p: Record<string, ProbeState>) => set((st) => ({ target: { ...st.target, probes: { ...st.target.probes, ...p } } }));
  /** Portals the scan step chose (only iSCSI ones). */
  const portals = () =>
    get()
      .scan.selected.map((k) => get().scan.portals[k])
      .filter((p): p is NonNullable<typeof p> => !!p && p.iscsi === true)
      .map((p) => ({ address: p.address, port: p.port }));
  const portalOf = (name: string) => {
    const t = get().target.discover.result?.targets.find((x) => x.name === name);
    return t ? preferredPortal(get(), t.portals) : undefined;
  };
  const setChosen = (name: string) => {
    const d = diskOptions(get()).find((x) => x.target === name);
    if (!d) return;
    const { label: _l, empty: _e, ...chosen } = d;
    patch({ chosen });
    get().invalidateAfter('target');
  };
  /** Each target's probe as the discover job reports it; one the user probes again is theirs. */
  const probesFrom = (list: TargetProbe[]): Record<string, ProbeState> => {
    const own = get().target.probes;
    return Object.fromEntries(list.filter((p) => own[p.target]?.jobId === undefined).map((p) => [p.target, { ...idleJob, status: p.status, result: p.result, error: p.error }]));
  };
  /** Target CHAP that cannot be sent: every target's probe says what to fill in. */
  let probeRefusal: AppError | undefined;
  /** The discover job: the targets found are shown at once, then each probe as it goes. */
  const discoverJob: JobSlot<'discover', TargetSlice['target']['discover']> = {
    read: () => get().target.discover,
    write: (p) => patch({ discover: { ...get().target.discover, ...p } }),
    item: (_d, item) => {
      if (item.kind === 'probe') patchProbes(probesFrom([item]));
      if (item.kind !== 'discovered') return {};
      const { kind: _, ...found } = item;
      return { result: found };
    },
    end: (_d, e) => {
      if (e.type === 'succeeded') {
        const refused = probeRefusal;
        patchProbes(refused ? Object.fromEntries(e.result.targets.map((t) => [t.name, { ...idleJob, status: 'failed' as const, error: refused }])) : probesFrom(e.result.probes ?? []));
      } else {
        // Probes the job did not finish end with it.
        const probes = get().target.probes;
        patchProbes(Object.fromEntries(Object.entries(probes).filter(([, p]) => p.jobId === undefined && p.status === 'running').map(([n, p]) => [n, { ...p, status: 'cancelled' as const }])));
      }
      return {};
    },
  };
  /** The probe the user asked for again, for one target. */
  const probeJob = (name: string): JobSlot<'probe', ProbeState> => ({
    read: () => get().target.probes[name] ?? { ...idleJob },
    write: (p) => patchProbes({ [name]: { ...(get().target.probes[name] ?? idleJob), ...p } }),
  });
  return {
    target: initial(),
    setInitiatorName: (v) => patch({ initiatorName: v }),
    setChap: (which, p) => patch({ [which]: { ...get().target[which], ...p } } as Partial<TargetSlice['target']>),
    setTargetChapFor: (name, p) => patch({ chaps: { ...get().target.chaps, [name]: { ...(get().target.chaps[name] ?? emptyChap()), ...p } } }),
    discoverTargets: async () => {
      const t = get().target;
      if (t.discover.status === 'running') return;
      const chap = chapInput(t.discoveryChap);
      if (!chap.ok) return patch({ discover: { ...idleJob, status: 'failed', error: chap.error } });
      const ps = portals();
      if (ps.length === 0) return patch({ discover: { ...idleJob, status: 'failed', error: appError('INVALID_INPUT', 'No iSCSI portal chosen', { hint: 'Go back to Scan and tick at least one iSCSI portal.' }) } });
      // The job probes each target it finds; target CHAP that cannot be sent fails each probe here.
      const tchap = chapInput(t.targetChap);
      probeRefusal = tchap.ok ? undefined : tchap.error;
      const probe = tchap.ok ? { probe: tchap.value ? { chap: tchap.value } : {} } : {};
      patch({ discover: { ...idleJob }, probes: {}, chosen: undefined, confirm: undefined });
      await runJob('iscsi:discover', { portals: ps, initiatorName: t.initiatorName.trim(), ...(chap.value ? { chap: chap.value } : {}), ...probe }, discoverJob, { progress: { phase: 'discover', done: 0, total: ps.length } });
    },
    probe: async (name) => {
      const t = get().target;
      const portal = portalOf(name);
      if (!portal) return;
      const chap = chapInput(chapOf(t, name));
      if (!chap.ok) return patchProbes({ [name]: { ...idleJob, status: 'failed', error: chap.error } });
      const dchap = chapInput(t.discoveryChap);
      const input = {
        address: portal.address,
        port: portal.port,
        target: name,
        initiatorName: t.initiatorName.trim(),
        ...(chap.value ? { chap: chap.value } : {}),
        ...(dchap.ok && dchap.value ? { discoveryChap: dchap.value } : {}),
      };
      await runJob('iscsi:probe', input, probeJob(name));
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
    resetTarget: () => set({ target: initial() }),
  };
};
