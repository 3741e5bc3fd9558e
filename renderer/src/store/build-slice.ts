import type { StateCreator } from 'zustand';
import { pickAutomatic, targetsForFirmware, type BuildTargetName, type EngineInfo } from '../../../shared/build';
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
    /** The targets the user ticked; until then the workstations' firmware decides (buildTargets). */
    targets: BuildTargetName[];
    targetsTouched: boolean;
    /** Base image of the build container; '' is the default (or the one detection reported). */
    base: string;
    serialConsole: boolean;
    https: boolean;
    /** The user chose stock iPXE instead of building (no-build path a). */
    noBuild: boolean;
  };
  setBuild(patch: Partial<Pick<BuildSlice['build'], 'engine' | 'sourceKind' | 'sourcePath' | 'targets' | 'base' | 'serialConsole' | 'https' | 'noBuild'>>): void;
  loadEngines(): Promise<void>;
  startBuild(): Promise<void>;
  cancelBuild(): Promise<void>;
  /** Drops the run and its result (what it built is stale); a running build is cancelled. */
  resetBuildRun(): void;
}

/** The targets to build: what the user ticked, else one per firmware of the project's workstations. */
export function buildTargets(s: Pick<AppState, 'build' | 'identity'>): BuildTargetName[] {
  if (s.build.targetsTouched) return s.build.targets;
  const ws = (s.identity.project.workstations ?? []).flatMap((w) => (w?.firmware === 'bios' || w?.firmware === 'uefi' ? [{ firmware: w.firmware }] : []));
  return targetsForFirmware(ws);
}

/** The engine a build will use: the chosen one, or what "automatic" picks now (undefined: none can run). */
export function effectiveEngine(b: BuildSlice['build']): EngineInfo['kind'] | undefined {
  return b.engine === 'auto' ? pickAutomatic(b.engines, b.base.trim() || undefined) : b.engine;
}

export const createBuildSlice: StateCreator<AppState, [], [], BuildSlice> = (set, get) => {
  const patch = (p: Partial<BuildSlice['build']>) => set((st) => ({ build: { ...st.build, ...p } }));
  const job: JobSlot<'build', BuildSlice['build']> = { read: () => get().build, write: patch };
  return {
    build: { engines: [], engine: 'auto', sourceKind: 'release', sourcePath: '', targets: ['bios'], targetsTouched: false, base: '', serialConsole: false, https: false, noBuild: false, ...idleJob },
    setBuild: (p) => patch(p.targets ? { ...p, targetsTouched: true } : p),
    loadEngines: async () => {
      const r = await api().invoke('build:engines', {});
      if (r.ok) patch({ engines: r.value });
    },
    startBuild: async () => {
      const b = get().build;
      if (b.status === 'running') return;
      const source = b.sourceKind === 'release' ? { kind: 'release' as const } : { kind: b.sourceKind, path: b.sourcePath.trim() };
      const base = b.base.trim();
      const input = { project: get().identity.project, ...(b.engine === 'auto' ? {} : { engine: b.engine }), ...(base && b.engine !== 'local' ? { base } : {}), source, targets: buildTargets(get()), serialConsole: b.serialConsole, https: b.https };
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
