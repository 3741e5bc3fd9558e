import { z } from 'zod';

/** Targets of the Build step, by the names users know. */
export const BUILD_TARGET_NAMES = { bios: 'bin/undionly.kpxe', uefi: 'bin-x86_64-efi/snponly.efi', 'ipxe-efi': 'bin-x86_64-efi/ipxe.efi' } as const;
export type BuildTargetName = keyof typeof BUILD_TARGET_NAMES;

/**
 * The targets a project's workstations boot: a BIOS station chainloads undionly.kpxe, a UEFI
 * one snponly.efi (the firmware's own network driver, as the generated DHCP configs hand out).
 */
export function targetsForFirmware(stations: ReadonlyArray<{ firmware: 'bios' | 'uefi' }>): BuildTargetName[] {
  const out: BuildTargetName[] = [];
  if (stations.some((w) => w.firmware === 'bios')) out.push('bios');
  if (stations.some((w) => w.firmware === 'uefi')) out.push('uefi');
  return out.length ? out : ['bios'];
}

/** Where stock iPXE comes from: Debian's and Ubuntu's `ipxe` package installs these files. */
export const STOCK_IPXE: Record<BuildTargetName, string> = {
  bios: '/usr/lib/ipxe/undionly.kpxe',
  uefi: '/usr/lib/ipxe/snponly.efi',
  'ipxe-efi': '/usr/lib/ipxe/ipxe.efi',
};

/**
 * Time left from the work done so far at the rate seen so far; undefined until the rate means
 * something (3 s and 3 % of the work in).
 */
export function estimateRemainingMs(done: number, total: number, elapsedMs: number): number | undefined {
  if (!(total > 0) || done <= 0 || elapsedMs < 3000 || done < total * 0.03) return undefined;
  return Math.max(0, (elapsedMs / done) * (total - Math.min(done, total)));
}

/** "45 s", "3 min": the rough figure an estimate deserves. */
export function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 10) return 'a few s';
  if (s < 90) return `${Math.round(s / 5) * 5} s`;
  return `${Math.round(s / 60)} min`;
}

/** One engine as detection saw it. */
export interface EngineInfo {
  kind: 'podman' | 'docker' | 'local';
  available: boolean;
  version?: string | undefined;
  problem?: string | undefined;
  /** Container engines: the base image checked (the default one unless asked about another). */
  base?: string | undefined;
  /** Container engines: the build image exists, or its base is there to build it from. */
  imageReady?: boolean | undefined;
  /** Container engines: why no build can start now (no base image here, and none can be pulled offline). */
  imageProblem?: string | undefined;
  /** Container engines: the images this engine holds (repository:tag), to choose a base from. */
  images?: string[] | undefined;
}

/** The default base of build/ipxe/Containerfile. */
export const DEFAULT_BUILD_BASE = 'docker.io/library/debian:bookworm-slim';

/** An image name as engines list it: with a tag (":latest" when none is given). */
export function normalizeImage(name: string): string {
  const n = name.trim();
  return /:[^/]*$/.test(n) || n.includes('@') ? n : `${n}:latest`;
}

/** Whether this container engine can build now with this base (undefined: the one detection checked). */
export function containerReady(e: EngineInfo, base?: string): boolean {
  if (!e.available || e.kind === 'local') return false;
  if (!base || (e.base && normalizeImage(base) === normalizeImage(e.base))) return !!e.imageReady;
  return (e.images ?? []).map(normalizeImage).includes(normalizeImage(base));
}

/**
 * What "automatic" builds with: a container engine only when it can start now (its build
 * image or base image is on this computer: pulling one needs a registry that may be out of
 * reach), else the local compilers, else nothing.
 */
export function pickAutomatic(engines: readonly EngineInfo[], base?: string): EngineInfo['kind'] | undefined {
  for (const kind of ['podman', 'docker'] as const) {
    const e = engines.find((x) => x.kind === kind);
    if (e && containerReady(e, base)) return kind;
  }
  return engines.find((x) => x.kind === 'local' && x.available) ? 'local' : undefined;
}

/** One built binary. */
export interface BuiltFile {
  target: string;
  file: string;
  size: number;
  sha256: string;
  embeddedVerified: boolean;
}

/** Result of a build job. */
export interface BuildJobResult {
  artifacts: BuiltFile[];
  kind: 'full' | 'relink';
  compiled: number;
  durationMs: number;
  manifest: string;
  engine: string;
  version: string;
  outDir: string;
}

/** An absolute path on this computer (POSIX or Windows). */
export const absPath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => p.startsWith('/') || /^[A-Za-z]:\\/.test(p), { message: 'an absolute path' })
  .refine((p) => !p.includes('\0'), { message: 'no NUL characters' });

/** Input of build:start. */
export const BuildStartInput = z
  .object({
    project: z.unknown(),
    engine: z.enum(['podman', 'docker', 'local']).optional(),
    source: z.discriminatedUnion('kind', [z.object({ kind: z.literal('release') }).strict(), z.object({ kind: z.literal('dir'), path: absPath }).strict(), z.object({ kind: z.literal('tarball'), path: absPath }).strict()]),
    targets: z.array(z.enum(['bios', 'uefi', 'ipxe-efi'])).min(1).max(3),
    /** Base image of the build container (podman/docker), e.g. docker.io/library/debian:trixie-slim. */
    base: z
      .string()
      .max(255)
      .regex(/^[a-z0-9][a-z0-9._/:@-]*$/i, { message: 'an image name like docker.io/library/debian:trixie-slim' })
      .optional(),
    serialConsole: z.boolean().default(false),
    https: z.boolean().default(false),
  })
  .strict();
export type BuildStartInput = z.input<typeof BuildStartInput>;
