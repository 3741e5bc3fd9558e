import type { StateCreator } from 'zustand';
import type { AppError } from '../../../shared/errors';
import type { JobEventOf } from '../../../shared/jobs';
import type { ChainLink, LinkId, VerifyResult } from '../../../shared/verify';
import type { VmBootResult, VmStage } from '../../../shared/vm';
import { api } from '../api/client';
import type { AppState } from './index';
import type { JobStatus } from './scan-slice';

/** Verify step and Diagnostics view: which workstation, options, the walk as it goes, the result. */
export interface VerifySlice {
  verify: {
    station: string;
    dhcp: boolean;
    /** The interface DISCOVERs go out of (its subnet's broadcast); '' the default route. */
    interface: string;
    kernelCmdline: string;
    jobId?: string | undefined;
    status: JobStatus;
    /** Links as their verdicts arrive (the picture colours as it goes). */
    links: Partial<Record<LinkId, ChainLink>>;
    result?: VerifyResult | undefined;
    error?: AppError | undefined;
    selected: LinkId | 'identity';
    /** Keep the selection when the walk ends (a re-check of one link). */
    keep?: boolean | undefined;
    log: string[];
  };
  /** VM test boot of the chosen workstation. */
  vm: {
    network: 'user' | 'tap';
    ifname: string;
    jobId?: string | undefined;
    status: JobStatus;
    stages: VmStage[];
    result?: VmBootResult | undefined;
    error?: AppError | undefined;
    log: string[];
  };
  setVm(patch: Partial<Pick<VerifySlice['vm'], 'network' | 'ifname'>>): void;
  startVm(): Promise<void>;
  cancelVm(): Promise<void>;
  applyVmEvent(e: JobEventOf<'vmboot'>): void;
  setVerify(patch: Partial<Pick<VerifySlice['verify'], 'station' | 'dhcp' | 'interface' | 'kernelCmdline' | 'selected'>>): void;
  /** Walks the chain again; `keepSelection` keeps the selected node (re-checking one link). */
  startVerify(keepSelection?: boolean): Promise<void>;
  cancelVerify(): Promise<void>;
  applyVerifyEvent(e: JobEventOf<'verify'>): void;
  /** Drops the walk and the VM test boot (what they checked changed); running ones are cancelled. */
  resetVerifyRun(): void;
}

export const createVerifySlice: StateCreator<AppState, [], [], VerifySlice> = (set, get) => {
  const patch = (p: Partial<VerifySlice['verify']>) => set((st) => ({ verify: { ...st.verify, ...p } }));
  const patchVm = (p: Partial<VerifySlice['vm']>) => set((st) => ({ vm: { ...st.vm, ...p } }));
  const stationOf = () => {
    const stations = ((get().identity.project as { workstations?: Array<{ name: string }> }).workstations ?? []).map((w) => w.name);
    const v = get().verify.station;
    return v && stations.includes(v) ? v : (stations[0] ?? '');
  };
  return {
    vm: { network: 'user', ifname: 'tap0', status: 'idle', stages: [], log: [] },
    setVm: (p) => patchVm(p),
    startVm: async () => {
      const vm = get().vm;
      if (vm.status === 'running') return;
      patchVm({ status: 'running', stages: [], result: undefined, error: undefined, log: [] });
      const outDir = get().build.result?.outDir;
      const r = await api().invoke('vm:boot', {
        project: get().identity.project,
        secrets: get().identity.secrets,
        station: stationOf(),
        network: vm.network === 'tap' ? { kind: 'tap', ifname: vm.ifname.trim() } : { kind: 'user' },
        ...(outDir ? { buildDir: outDir } : {}),
      });
      if (r.ok) patchVm({ jobId: r.value.jobId });
      else patchVm({ status: 'failed', error: r.error });
    },
    cancelVm: async () => {
      const id = get().vm.jobId;
      if (id) await api().invoke('jobs:cancel', { jobId: id });
    },
    applyVmEvent: (e) => {
      const vm = get().vm;
      if (e.jobId !== vm.jobId) return;
      if (e.type === 'item') patchVm({ stages: [...vm.stages, e.item] });
      else if (e.type === 'log') patchVm({ log: [...vm.log, e.line].slice(-50) });
      else if (e.type === 'succeeded') patchVm({ status: 'succeeded', result: e.result, stages: e.result.stages });
      else if (e.type === 'failed') patchVm({ status: 'failed', error: e.error });
      else if (e.type === 'cancelled') patchVm({ status: 'cancelled' });
    },
    verify: { station: '', dhcp: true, interface: '', kernelCmdline: '', status: 'idle', links: {}, selected: 'dhcp', log: [] },
    setVerify: (p) => patch(p),
    startVerify: async (keepSelection = false) => {
      const v = get().verify;
      if (v.status === 'running') return;
      const station = stationOf();
      patch({ station, status: 'running', links: {}, result: undefined, error: undefined, log: [], keep: keepSelection });
      const outDir = get().build.result?.outDir;
      const r = await api().invoke('verify:start', {
        project: get().identity.project,
        secrets: get().identity.secrets,
        station,
        dhcp: v.dhcp,
        ...(v.interface ? { interface: v.interface } : {}),
        ...(v.kernelCmdline.trim() ? { kernelCmdline: v.kernelCmdline.trim() } : {}),
        ...(outDir ? { buildDir: outDir } : {}),
      });
      if (r.ok) patch({ jobId: r.value.jobId });
      else patch({ status: 'failed', error: r.error });
    },
    cancelVerify: async () => {
      const id = get().verify.jobId;
      if (id) await api().invoke('jobs:cancel', { jobId: id });
    },
    applyVerifyEvent: (e) => {
      const v = get().verify;
      if (e.jobId !== v.jobId) return;
      if (e.type === 'item') patch({ links: { ...v.links, [e.item.id]: e.item } });
      else if (e.type === 'log') patch({ log: [...v.log, e.line].slice(-200) });
      else if (e.type === 'succeeded')
        patch({
          status: 'succeeded',
          result: e.result,
          links: Object.fromEntries(e.result.links.map((l) => [l.id, l])),
          selected: v.keep ? v.selected : (e.result.firstBroken ?? (e.result.identity.status === 'fail' ? 'identity' : v.selected)),
        });
      else if (e.type === 'failed') patch({ status: 'failed', error: e.error });
      else if (e.type === 'cancelled') patch({ status: 'cancelled' });
    },
    resetVerifyRun: () => {
      if (get().verify.status === 'running') void get().cancelVerify();
      if (get().vm.status === 'running') void get().cancelVm();
      // The chosen workstation and options stay: they are the user's.
      patch({ jobId: undefined, status: 'idle', links: {}, result: undefined, error: undefined, keep: undefined, log: [] });
      patchVm({ jobId: undefined, status: 'idle', stages: [], result: undefined, error: undefined, log: [] });
    },
  };
};
