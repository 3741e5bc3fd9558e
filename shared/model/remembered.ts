/**
 * What a project remembers besides its model (issue 17 item 6): the Upload step's server (SSH
 * host, port, user, key path, TFTP root — or a folder), the Build step's settings, and the last
 * build and upload with a fingerprint of what they were made from, so that reopening the project
 * can go straight to Upload (or Verify) when nothing changed. No secret: passwords, passphrases and
 * CHAP secrets stay in the secrets store; the strict schema refuses any other key.
 */
import { z } from 'zod';
import { absPath } from '../build';

/** An absolute path on this computer, or empty (not set yet). */
const localPath = z.union([z.literal(''), absPath]);
/** A fingerprint: a hex digest of what a result was made from (a change detector, not a secret). */
const fingerprint = z.string().regex(/^[0-9a-f]{8,64}$/);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const when = z.string().max(40);

export const RememberedUpload = z
  .object({
    kind: z.enum(['ssh', 'folder']),
    /** Empty: the project's NAS. An address or a host name. */
    host: z.string().regex(/^([A-Za-z0-9.:-]{1,253})?$/, 'a host name or an address'),
    port: z.union([z.literal(''), z.string().regex(/^\d{1,5}$/)]),
    user: z.string().regex(/^([a-z_][a-z0-9_.-]{0,31})?$/, 'a user name'),
    root: z.string().regex(/^(\/[A-Za-z0-9._/-]*)?$/, 'an absolute path on the NAS'),
    auth: z.enum(['key', 'agent', 'password']),
    keyPath: localPath,
    folder: localPath,
  })
  .strict();

export const RememberedBuild = z
  .object({
    engine: z.enum(['auto', 'podman', 'docker', 'local']),
    sourceKind: z.enum(['release', 'dir', 'tarball']),
    sourcePath: localPath,
    targets: z.array(z.enum(['bios', 'uefi', 'ipxe-efi'])).min(1).max(3),
    /** The user ticked the targets (else the workstations' firmware picks them). */
    targetsTouched: z.boolean().optional(),
    /** The build container's base image ('' the default). */
    base: z.string().regex(/^[A-Za-z0-9._/:@-]{0,255}$/, 'an image name like docker.io/library/debian:bookworm').optional(),
    serialConsole: z.boolean(),
    https: z.boolean(),
    noBuild: z.boolean(),
  })
  .strict();

/** The last successful build: its result and the fingerprint of its inputs (embed.ipxe and the options). */
export const LastBuild = z
  .object({
    inputs: fingerprint,
    at: when,
    artifacts: z
      .array(z.object({ target: z.string().max(200), file: z.string().max(200), size: z.number().int().min(0), sha256, embeddedVerified: z.boolean() }).strict())
      .max(8),
    kind: z.enum(['full', 'relink']),
    compiled: z.number().int().min(0),
    durationMs: z.number().min(0),
    manifest: z.string().max(200),
    engine: z.string().max(100),
    version: z.string().max(100),
    outDir: z.string().max(4096),
  })
  .strict();

/** The last upload that put the files in place: where, what, and the fingerprint of what it sent. */
export const LastUpload = z
  .object({
    inputs: fingerprint,
    at: when,
    target: z.string().max(400),
    files: z.array(z.object({ file: z.string().max(200), bytes: z.number().int().min(0), sha256 }).strict()).max(1024),
    tftpOk: z.boolean().optional(),
  })
  .strict();

export const Remembered = z
  .object({
    upload: RememberedUpload.optional(),
    build: RememberedBuild.optional(),
    lastBuild: LastBuild.optional(),
    lastUpload: LastUpload.optional(),
  })
  .strict();
export type Remembered = z.output<typeof Remembered>;
export type LastBuild = z.output<typeof LastBuild>;
export type LastUpload = z.output<typeof LastUpload>;

/** A 64-bit FNV-1a digest in hex: detects a change in what a result was made from (not a security hash). */
export function fingerprintOf(text: string): string {
  let h = 0xcbf29ce484222325n;
  const bytes = new TextEncoder().encode(text);
  for (const b of bytes) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h.toString(16).padStart(16, '0');
}
