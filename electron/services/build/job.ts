import path from 'node:path';
import { fail } from '../../../shared/errors';
import { embedScript } from '../../../shared/gen/ipxe';
import type { Project } from '../../../shared/model/project';
import { buildIpxe, type BuildReporter, type BuildResult, type BuildTarget } from './builder';
import { ensureImage } from './container';
import { detectEngines } from './engine';
import { resolveSource, type SourceSpec } from './source';

/** What a build of a project needs beyond the project. */
export interface ProjectBuild {
  engine?: 'podman' | 'docker' | 'local' | undefined;
  source: SourceSpec;
  targets: BuildTarget[];
  serialConsole?: boolean;
  https?: boolean;
  outDir: string;
  cacheDir: string;
  /** Base image for the container (a local one on offline machines); default BOOTCHAIN_BUILD_BASE. */
  base?: string | undefined;
  /** Global engine options; default BOOTCHAIN_ENGINE_ARGS (space separated). */
  engineArgs?: string[] | undefined;
}

/** Builds iPXE for a project: source, engine (first available when not chosen), image, make. */
export async function buildProject(p: Project, b: ProjectBuild, rep: BuildReporter): Promise<BuildResult & { engine: string; version: string; image?: string }> {
  const engines = await detectEngines();
  const chosen = b.engine ? engines.find((e) => e.kind === b.engine) : engines.find((e) => e.available);
  if (!chosen || !chosen.available) {
    fail('TOOL_MISSING', b.engine ? `The ${b.engine} engine cannot be used: ${chosen?.problem ?? 'not found'}` : 'No way to build iPXE on this computer', {
      hint: engines.map((e) => `${e.kind}: ${e.problem ?? 'ok'}`).join('; '),
    });
  }
  const src = await resolveSource(b.source, b.cacheDir, rep);
  const engineArgs = b.engineArgs ?? process.env.BOOTCHAIN_ENGINE_ARGS?.split(' ').filter(Boolean);
  let image: string | undefined;
  if (chosen.kind !== 'local') image = (await ensureImage(chosen.kind, engineArgs ?? [], rep, { base: b.base ?? process.env.BOOTCHAIN_BUILD_BASE })).tag;
  const r = await buildIpxe(
    {
      engine: chosen.kind,
      engineArgs,
      image,
      sourceDir: src.dir,
      sourceVersion: src.version,
      targets: b.targets,
      embed: embedScript(p),
      options: { serialConsole: b.serialConsole ?? false, https: b.https ?? false },
      outDir: path.resolve(b.outDir),
      cacheDir: b.cacheDir,
    },
    rep,
  );
  return { ...r, engine: chosen.kind, version: src.version, ...(image ? { image } : {}) };
}
