import path from 'node:path';
import { DEFAULT_BUILD_BASE, containerReady, pickAutomatic } from '../../../shared/build';
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

/**
 * Builds iPXE for a project: source, engine, image, make. Without a chosen engine, "automatic"
 * takes one that can start now (shared/build.ts pickAutomatic): a container engine only with its
 * base or build image here, else the local compilers.
 */
export async function buildProject(p: Project, b: ProjectBuild, rep: BuildReporter): Promise<BuildResult & { engine: string; version: string; image?: string }> {
  const engineArgs = b.engineArgs ?? process.env.BOOTCHAIN_ENGINE_ARGS?.split(' ').filter(Boolean);
  const wanted = b.base ?? process.env.BOOTCHAIN_BUILD_BASE;
  // The Containerfile's own default is the build without a BASE argument (one image tag for both).
  const base = wanted === DEFAULT_BUILD_BASE ? undefined : wanted;
  const engines = await detectEngines({ base: wanted, engineArgs });
  const kind = b.engine ?? pickAutomatic(engines, wanted);
  const chosen = kind ? engines.find((e) => e.kind === kind) : undefined;
  if (!chosen || !chosen.available) {
    fail('TOOL_MISSING', b.engine ? `The ${b.engine} engine cannot be used: ${chosen?.problem ?? 'not found'}` : 'No way to build iPXE on this computer', {
      hint: engines.map((e) => `${e.kind}: ${e.problem ?? e.imageProblem ?? 'ok'}`).join('; '),
    });
  }
  if (!b.engine) rep.log(`automatic engine: ${chosen.kind}${chosen.kind === 'local' ? engines.filter((e) => e.kind !== 'local' && e.available && !containerReady(e, wanted)).map((e) => ` (${e.kind}: ${e.imageProblem ?? 'not ready'})`).join('') : ''}`);
  const src = await resolveSource(b.source, b.cacheDir, rep);
  let image: string | undefined;
  if (chosen.kind !== 'local') image = (await ensureImage(chosen.kind, engineArgs ?? [], rep, { base })).tag;
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
