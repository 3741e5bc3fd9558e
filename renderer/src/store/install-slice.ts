import type { StateCreator } from 'zustand';
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
    /** The overwrite confirm is open (the disk is not empty). */
    confirming: boolean;
  };
  installInspect: JobState<'inspect'>;
  installWrite: JobState<'write'>;
  setInstall(patch: Partial<Pick<InstallSlice['install'], 'station' | 'mode' | 'image' | 'verify' | 'sparse'>>): void;
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
  const names = ((s.identity.project as { workstations?: Array<{ name: string }> }).workstations ?? []).map((w) => w.name);
  return names.includes(s.install.station) ? s.install.station : (names[0] ?? '');
}

export const createInstallSlice: StateCreator<AppState, [], [], InstallSlice> = (set, get) => {
  const patch = (p: Partial<InstallSlice['install']>) => set((st) => ({ install: { ...st.install, ...p } }));
  /** Write once the inspection that requestWrite started has ended (runJob settles when the job starts, not when it ends). */
  let writeAfterInspect = false;
  const inspectSlot: JobSlot<'inspect', InstallSlice['installInspect']> = {
    read: () => get().installInspect,
    write: (p) => set((st) => ({ installInspect: { ...st.installInspect, ...p } })),
    end: (_s, e) => {
      if (writeAfterInspect) {
        writeAfterInspect = false;
        if (e.type === 'succeeded' && e.result.refusals.length === 0) queueMicrotask(() => (e.result.needsConfirm ? patch({ confirming: true }) : void write()));
      }
      return {};
    },
  };
  const writeSlot: JobSlot<'write', InstallSlice['installWrite']> = { read: () => get().installWrite, write: (p) => set((st) => ({ installWrite: { ...st.installWrite, ...p } })), logCap: 100 };
  const base = () => ({ project: get().identity.project, secrets: get().identity.secrets, station: installStation(get()) });
  const write = async () => {
    const s = get();
    const i = s.installInspect.result;
    // The disk the user saw in the inspection (and confirmed): the service refuses any other.
    const expect = i ? { target: i.lun.target, lun: i.lun.lun } : undefined;
    await runJob('install:write', { ...base(), image: s.install.image.trim(), verify: s.install.verify, sparse: s.install.sparse ? 'auto' : 'never', overwrite: !!i?.needsConfirm, ...(expect ? { expect } : {}) }, writeSlot);
  };
  return {
    install: { station: '', mode: 'image', image: '', verify: true, sparse: true, confirming: false },
    installInspect: { ...idleJob },
    installWrite: { ...idleJob },
    setInstall: (p) => {
      const cur = get().install;
      patch(p);
      // Another image or workstation: the last inspection and write do not describe it.
      if ((p.image !== undefined && p.image !== cur.image) || (p.station !== undefined && p.station !== cur.station)) get().resetInstallRun();
    },
    inspectInstall: async () => {
      if (get().installInspect.status === 'running' || get().installWrite.status === 'running') return;
      const image = get().install.image.trim();
      await runJob('install:inspect', { ...base(), ...(image ? { image } : {}) }, inspectSlot);
    },
    requestWrite: async () => {
      if (get().installWrite.status === 'running') return;
      // Inspect again right before: the confirm must show what is on the disk now (an earlier write changed it).
      writeAfterInspect = true;
      await get().inspectInstall();
    },
    confirmWrite: async (yes) => {
      patch({ confirming: false });
      if (yes) await write();
    },
    cancelWrite: async () => {
      await cancelJob(get().installWrite);
    },
    resetInstallRun: () => {
      if (get().installWrite.status === 'running') void cancelJob(get().installWrite);
      set((st) => ({ install: { ...st.install, confirming: false }, installInspect: { ...idleJob }, installWrite: { ...idleJob } }));
    },
  };
};
