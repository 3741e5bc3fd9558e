/**
 * The upload engine, one implementation for every target (SFTP server, local folder):
 *
 * - a plan first (add / change / same / extra, by sha256) — a dry run stops there;
 * - paths confined to the root: no "..", and no symbolic link is followed (a link where a folder
 *   or file should be is refused), so nothing can be written outside what TFTP serves;
 * - a backup set of every file about to be replaced, complete (set.json written last) before
 *   the first file is touched;
 * - each file written to a temporary name in its own folder, flushed, then renamed over the old
 *   one (posix-rename: atomic; the fallback keeps the old copy until the new one is in place), so
 *   a reader — the TFTP server — sees the complete old or the complete new file, never a part;
 * - leftovers of an interrupted run (temporary files, a moved-aside old copy, a half-made backup
 *   set) are repaired or removed at the start of the next run;
 * - verification of what the server holds afterwards; rollback restores the newest set.
 */
import { randomBytes } from 'node:crypto';
import { fail } from '../../../shared/errors';
import type { BackupSetInfo, RollbackResult, UploadPlan } from '../../../shared/upload';
import { computePlan, META, planId, safeRelative, sha256, uploadName } from './plan';

/** One directory entry as lstat sees it (links are reported, never followed). */
export interface Entry {
  type: 'file' | 'dir' | 'link' | 'other';
  size: number;
  /** Modification time, seconds (SFTP's resolution). */
  mtime: number;
}

/** What the engine needs from a target; all paths are relative to the target's root. */
export interface TargetFs {
  /** For messages: "sftp://user@host:22/srv/tftp" or the folder. */
  readonly label: string;
  lstat(rel: string): Promise<Entry | undefined>;
  read(rel: string, signal?: AbortSignal): Promise<Buffer>;
  /** Creates a new file (refusing an existing one), mode 0644, flushed to disk (unless `noFlush`: call `flush` then). */
  write(rel: string, data: Buffer, opts?: { signal?: AbortSignal | undefined; onBytes?: ((n: number) => void) | undefined; noFlush?: boolean }): Promise<void>;
  /** Flushes a written file to disk where the target can (fsync). */
  flush(rel: string): Promise<void>;
  /** Hard-links `to` to `from`; false when the target cannot. */
  link(from: string, to: string): Promise<boolean>;
  /** Puts `from` in place of `to` (replacing it): 'atomic' via posix-rename, else the fallback. */
  replace(from: string, to: string): Promise<'atomic' | 'fallback'>;
  /** Plain rename that refuses to replace. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; a missing one is fine. */
  remove(rel: string): Promise<void>;
  rmdir(rel: string): Promise<void>;
  /** Names in a folder ([] when it does not exist). */
  list(rel: string): Promise<string[]>;
  mkdir(rel: string): Promise<void>;
  /** sha256 of files (undefined for a missing one), and how it was taken. */
  hash(rels: string[], signal?: AbortSignal): Promise<{ hashes: Record<string, string | undefined>; method: 'shell-sha256' | 'read-back' | 'local' }>;
}

const TMP = '.bootchain-tmp-';
const OLD = '.bootchain-old-';
const parentOf = (rel: string) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');
const baseOf = (rel: string) => rel.slice(rel.lastIndexOf('/') + 1);
const join = (dir: string, name: string) => (dir === '' ? name : `${dir}/${name}`);
const tmpName = (rel: string, tag = TMP) => join(parentOf(rel), `.${baseOf(rel)}${tag}${randomBytes(4).toString('hex')}`);

/** Runs `fn` over `items`, at most `n` at a time (SFTP pipelines requests: round trips overlap). */
export async function pool<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, lane));
  return out;
}

/** Folders already checked to be real folders, per open target (one job). */
const checkedDirs = new WeakMap<TargetFs, Set<string>>();

function notAFolder(t: TargetFs, rel: string, e: Entry): never {
  return fail('INVALID_INPUT', `"${rel}" in ${t.label} is a ${e.type === 'link' ? 'symbolic link' : 'file'}, not a folder`, {
    hint: 'Bootchain never follows links out of the TFTP root: remove or rename it on the server, or choose another root.',
  });
}

