import type { StateCreator } from 'zustand';
import type { BuildTargetName, EngineInfo } from '../../../shared/build';
import { api } from '../api/client';
import type { AppState } from './index';
import { cancelJob, idleJob, runJob, type JobSlot, type JobState } from './job';

/** Build step: engine, source, targets, options, the running build and its result. */
export interface BuildSlice {
  build: JobState<'build'> & {
    engines: EngineInfo[];
    engine: 'auto' | 'podman' | 'docker' | 'local';
    sourceKind: 'release' | 'dir' | 'tarball';
    sourcePath: string;
    targets: BuildTargetName[];
    serialConsole: boolean;
    https: boolean;
    /** The user chose stock iPXE instead of building (no-build path a). */
    noBuild: boolean;
  };
  setBuild(patch: Partial<Pick<BuildSlice['build'], 'engine' | 'sourceKind' | 'sourcePath' | 'targets' | 'serialConsole' | 'https' | 'noBuild'>>): void;
  loadEngines(): Promise<void>;
  startBuild(): Promise<void>;
  cancelBuild(): Promise<void>;
  /** Drops the run and its result (what it built is stale); a running build is cancelled. */
  resetBuildRun(): void;
}

export const createBuildSlice: StateCreator<AppState, [], [], BuildSlice> = (set, get) => {
  const patch = (p: Partial<BuildSlice['build']>) => set((st) => ({ build: { ...st.build, ...p } }));
  const job: JobSlot<'build', BuildSlice['build']> = { read: () => get().build, write: patch };
  return {
    build: { engines: [], engine: 'auto', sourceKind: 'release', sourcePath: '', targets: ['bios'], serialConsole: false, https: false, noBuild: false, ...idleJob },
    setBuild: (p) => patch(p),
    loadEngines: async () => {
      const r = await api().invoke('build:engines', {});
      if (r.ok) patch({ engines: r.value });
    },
    startBuild: async () => {
      const b = get().build;
      if (b.status === 'running') return;
      const source = b.sourceKind === 'release' ? { kind: 'release' as const } : { kind: b.sourceKind, path: b.sourcePath.trim() };
      const input = { project: get().identity.project, ...(b.engine === 'auto' ? {} : { engine: b.engine }), source, targets: b.targets, serialConsole: b.serialConsole, https: b.https };
      await runJob('build:start', input, job, { progress: { phase: 'starting' } });
    },
    cancelBuild: () => cancelJob(get().build),
    resetBuildRun: () => {
      if (get().build.status === 'running') void get().cancelBuild();
      // Without the job id, the cancelled job's last events are ignored.
      patch(idleJob);
    },
  };
};
