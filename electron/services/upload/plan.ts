/**
 * The upload plan: what will change on the server before anything is written. Pure, so the
 * SSH target and the folder target share it (and the UI shows it as is).
 */
import { createHash } from 'node:crypto';
import { fail } from '../../../shared/errors';

export const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** What will happen to each file. */
export interface UploadPlan {
  add: string[];
  change: string[];
  same: string[];
  /** Files Bootchain put there before that the new set no longer has (left alone, listed). */
  extra: string[];
}

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

/** Compares the files to upload with what the target holds (by sha256). */
export function computePlan(files: Record<string, Buffer>, remote: Record<string, string | undefined>, owned: string[]): UploadPlan {
  const plan: UploadPlan = { add: [], change: [], same: [], extra: [] };
  for (const [rel, data] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
    const have = remote[safeRelative(rel)];
    if (have === undefined) plan.add.push(rel);
    else if (have === sha256(data)) plan.same.push(rel);
    else plan.change.push(rel);
  }
  plan.extra = owned.filter((o) => !(o in files)).sort();
  return plan;
}
