/**
 * The upload contract: where the artifacts go (an SSH/SFTP server or a local folder), how the
 * user authenticates, and what an upload reports. Secrets pass through here only in memory.
 */
import { z } from 'zod';
import { absPath } from './build';
import { isIPv4 } from './ipv4';
import { remotePath } from './model/project';

/** A host name or IPv4 address (no spaces, quotes or shell characters). */
const host = z
  .string()
  .min(1)
  .max(253)
  .refine((h) => isIPv4(h) || /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(h), {
    message: 'a host name or an IPv4 address like 192.168.1.20',
  });
const port = z.number().int().min(1).max(65535);
const secret = z.string().min(1).max(1024);

/** How to log in: a key file (maybe with a passphrase), the SSH agent, or a password. */
export const SshAuth = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('key'), path: absPath, passphrase: secret.optional() }).strict(),
  z.object({ kind: z.literal('agent'), socket: absPath.optional() }).strict(),
  z.object({ kind: z.literal('password'), password: secret }).strict(),
]);
export type SshAuth = z.output<typeof SshAuth>;

export const SshEndpoint = z
  .object({
    host,
    port: port.default(22),
    user: z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}$/, 'a user name'),
  })
  .strict();

/** Where the files go. `root` is the TFTP root on the server (what the TFTP server serves). */
export const UploadTarget = z.discriminatedUnion('kind', [
  SshEndpoint.extend({ kind: z.literal('ssh'), root: remotePath, auth: SshAuth }).strict(),
  z.object({ kind: z.literal('folder'), path: absPath }).strict(),
]);
export type UploadTarget = z.output<typeof UploadTarget>;
export type UploadTargetInput = z.input<typeof UploadTarget>;

/** Input of upload:start: the project's files (generated + built) to the target. */
export const UploadStartInput = z
  .object({
    project: z.unknown(),
    /** CHAP secrets by reference, for the per-workstation scripts. */
    secrets: z.record(z.string().max(128), z.string().max(256)).default({}),
    target: UploadTarget,
    /** Only compute and report the plan. */
    dryRun: z.boolean().default(false),
    /** After the upload, fetch every file back over TFTP from the NAS and compare. */
    verifyTftp: z.boolean().default(true),
    /** Sign off on this plan id (from a dry run): refused if the server changed since. */
    planId: z.string().max(128).optional(),
    /** Send this computer's stock iPXE binaries (Debian's ipxe package) instead of a build's. */
    stockBinaries: z.boolean().default(false),
  })
  .strict();
export type UploadStartInput = z.input<typeof UploadStartInput>;

/** Generated files that belong in the TFTP root (not the build input, kernel notes or router configs). */
export const isServedScript = (name: string): boolean => name.endsWith('.ipxe') && name !== 'embed.ipxe' && !name.includes('/');

export const HostKeyInput = SshEndpoint.pick({ host: true, port: true }).strict();
export const TrustInput = SshEndpoint.pick({ host: true, port: true })
  .extend({ fingerprint: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'a fingerprint like SHA256:…') })
  .strict();
export const RollbackInput = z.object({ target: UploadTarget, id: z.string().regex(/^[A-Za-z0-9-]{1,80}$/).optional() }).strict();
export const BackupsInput = z.object({ target: UploadTarget }).strict();

/** What a server's host key looks like against the app's known hosts. */
export interface HostKeyStatus {
  host: string;
  port: number;
  keyType: string;
  fingerprint: string;
  status: 'trusted' | 'unknown' | 'changed';
  /** When changed: the fingerprint trusted before. */
  knownFingerprint?: string;
}

/** What will happen to each file. */
export interface UploadPlan {
  add: string[];
  change: string[];
  same: string[];
  /** Files Bootchain put there before that the new set no longer has (left alone, listed). */
  extra: string[];
  /** Bytes that will be written. */
  bytes: number;
}

/** One file's outcome, streamed as a job item. */
export interface UploadedFile {
  file: string;
  action: 'add' | 'change' | 'same';
  bytes: number;
  sha256: string;
  /**
   * How the bytes on the server were checked before they were put in place: sha256sum over the
   * shell, read back over SFTP, or read locally (folder); unchanged: the plan found the same sha256.
   */
  verified: 'shell-sha256' | 'read-back' | 'local' | 'unchanged';
  /** The TFTP server served the same bytes (undefined when not checked). */
  tftp?: boolean;
}

/** A backup set on the server: what one upload replaced and added. */
export interface BackupSetInfo {
  id: string;
  created: string;
  replaced: string[];
  added: string[];
}

/** Result of an upload job. */
export interface UploadResult {
  target: string;
  dryRun: boolean;
  plan: UploadPlan;
  planId: string;
  files: UploadedFile[];
  /** The backup set made by this upload (rollback restores it). */
  backup?: string;
  /** How files were put in place: posix-rename (atomic) or the remove+rename fallback. */
  rename?: 'atomic' | 'fallback';
  tftp?: { host: string; checked: number; ok: boolean; problems: string[] };
  durationMs: number;
  bytes: number;
}

export interface RollbackResult {
  id: string;
  restored: string[];
  removed: string[];
}
