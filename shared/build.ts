import { z } from 'zod';

/** Targets of the Build step, by the names users know. */
export const BUILD_TARGET_NAMES = { bios: 'bin/undionly.kpxe', uefi: 'bin-x86_64-efi/snponly.efi', 'ipxe-efi': 'bin-x86_64-efi/ipxe.efi' } as const;
export type BuildTargetName = keyof typeof BUILD_TARGET_NAMES;

/** One engine as detection saw it. */
export interface EngineInfo {
  kind: 'podman' | 'docker' | 'local';
  available: boolean;
  version?: string | undefined;
  problem?: string | undefined;
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
    serialConsole: z.boolean().default(false),
    https: z.boolean().default(false),
  })
  .strict();
export type BuildStartInput = z.input<typeof BuildStartInput>;