/** Checks every folder above `rel` (creating missing ones when `create`) and that `rel` is not a link or folder. */
async function confine(t: TargetFs, rel: string, create: boolean): Promise<Entry | undefined> {
  const parts = rel.split('/');
  const dirs = checkedDirs.get(t) ?? new Set<string>();
  checkedDirs.set(t, dirs);
  let cur = '';
  for (const p of parts.slice(0, -1)) {
    cur = join(cur, p);
    if (dirs.has(cur)) continue;
    const e = await t.lstat(cur);
    if (!e) {
      if (!create) return undefined;
      await t.mkdir(cur);
    } else if (e.type !== 'dir') notAFolder(t, cur, e);
    dirs.add(cur);
  }
  const e = await t.lstat(rel);
  if (e && e.type !== 'file') {
    fail('INVALID_INPUT', `"${rel}" in ${t.label} is a ${e.type === 'link' ? 'symbolic link' : e.type === 'dir' ? 'folder' : 'special file'}`, {
      hint: 'Bootchain only replaces plain files and never follows links: remove or rename it on the server.',
    });
  }
  return e;
}

/** Writes `data` under `rel` atomically: temporary name, flush, rename over. */
export async function writeAtomic(t: TargetFs, rel: string, data: Buffer, opts: { signal?: AbortSignal | undefined; onBytes?: ((n: number) => void) | undefined } = {}): Promise<'atomic' | 'fallback'> {
  await confine(t, rel, true);
  const tmp = tmpName(rel);
  try {
    await t.write(tmp, data, opts);
    opts.signal?.throwIfAborted();
    return await t.replace(tmp, rel);
  } catch (e) {
    await t.remove(tmp).catch(() => undefined);
    throw e;
  }
}

/** Copies `from` to `to` atomically, by a hard link where the target has them. */
async function copyAtomic(t: TargetFs, from: string, to: string, signal?: AbortSignal): Promise<void> {
  await confine(t, to, true);
  const tmp = tmpName(to);
  if (await t.link(from, tmp)) {
    try {
      await t.replace(tmp, to);
    } catch (e) {
      await t.remove(tmp).catch(() => undefined);
      throw e;
    }
    return;
  }
  await writeAtomic(t, to, await t.read(from, signal), { signal });
}

async function readJson<T>(t: TargetFs, rel: string, fallback: T): Promise<T> {
  if (!(await t.lstat(rel))) return fallback;
  try {
    return JSON.parse((await t.read(rel)).toString('utf8')) as T;
  } catch {
    return fallback;
  }
}

/**
 * Bootchain's record on the target: the files it owns (uploaded before) and, for each, the sha256
 * with the size and mtime the server reported right after the write. A file whose size and mtime
 * still match is not hashed again for the plan (rsync's quick check); it is after every upload.
 */
interface TargetState {
  owned: string[];
  files: Record<string, { sha256: string; size: number; mtime: number }>;
}
const STATE = `${META}/state.json`;
const readState = async (t: TargetFs): Promise<TargetState> => {
  const s = await readJson<Partial<TargetState>>(t, STATE, {});
  return { owned: Array.isArray(s.owned) ? s.owned : [], files: s.files && typeof s.files === 'object' ? s.files : {} };
};
const writeState = (t: TargetFs, s: TargetState) => writeAtomic(t, STATE, Buffer.from(JSON.stringify(s)));

/**
 * Repairs what an interrupted run left in the folders of `rels`: a file moved aside by the
 * fallback rename goes back if the file is missing; temporary files go; backup sets without
 * set.json (never completed, so nothing was replaced after them) go.
 */
export async function repair(t: TargetFs, rels: string[]): Promise<{ removed: string[]; restored: string[] }> {
  const out = { removed: [] as string[], restored: [] as string[] };
  const dirs = [...new Set(['', META, ...rels.map(parentOf)])];
  for (const dir of dirs) {
    const e = dir === '' ? { type: 'dir' } : await t.lstat(dir);
    if (!e || e.type !== 'dir') continue;
    for (const name of await t.list(dir)) {
      const m = /^\.(.+)(\.bootchain-(?:tmp|old)-)[0-9a-f]{8}$/.exec(name);
      if (!m) continue;
      const rel = join(dir, name);
      const live = join(dir, m[1]!);
      if (m[2] === OLD && !(await t.lstat(live))) {
        await t.rename(rel, live);
        out.restored.push(live);
      } else {
        await t.remove(rel);
        out.removed.push(rel);
      }
    }
  }
  for (const id of await t.list(`${META}/backups`)) {
    if (!(await t.lstat(`${META}/backups/${id}/set.json`))) {
      await removeTree(t, `${META}/backups/${id}`);
      out.removed.push(`${META}/backups/${id}`);
    }
  }
  return out;
}

