/**
 * "Export to a folder": the upload target for users who copy files by hand, and the model of the
 * SSH target's guarantees: a plan first, each file written to a temporary name in the same folder,
 * flushed, then renamed (never a half-written file under the real name), every replaced file kept
 * in a versioned backup set, and one call restores the previous set byte for byte.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fail } from '../../../shared/errors';
import { computePlan, safeRelative, sha256, type UploadPlan } from './plan';

const META = '.bootchain';

/** Writes bytes under `file` atomically: temp name in the same folder, fsync, rename. */
export function atomicWrite(file: string, data: Buffer): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.bootchain-tmp-${randomBytes(4).toString('hex')}`);
  const fd = openSync(tmp, 'w', 0o644);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

interface BackupSet {
  id: string;
  created: string;
  /** Files the upload replaced (their old bytes are in the set). */
  replaced: string[];
  /** Files the upload added (a rollback removes them). */
  added: string[];
}

function owned(root: string): string[] {
  try {
    return JSON.parse(readFileSync(path.join(root, META, 'owned.json'), 'utf8')) as string[];
  } catch {
    return [];
  }
}

/** What exporting `files` into `root` would change. */
export function planFolder(root: string, files: Record<string, Buffer>): UploadPlan {
  const remote: Record<string, string | undefined> = {};
  for (const rel of Object.keys(files)) {
    const f = path.join(root, safeRelative(rel));
    remote[rel] = existsSync(f) ? sha256(readFileSync(f)) : undefined;
  }
  return computePlan(files, remote, owned(root));
}

/** Exports the files: backup of what is replaced, atomic writes, the owned list. */
export function exportToFolder(root: string, files: Record<string, Buffer>, opts: { dryRun?: boolean; onFile?: (rel: string, bytes: number) => void } = {}): { plan: UploadPlan; backup?: string } {
  const plan = planFolder(root, files);
  if (opts.dryRun || (plan.add.length === 0 && plan.change.length === 0)) return { plan };
  const id = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(2).toString('hex')}`;
  const setDir = path.join(root, META, 'backups', id);
  mkdirSync(setDir, { recursive: true });
  for (const rel of plan.change) atomicWrite(path.join(setDir, 'files', rel), readFileSync(path.join(root, rel)));
  const set: BackupSet = { id, created: new Date().toISOString(), replaced: plan.change, added: plan.add };
  atomicWrite(path.join(setDir, 'set.json'), Buffer.from(JSON.stringify(set, null, 2)));
  for (const rel of [...plan.add, ...plan.change]) {
    atomicWrite(path.join(root, rel), files[rel]!);
    opts.onFile?.(rel, files[rel]!.length);
  }
  atomicWrite(path.join(root, META, 'owned.json'), Buffer.from(JSON.stringify([...new Set([...owned(root), ...Object.keys(files)])].sort())));
  return { plan, backup: id };
}

/** Backup sets, newest first. */
export function listBackups(root: string): string[] {
  try {
    return readdirSync(path.join(root, META, 'backups')).sort().reverse();
  } catch {
    return [];
  }
}

/** Restores the newest backup set (or `id`): replaced files get their old bytes, added ones go. */
export function rollbackFolder(root: string, id?: string): { restored: string[]; removed: string[]; id: string } {
  const sets = listBackups(root);
  const chosen = id ?? sets[0];
  if (!chosen || !sets.includes(chosen)) fail('NOT_FOUND', id ? `No backup set ${id}` : 'There is nothing to roll back', { hint: 'Backups are made by each upload that replaces files.' });
  const setDir = path.join(root, META, 'backups', chosen);
  const set = JSON.parse(readFileSync(path.join(setDir, 'set.json'), 'utf8')) as BackupSet;
  for (const rel of set.replaced) atomicWrite(path.join(root, safeRelative(rel)), readFileSync(path.join(setDir, 'files', rel)));
  for (const rel of set.added) rmSync(path.join(root, safeRelative(rel)), { force: true });
  rmSync(setDir, { recursive: true, force: true });
  return { restored: set.replaced, removed: set.added, id: chosen };
}
