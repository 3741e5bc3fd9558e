/**
 * The upload plan: what will change on the server before anything is written. Pure, so the
 * SSH target and the folder target share it (and the UI shows it as is).
 */
import { fail } from '../../../shared/errors';
import type { UploadPlan } from '../../../shared/upload';
import { sha256 } from '../bootfiles/hash';

export type { UploadPlan };
/** Files are compared by the boot files' one hash. */
export { sha256 };

/** The folder (inside the target root) that holds Bootchain's own state: owned list, backups. */
export const META = '.bootchain';

/**
 * A relative path inside the target root: no "..", no absolute path, nothing a shell or TFTP
 * server would read differently. Returns it normalised, or throws INVALID_INPUT.
 */
export function safeRelative(rel: string): string {
  const norm = rel.replace(/\\/g, '/').replace(/\/+/g, '/');
  if (norm === '' || norm.startsWith('/') || norm.split('/').some((p) => p === '..' || p === '.' || p === '') || !/^[A-Za-z0-9._/-]+$/.test(norm) || norm.length > 255) {
    fail('INVALID_INPUT', `"${rel.slice(0, 80)}" is not a file name inside the TFTP root`, { hint: 'Use letters, digits, ".", "_", "-" and "/" only; no "..".' });
  }
  return norm;
}

/** A file the user uploads: a safe relative path that is not inside Bootchain's own folder. */
export function uploadName(rel: string): string {
  const norm = safeRelative(rel);
  if (norm.split('/')[0] === META || norm.includes('.bootchain-')) fail('INVALID_INPUT', `"${norm}" is a name Bootchain keeps for itself`, { hint: `Rename the file: "${META}/" and ".bootchain-" names hold backups and temporary files.` });
  return norm;
}

/** Compares the files to upload with what the target holds (by sha256). */
export function computePlan(files: Record<string, Buffer>, remote: Record<string, string | undefined>, owned: string[]): UploadPlan {
  const plan: UploadPlan = { add: [], change: [], same: [], extra: [], bytes: 0 };
  for (const [rel, data] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
    const have = remote[uploadName(rel)];
    if (have === undefined) plan.add.push(rel);
    else if (have === sha256(data)) plan.same.push(rel);
    else plan.change.push(rel);
    if (have !== sha256(data)) plan.bytes += data.length;
  }
  plan.extra = owned.filter((o) => !(o in files)).sort();
  return plan;
}

/** A short id of a plan and the server state it was made from (a dry run's sign-off). */
export function planId(plan: UploadPlan, remote: Record<string, string | undefined>): string {
  return sha256(JSON.stringify({ plan, remote: Object.entries(remote).sort(([a], [b]) => a.localeCompare(b)) })).slice(0, 16);
}