async function removeTree(t: TargetFs, rel: string): Promise<void> {
  const e = await t.lstat(rel);
  if (!e) return;
  if (e.type !== 'dir') return t.remove(rel);
  for (const name of await t.list(rel)) await removeTree(t, join(rel, name));
  await t.rmdir(rel);
}

/** The plan of uploading `files`, with the server's current hashes. */
export async function planUpload(t: TargetFs, files: Record<string, Buffer>, signal?: AbortSignal): Promise<{ plan: UploadPlan; planId: string; remote: Record<string, string | undefined>; state: TargetState }> {
  const rels = Object.keys(files).map(uploadName);
  const state = await readState(t);
  const entries = await pool(rels, 16, (rel) => confine(t, rel, false));
  const remote: Record<string, string | undefined> = {};
  const toHash: string[] = [];
  rels.forEach((rel, i) => {
    const e = entries[i];
    const known = state.files[rel];
    if (!e) remote[rel] = undefined;
    else if (known && known.size === e.size && known.mtime === e.mtime) remote[rel] = known.sha256;
    else toHash.push(rel);
  });
  if (toHash.length > 0) Object.assign(remote, (await t.hash(toHash, signal)).hashes);
  const plan = computePlan(files, remote, state.owned);
  return { plan, planId: planId(plan, remote), remote, state };
}

export interface ApplyOptions {
  signal?: AbortSignal | undefined;
  /** Bytes written so far of the whole upload. */
  onBytes?: ((done: number, total: number) => void) | undefined;
  onFile?: ((rel: string, action: 'add' | 'change') => void) | undefined;
  log?: ((line: string) => void) | undefined;
  /** Files written at once (small files are bound by round trips). */
  concurrency?: number | undefined;
  /** Refuse when the server no longer matches this plan id. */
  planId?: string | undefined;
}

/**
 * Uploads `files`: every new file is first staged under a temporary name and checked on the
 * server (sha256, or read back); meanwhile the backup set is made; only when both are complete
 * are the staged files renamed into place, one quick burst. An interruption before that leaves
 * the served set entirely old; during it, each file is complete old or complete new.
 */
