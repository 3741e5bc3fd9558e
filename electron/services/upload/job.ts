/**
 * The upload job (Upload step, `bootchain upload`): the project's served set (bootfiles/served:
 * the generated iPXE scripts and the built binaries) to the NAS over SFTP or to a folder, with a
 * plan, a backup set, atomic writes, verification on the server and a TFTP fetch of every file.
 */
import { BootchainError } from '../../../shared/errors';
import { sha256 } from '../bootfiles/hash';
import type { JobContext } from '../jobs/runner';
import type { BackupSetInfo, RollbackResult, UploadedFile, UploadResult, UploadTarget } from '../../../shared/upload';
import { tftpGet } from '../tftp/client';
import { applyUpload, listBackupSets, planUpload, rollback, type TargetFs } from './engine';
import { FolderTarget } from './folder';
import { KnownHosts } from './known-hosts';
import { SftpTarget } from './ssh';

/** The served set under its old name, for callers not yet moved to bootfiles/served. */

export interface TargetDeps {
  /** Bootchain's known-hosts file. */
  knownHostsFile: string;
  signal?: AbortSignal | undefined;
}

/** Opens the target (SSH login with host-key check, or the folder). Close SFTP targets with `closeTarget`. */
export async function openTarget(target: UploadTarget, deps: TargetDeps): Promise<TargetFs> {
  if (target.kind === 'folder') return new FolderTarget(target.path).open();
  return SftpTarget.connect({ ...target, knownHosts: new KnownHosts(deps.knownHostsFile), signal: deps.signal });
}

export function closeTarget(t: TargetFs): void {
  if (t instanceof SftpTarget) t.close();
}

export async function withTarget<T>(target: UploadTarget, deps: TargetDeps, fn: (t: TargetFs) => Promise<T>): Promise<T> {
  const t = await openTarget(target, deps);
  try {
    return await fn(t);
  } finally {
    closeTarget(t);
  }
}

export interface UploadRequest {
  files: Record<string, Buffer>;
  target: UploadTarget;
  dryRun: boolean;
  planId?: string | undefined;
  /** host to fetch every file from over TFTP after the upload (the NAS), or undefined to skip. */
  tftpHost?: string | undefined;
  tftpPort?: number | undefined;
  /** Path prefix of the files as the TFTP server sees them (default: none, the root). */
  tftpPrefix?: string | undefined;
}

/** Runs one upload as a job: connect, plan, (apply, verify, TFTP check). */
export async function uploadJob(req: UploadRequest, deps: TargetDeps, ctx: Pick<JobContext<'upload'>, 'signal' | 'progress' | 'log' | 'item'>): Promise<UploadResult> {
  const t0 = Date.now();
  ctx.progress({ phase: req.target.kind === 'ssh' ? `connecting to ${req.target.host}` : 'opening the folder' });
  return withTarget(req.target, { ...deps, signal: ctx.signal }, async (t) => {
    ctx.progress({ phase: 'comparing with the server' });
    const planned = await planUpload(t, req.files, ctx.signal);
    const base = { target: t.label, durationMs: 0, bytes: 0 };
    const describe = (rel: string, action: UploadedFile['action'], verified: UploadedFile['verified']): UploadedFile => ({ file: rel, action, bytes: req.files[rel]!.length, sha256: sha256(req.files[rel]!), verified });
    if (req.dryRun) {
      ctx.log(`plan for ${t.label}: ${planned.plan.add.length} new, ${planned.plan.change.length} changed, ${planned.plan.same.length} unchanged, ${planned.plan.extra.length} extra`);
      return { ...base, dryRun: true, plan: planned.plan, planId: planned.planId, files: [], durationMs: Date.now() - t0 };
    }
    const total = planned.plan.bytes;
    let lastFile = '';
    const applied = await applyUpload(t, req.files, {
      signal: ctx.signal,
      planId: req.planId,
      log: (l) => ctx.log(l, 'warn'),
      onBytes: (done) => ctx.progress({ phase: 'uploading', done, total, message: lastFile }),
      onFile: (rel, action) => {
        lastFile = rel;
        ctx.log(`${action === 'add' ? 'added' : 'replaced'} ${rel} (${req.files[rel]!.length} bytes)`);
      },
    });
    // Written files were checked on the server before they were put in place; unchanged ones
    // matched by sha256 in the plan.
    const files = Object.keys(req.files)
      .sort()
      .map((rel) => {
        const action = applied.plan.add.includes(rel) ? 'add' : applied.plan.change.includes(rel) ? 'change' : 'same';
        return describe(rel, action, action === 'same' || applied.verified === 'none' ? 'unchanged' : applied.verified);
      });
    let tftp: UploadResult['tftp'];
    if (req.tftpHost) {
      ctx.progress({ phase: `fetching the files over TFTP from ${req.tftpHost}`, done: 0, total: files.length });
      const problems: string[] = [];
      for (const [i, f] of files.entries()) {
        const name = `${req.tftpPrefix ?? ''}${f.file}`;
        try {
          const r = await tftpGet(req.tftpHost, name, { port: req.tftpPort ?? 69, blksize: 1432, tsize: true, timeoutMs: 1_000, retries: 3, signal: ctx.signal });
          f.tftp = sha256(r.data) === f.sha256;
          if (!f.tftp) problems.push(`${name}: the TFTP server serves different bytes (${r.data.length} bytes) — is its root ${req.target.kind === 'ssh' ? req.target.root : 'this folder'}?`);
        } catch (e) {
          if (ctx.signal.aborted) throw e;
          f.tftp = false;
          const err = e instanceof BootchainError ? e.appError.message : String(e);
          problems.push(`${name}: ${err}`);
        }
        ctx.progress({ phase: 'TFTP check', done: i + 1, total: files.length });
      }
      tftp = { host: req.tftpHost, checked: files.length, ok: problems.length === 0, problems };
      for (const p of problems) ctx.log(`TFTP: ${p}`, 'warn');
    }
    for (const f of files) ctx.item(f);
    const bytes = files.filter((f) => f.action !== 'same').reduce((n, f) => n + f.bytes, 0);
    return {
      ...base,
      dryRun: false,
      plan: applied.plan,
      planId: applied.planId,
      files,
      ...(applied.backup ? { backup: applied.backup } : {}),
      ...(applied.rename ? { rename: applied.rename } : {}),
      ...(tftp ? { tftp } : {}),
      bytes,
      durationMs: Date.now() - t0,
    };
  });
}

export const backupsOf = (target: UploadTarget, deps: TargetDeps): Promise<BackupSetInfo[]> => withTarget(target, deps, listBackupSets);
export const rollbackOn = (target: UploadTarget, deps: TargetDeps, id?: string): Promise<RollbackResult> => withTarget(target, deps, (t) => rollback(t, id));

