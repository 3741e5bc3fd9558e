import type { StateCreator } from 'zustand';
import type { InstallVmEvent } from '../../../shared/install';
import { api } from '../api/client';
import { stationOrFirst } from './identity-slice';
import type { AppState } from './index';
import { cancelJob, idleJob, runJob, type JobSlot, type JobState } from './job';

/** How the OS gets onto the disk: an image written from here, an installer VM, or the user's own Linux machine. */
export type InstallMode = 'image' | 'vm' | 'linux';

/** Install step: the workstation, the image, its inspection (what the disk holds), the write. */
export interface InstallSlice {
  install: {
    station: string;
    mode: InstallMode;
    /** A local path or an http(s) URL. */
    image: string;
    verify: boolean;
    /** Skip zero runs where the target guarantees zeros. */
    sparse: boolean;
    /** The overwrite confirm is open (the disk is not empty), for the write or the installer VM. */
    confirming: false | 'write' | 'vm';
    /** The installer ISO: a local path or an http(s) URL. */
    iso: string;
  };
  installInspect: JobState<'inspect'>;
  installWrite: JobState<'write'>;
  /** The installer VM: its screen once QEMU listens, the last console lines. */
  installVm: JobState<'install'> & { screen?: Extract<InstallVmEvent, { kind: 'screen' }>['vnc'] | undefined; console: string[] };
  setInstall(patch: Partial<Pick<InstallSlice['install'], 'station' | 'mode' | 'image' | 'verify' | 'sparse' | 'iso'>>): void;
  /** Checks the disk, asks when it is not empty, then starts the installer VM. */
  requestInstallVm(): Promise<void>;
  /** The installer is done or the user gives up: pulls the plug (the run ends "stopped" and the disk is checked). */
  stopInstallVm(): Promise<void>;
  /** Logs in as the workstation: what its disk holds, what the image is (nothing is written). */
  inspectInstall(): Promise<void>;
  /** Asks first when the disk is not empty (the confirm), else writes. */
  requestWrite(): Promise<void>;
  /** The confirm's answer. */
  confirmWrite(yes: boolean): Promise<void>;
  cancelWrite(): Promise<void>;
  resetInstallRun(): void;
}

/** The workstation the step works on: the chosen one when it still exists, else the first. */
export function installStation(s: AppState): string {
  return stationOrFirst(s.identity.project, s.install.station);
}

export const createInstallSlice: StateCreator<AppState, [], [], InstallSlice> = (set, get) => {
  const patch = (p: Partial<InstallSlice['install']>) => set((st) => ({ install: { ...st.install, ...p } }));
  /** What to start once the inspection that requestWrite / requestInstallVm started has ended (runJob settles when the job starts, not when it ends). */
  let afterInspect: 'write' | 'vm' | undefined;
  const inspectSlot: JobSlot<'inspect', InstallSlice['installInspect']> = {
    read: () => get().installInspect,
    write: (p) => set((st) => ({ installInspect: { ...st.installInspect, ...p } })),
    end: (_s, e) => {
      const next = afterInspect;
      afterInspect = undefined;
      if (next && e.type === 'succeeded' && (next === 'vm' || e.result.refusals.length === 0)) queueMicrotask(() => (e.result.needsConfirm ? patch({ confirming: next }) : void (next === 'vm' ? startVm() : write())));
      return {};
    },
  };
  const writeSlot: JobSlot<'write', InstallSlice['installWrite']> = { read: () => get().installWrite, write: (p) => set((st) => ({ installWrite: { ...st.installWrite, ...p } })), logCap: 100 };
  const vmSlot: JobSlot<'install', InstallSlice['installVm']> = {
    read: () => get().installVm,
    write: (p) => set((st) => ({ installVm: { ...st.installVm, ...p } })),
    item: (v, e) => (e.kind === 'screen' ? { screen: e.vnc } : { console: [...v.console, e.line].slice(-40) }),
    end: () => ({ screen: undefined }),
    logCap: 100,
  };
  const startVm = async () => {
    const s = get();
    await runJob('install:vm', { ...base(), iso: s.install.iso.trim(), overwrite: !!s.installInspect.result?.needsConfirm }, vmSlot, { screen: undefined, console: [] });
  };
  const base = () => ({ project: get().identity.project, secrets: get().identity.secrets, station: installStation(get()) });
  const write = async () => {
    const s = get();
    const i = s.installInspect.result;
    // The disk the user saw in the inspection (and confirmed): the service refuses any other.
    const expect = i ? { target: i.lun.target, lun: i.lun.lun } : undefined;
    await runJob('install:write', { ...base(), image: s.install.image.trim(), verify: s.install.verify, sparse: s.install.sparse ? 'auto' : 'never', overwrite: !!i?.needsConfirm, ...(expect ? { expect } : {}) }, writeSlot);
  };
  return {
    install: { station: '', mode: 'image', image: '', verify: true, sparse: true, confirming: false, iso: '' },
    installInspect: { ...idleJob },
    installWrite: { ...idleJob },
    installVm: { ...idleJob, console: [] },
    setInstall: (p) => {
      const cur = get().install;
      patch(p);
      // Another image or workstation: the last inspection and write do not describe it.
      if ((p.image !== undefined && p.image !== cur.image) || (p.station !== undefined && p.station !== cur.station)) get().resetInstallRun();
      else if (p.iso !== undefined && p.iso !== cur.iso && get().installVm.status !== 'running') set({ installVm: { ...idleJob, console: [] } });
    },
    inspectInstall: async () => {
      if (get().installInspect.status === 'running' || get().installWrite.status === 'running') return;
      const image = get().install.image.trim();
      await runJob('install:inspect', { ...base(), ...(image ? { image } : {}) }, inspectSlot);
    },
    requestWrite: async () => {
      if (get().installWrite.status === 'running') return;
      // Inspect again right before: the confirm must show what is on the disk now (an earlier write changed it).
      afterInspect = 'write';
      await get().inspectInstall();
    },
    confirmWrite: async (yes) => {
      const what = get().install.confirming;
      patch({ confirming: false });
      if (yes) await (what === 'vm' ? startVm() : write());
    },
    requestInstallVm: async () => {
      if (get().installVm.status === 'running') return;
      afterInspect = 'vm';
      // The disk only (no image): what the installer would replace.
      await runJob('install:inspect', base(), inspectSlot);
    },
    stopInstallVm: async () => {
      const id = get().installVm.jobId;
      if (id) await api().invoke('install:stop', { jobId: id });
    },
    cancelWrite: async () => {
      await cancelJob(get().installWrite);
    },
    resetInstallRun: () => {
      if (get().installWrite.status === 'running') void cancelJob(get().installWrite);
      if (get().installVm.status === 'running') void cancelJob(get().installVm);
      set((st) => ({ install: { ...st.install, confirming: false }, installInspect: { ...idleJob }, installWrite: { ...idleJob }, installVm: { ...idleJob, console: [] } }));
    },
  };
};
