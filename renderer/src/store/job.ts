/**
 * The job bridge (style.md §4): the one place job events reach the store. A slice starts a job
 * with `runJob`, saying where the job's state lives and what its items and result mean; the
 * window names the job before asking for it, so every event — from `started`, also one that comes
 * before the reply — is folded in by the one fold below.
 */
import type { InputOf, JobChannel, KindOf } from '../../../shared/contract';
import type { AppError } from '../../../shared/errors';
import type { JobEventOf, JobKind, JobKinds, JobProgress } from '../../../shared/jobs';
import { api, invokeJob, newJobId } from '../api/client';

export type JobStatus = 'idle' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** What the window knows of one job; a slice keeps these fields (flat, beside its own). */
export interface JobState<K extends JobKind> {
  jobId?: string | undefined;
  status: JobStatus;
  progress?: JobProgress | undefined;
  /** The job's log lines, the last `logCap` of them. */
  log: string[];
  error?: AppError | undefined;
  result?: JobKinds[K]['result'] | undefined;
}

/** A job that has not run: what a slice starts from and resets to. */
export const idleJob: Readonly<JobState<never>> = { jobId: undefined, status: 'idle', progress: undefined, log: [], error: undefined, result: undefined };

/** How a job ended (a refused start is a failure: no job ever ran). */
export type JobEnd<K extends JobKind> = { type: 'succeeded'; result: JobKinds[K]['result'] } | { type: 'failed'; error: AppError } | { type: 'cancelled' };

/** Where a slice keeps one job, and what the job's items and end mean to it. */
export interface JobSlot<K extends JobKind, S extends JobState<K>> {
  read(): S;
  write(patch: Partial<S>): void;
  /** What one item means (default: nothing). */
  item?(s: S, item: JobKinds[K]['item']): Partial<S>;
  /** What the end means beyond the fold's status, result and error (success, failure, cancel). */
  end?(s: S, e: JobEnd<K>): Partial<S>;
  /** How many log lines are kept (default 200). */
  logCap?: number;
}

/** The one fold: a job event onto the job's state, the slot saying what items and the end mean. */
export function foldJob<K extends JobKind, S extends JobState<K>>(s: S, e: JobEventOf<K>, slot: Pick<JobSlot<K, S>, 'item' | 'end' | 'logCap'>): Partial<S> {
  const ended = (p: Partial<JobState<K>>, end: JobEnd<K>): Partial<S> => ({ ...p, progress: undefined, ...slot.end?.(s, end) }) as Partial<S>;
  switch (e.type) {
    case 'started':
      return {};
    case 'progress':
      return { progress: e.progress } as Partial<S>;
    case 'log':
      return { log: [...s.log, e.line].slice(-(slot.logCap ?? 200)) } as Partial<S>;
    case 'item':
      return slot.item?.(s, e.item as JobKinds[K]['item']) ?? {};
    case 'succeeded': {
      const result = e.result as JobKinds[K]['result'];
      return ended({ status: 'succeeded', result }, { type: 'succeeded', result });
    }
    case 'failed':
      return ended({ status: 'failed', error: e.error }, { type: 'failed', error: e.error });
    case 'cancelled':
      return ended({ status: 'cancelled' }, { type: 'cancelled' });
  }
}

/**
 * Starts a job for a slot: names it, marks the slot running (`start`: the slice's own fields to
 * set, or one of the job's to keep), folds each of its events in while the slot still holds that
 * job (a reset or a newer job drops a late event), and records a refusal as the slot's failure
 * (no job exists then: the slot holds no job id).
 */
export async function runJob<C extends JobChannel, S extends JobState<KindOf<C>>>(channel: C, input: InputOf<C>, slot: JobSlot<KindOf<C>, S>, start: Partial<S> = {}): Promise<void> {
  const jobId = newJobId();
  slot.write({ jobId, status: 'running', error: undefined, result: undefined, log: [], ...start } as Partial<S>);
  const r = await invokeJob(channel, input, jobId, (e) => {
    const s = slot.read();
    if (s.jobId === jobId) slot.write(foldJob(s, e, slot));
  });
  const s = slot.read();
  if (!r.ok && s.jobId === jobId) slot.write({ jobId: undefined, status: 'failed', error: r.error, progress: undefined, ...slot.end?.(s, { type: 'failed', error: r.error }) } as Partial<S>);
}

/** Asks to cancel a slot's job, if it has one; the job's `cancelled` event follows. */
export async function cancelJob(s: { jobId?: string | undefined }): Promise<void> {
  if (s.jobId) await api().invoke('jobs:cancel', { jobId: s.jobId });
}
