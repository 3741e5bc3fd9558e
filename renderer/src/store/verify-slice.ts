import type { StateCreator } from 'zustand';
import type { ChainLink, LinkId } from '../../../shared/verify';
import type { VmStage } from '../../../shared/vm';
import { stationOrFirst } from './identity-slice';
import type { AppState } from './index';
import { cancelJob, idleJob, runJob, type JobSlot, type JobState } from './job';

/** Verify step and Diagnostics view: which workstation, options, the walk as it goes, the result. */
export interface VerifySlice {
  verify: JobState<'verify'> & {
    station: string;
    dhcp: boolean;
    /** The interface DISCOVERs go out of (its subnet's broadcast); '' the default route. */
    interface: string;
    kernelCmdline: string;
    /** Links as their verdicts arrive (the picture colours as it goes). */
    links: Partial<Record<LinkId, ChainLink>>;
    selected: LinkId | 'identity';
    /** Keep the selection when the walk ends (a re-check of one link). */
    keep?: boolean | undefined;
  };
  /** VM test boot of the chosen workstation. */
  vm: JobState<'vmboot'> & {
    network: 'user' | 'tap';
    ifname: string;
    stages: VmStage[];
  };
  setVm(patch: Partial<Pick<VerifySlice['vm'], 'network' | 'ifname'>>): void;
  startVm(): Promise<void>;
  cancelVm(): Promise<void>;
  setVerify(patch: Partial<Pick<VerifySlice['verify'], 'station' | 'dhcp' | 'interface' | 'kernelCmdline' | 'selected'>>): void;
  /** Walks the chain again; `keepSelection` keeps the selected node (re-checking one link). */
  startVerify(keepSelection?: boolean): Promise<void>;
  cancelVerify(): Promise<void>;
  /** Drops the walk and the VM test boot (what they checked changed); running ones are cancelled. */
  resetVerifyRun(): void;
}

export const createVerifySlice: StateCreator<AppState, [], [], VerifySlice> = (set, get) => {
  const patch = (p: Partial<VerifySlice['verify']>) => set((st) => ({ verify: { ...st.verify, ...p } }));
  const patchVm = (p: Partial<VerifySlice['vm']>) => set((st) => ({ vm: { ...st.vm, ...p } }));
  const stationOf = () => stationOrFirst(get().identity.project, get().verify.station);
  /** The VM test boot: each stage reached is an item; the result holds them all. */
  const vmJob: JobSlot<'vmboot', VerifySlice['vm']> = {
    read: () => get().vm,
    write: patchVm,
    item: (vm, stage) => ({ stages: [...vm.stages, stage] }),
    end: (_vm, e) => (e.type === 'succeeded' ? { stages: e.result.stages } : {}),
    logCap: 50,
  };
  /** The walk: each link's verdict is an item; at the end the first broken link (or identity) is selected. */
  const walk: JobSlot<'verify', VerifySlice['verify']> = {
    read: () => get().verify,
    write: patch,
    item: (v, link) => ({ links: { ...v.links, [link.id]: link } }),
    end: (v, e) =>
      e.type === 'succeeded'
        ? {
            links: Object.fromEntries(e.result.links.map((l) => [l.id, l])),
            selected: v.keep ? v.selected : (e.result.firstBroken ?? (e.result.identity.status === 'fail' ? 'identity' : v.selected)),
          }
        : {},
  };
  return {
    vm: { network: 'user', ifname: 'tap0', ...idleJob, stages: [] },
    setVm: (p) => patchVm(p),
    startVm: async () => {
      const vm = get().vm;
      if (vm.status === 'running') return;
      const network = vm.network === 'tap' ? { kind: 'tap' as const, ifname: vm.ifname.trim() } : { kind: 'user' as const };
      await runJob('vm:boot', { project: get().identity.project, secrets: get().identity.secrets, station: stationOf(), network }, vmJob, { stages: [] });
    },
    cancelVm: () => cancelJob(get().vm),
    verify: { station: '', dhcp: true, interface: '', kernelCmdline: '', ...idleJob, links: {}, selected: 'dhcp' },
    setVerify: (p) => patch(p),
    startVerify: async (keepSelection = false) => {
      const v = get().verify;
      if (v.status === 'running') return;
      const station = stationOf();
      const input = {
        project: get().identity.project,
        secrets: get().identity.secrets,
        station,
        dhcp: v.dhcp,
        stockBinaries: get().build.noBuild,
        ...(v.interface ? { interface: v.interface } : {}),
        ...(v.kernelCmdline.trim() ? { kernelCmdline: v.kernelCmdline.trim() } : {}),
      };
      await runJob('verify:start', input, walk, { station, links: {}, keep: keepSelection });
    },
    cancelVerify: () => cancelJob(get().verify),
    resetVerifyRun: () => {
      if (get().verify.status === 'running') void get().cancelVerify();
      if (get().vm.status === 'running') void get().cancelVm();
      // The chosen workstation and options stay: they are the user's.
      patch({ ...idleJob, links: {}, keep: undefined });
      patchVm({ ...idleJob, stages: [] });
    },
  };
};
