import type { StateCreator } from 'zustand';
import type { BuildJobResult, BuildTargetName, EngineInfo } from '../../../shared/build';
import type { AppError } from '../../../shared/errors';
import type { JobEventOf, JobProgress } from '../../../shared/jobs';
import { api } from '../api/client';
import type { AppState } from './index';
import type { JobStatus } from './scan-slice';

/** Build step: engine, source, targets, options, the running build and its result. */
export interface BuildSlice {
  build: {
    engines: EngineInfo[];
    engine: 'auto' | 'podman' | 'docker' | 'local';
    sourceKind: 'release' | 'dir' | 'tarball';
    sourcePath: string;
    targets: BuildTargetName[];
    serialConsole: boolean;
    https: boolean;
    /** The user chose stock iPXE instead of building (no-build path a). */
    noBuild: boolean;
    jobId?: string | undefined;
    status: JobStatus;
    progress?: JobProgress | undefined;
    log: string[];
    error?: AppError | undefined;
    result?: BuildJobResult | undefined;
  };
  setBuild(patch: Partial<Pick<BuildSlice['build'], 'engine' | 'sourceKind' | 'sourcePath' | 'targets' | 'serialConsole' | 'https' | 'noBuild'>>): void;
  loadEngines(): Promise<void>;
  startBuild(): Promise<void>;
  cancelBuild(): Promise<void>;
  applyBuildEvent(e: JobEventOf<'build'>): void;
  /** Drops the run and its result (what it built is stale); a running build is cancelled. */
  resetBuildRun(): void;
}

export const createBuildSlice: StateCreator<AppState, [], [], BuildSlice> = (set, get) => {
  const patch = (p: Partial<BuildSlice['build']>) => set((st) => ({ build: { ...st.build, ...p } }));
  return {
    build: { engines: [], engine: 'auto', sourceKind: 'release', sourcePath: '', targets: ['bios'], serialConsole: false, https: false, noBuild: false, status: 'idle', log: [] },
    setBuild: (p) => patch(p),
    loadEngines: async () => {
      const r = await api().invoke('build:engines', {});
      if (r.ok) patch({ engines: r.value });
    },
    startBuild: async () => {
      const b = get().build;
      if (b.status === 'running') return;
      patch({ status: 'running', error: undefined, result: undefined, log: [], progress: { phase: 'starting' } });
      const source = b.sourceKind === 'release' ? { kind: 'release' as const } : { kind: b.sourceKind, path: b.sourcePath.trim() };
      const r = await api().invoke('build:start', {
        project: get().identity.project,
        ...(b.engine === 'auto' ? {} : { engine: b.engine }),
        source,
        targets: b.targets,
        serialConsole: b.serialConsole,
        https: b.https,
      });
      if (r.ok) patch({ jobId: r.value.jobId });
      else patch({ status: 'failed', error: r.error, progress: undefined });
    },
    cancelBuild: async () => {
      const id = get().build.jobId;
      if (id) await api().invoke('jobs:cancel', { jobId: id });
    },
    applyBuildEvent: (e) => {
      const b = get().build;
      if (e.jobId !== b.jobId) return;
      if (e.type === 'progress') patch({ progress: e.progress });
      else if (e.type === 'log') patch({ log: [...b.log, e.line].slice(-200) });
      else if (e.type === 'succeeded') patch({ status: 'succeeded', result: e.result, progress: undefined });
      else if (e.type === 'failed') patch({ status: 'failed', error: e.error, progress: undefined });
      else if (e.type === 'cancelled') patch({ status: 'cancelled', progress: undefined });
    },
    resetBuildRun: () => {
      if (get().build.status === 'running') void get().cancelBuild();
      // Without the job id, the cancelled job's last events are ignored.
      patch({ jobId: undefined, status: 'idle', progress: undefined, log: [], error: undefined, result: undefined });
    },
  };
};