export async function applyUpload(
  t: TargetFs,
  files: Record<string, Buffer>,
  opts: ApplyOptions = {},
): Promise<{ plan: UploadPlan; planId: string; backup?: string; rename?: 'atomic' | 'fallback'; verified: 'shell-sha256' | 'read-back' | 'local' | 'none'; repaired: { removed: string[]; restored: string[] } }> {
  const repaired = await repair(t, Object.keys(files).map(uploadName));
  for (const r of repaired.restored) opts.log?.(`restored ${r} moved aside by an interrupted upload`);
  if (repaired.removed.length > 0) opts.log?.(`removed ${repaired.removed.length} leftover(s) of an interrupted upload`);
  const { plan, planId: id, state } = await planUpload(t, files, opts.signal);
  if (opts.planId && opts.planId !== id) {
    fail('BUSY', 'The files on the server changed since the plan was shown', { hint: 'Look at the new plan and confirm it again.', retryable: true });
  }
  const writes = [...plan.add, ...plan.change];
  if (writes.length === 0) return { plan, planId: id, repaired, verified: 'none' };
  opts.signal?.throwIfAborted();

  const staged = new Map<string, string>();
  const unstage = () => Promise.all([...staged.values()].map((tmp) => t.remove(tmp).catch(() => undefined)));
  const backup = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`;
  const setDir = `${META}/backups/${backup}`;
  let verified: 'shell-sha256' | 'read-back' | 'local';
  try {
    let done = 0;
    const total = writes.reduce((n, r) => n + files[r]!.length, 0);
    const stage = async () => {
      await pool(writes, opts.concurrency ?? 8, async (rel) => {
        opts.signal?.throwIfAborted();
        await confine(t, rel, true);
        const tmp = tmpName(rel);
        staged.set(rel, tmp);
        await t.write(tmp, files[rel]!, {
          signal: opts.signal,
          noFlush: true,
          onBytes: (n) => {
            done += n;
            opts.onBytes?.(done, total);
          },
        });
      });
      opts.signal?.throwIfAborted();
      // The check reads what the server holds while the same bytes are flushed to its disk.
      const [check] = await Promise.all([t.hash([...staged.values()], opts.signal), pool([...staged.values()], 16, (tmp) => t.flush(tmp))]);
      const bad = writes.filter((rel) => check.hashes[staged.get(rel)!] !== sha256(files[rel]!));
      if (bad.length > 0) {
        fail('COMMAND_FAILED', `The server holds different bytes than were sent for ${bad.join(', ')}`, {
          hint: 'Nothing was replaced. The disk may be full or failing: check the NAS, then upload again.',
        });
      }
      return check.method;
    };
    // The backup set is complete before anything is replaced: set.json is written last.
    const makeBackup = async () => {
      await pool(plan.change, 8, (rel) => copyAtomic(t, rel, `${setDir}/files/${rel}`, opts.signal));
      const set: BackupSetInfo = { id: backup, created: new Date().toISOString(), replaced: plan.change, added: plan.add };
      await writeAtomic(t, `${setDir}/set.json`, Buffer.from(JSON.stringify(set, null, 2)));
    };
    [verified] = await Promise.all([stage(), makeBackup()]);
    opts.signal?.throwIfAborted();
  } catch (e) {
    await unstage();
    throw e;
  }

  let rename: 'atomic' | 'fallback' = 'atomic';
  await pool(writes, 16, async (rel) => {
    if ((await t.replace(staged.get(rel)!, rel)) === 'fallback') rename = 'fallback';
    staged.delete(rel);
    opts.onFile?.(rel, plan.add.includes(rel) ? 'add' : 'change');
    const e = await t.lstat(rel);
    if (e) state.files[rel] = { sha256: sha256(files[rel]!), size: e.size, mtime: e.mtime };
  }).catch(async (e: unknown) => {
    await unstage();
    throw e;
  });
  state.owned = [...new Set([...state.owned, ...Object.keys(files)])].sort();
  await writeState(t, state);
  return { plan, planId: id, backup, rename, verified, repaired };
}

/** Backup sets, newest first. */
export async function listBackupSets(t: TargetFs): Promise<BackupSetInfo[]> {
  const ids = (await t.list(`${META}/backups`)).sort().reverse();
  const sets: BackupSetInfo[] = [];
  for (const id of ids) {
    const s = await readJson<BackupSetInfo | undefined>(t, `${META}/backups/${id}/set.json`, undefined);
    if (s) sets.push({ id, created: s.created, replaced: s.replaced, added: s.added });
  }
  return sets;
}

/** Restores the newest backup set (or `id`): replaced files get their old bytes, added ones go. */
export async function rollback(t: TargetFs, id?: string): Promise<RollbackResult> {
  const sets = await listBackupSets(t);
  const set = id ? sets.find((s) => s.id === id) : sets[0];
  if (!set) fail('NOT_FOUND', id ? `No backup set ${id} in ${t.label}` : `There is nothing to roll back in ${t.label}`, { hint: 'Backups are made by each upload that replaces or adds files.' });
  const setDir = `${META}/backups/${set.id}`;
  await repair(t, [...set.replaced, ...set.added].map(safeRelative));
  for (const rel of set.replaced) await copyAtomic(t, `${setDir}/files/${safeRelative(rel)}`, safeRelative(rel));
  for (const rel of set.added) {
    if (await confine(t, safeRelative(rel), false)) await t.remove(rel);
  }
  const state = await readState(t);
  state.owned = state.owned.filter((o) => !set.added.includes(o));
  // Restored files are hashed again by the next plan.
  for (const rel of [...set.added, ...set.replaced]) delete state.files[rel];
  await writeState(t, state);
  await removeTree(t, setDir);
  return { id: set.id, restored: set.replaced, removed: set.added };
}
