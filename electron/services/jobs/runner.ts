import { randomUUID } from 'node:crypto';
import { appError, BootchainError, type AppError } from '../../../shared/errors';
import type { JobEvent, JobKind, JobKinds, JobProgress } from '../../../shared/jobs';
import { redactSecrets, toAppError } from '../errors';

/** What a job body gets: a signal to honour everywhere, and ways to report. */
export interface JobContext<K extends JobKind> {
  signal: AbortSignal;
  progress(p: JobProgress): void;
  log(line: string, level?: 'info' | 'warn' | 'error'): void;
  item(item: JobKinds[K]['item']): void;
}

export type JobBody<K extends JobKind> = (ctx: JobContext<K>) => Promise<JobKinds[K]['result']>;

/** Minimum gap between two progress events of one job (~10/s). */
const PROGRESS_INTERVAL_MS = 100;

interface Running {
  kind: JobKind;
  owner: string | undefined;
  controller: AbortController;
  done: Promise<void>;
}

interface Listener {
  fn: (e: JobEvent) => void;
  owner: string | undefined;
}

/**
 * Runs jobs: start returns a jobId at once; each job emits started, any number of
 * progress/log/item, then exactly one of succeeded/failed/cancelled. A job may have an owner
 * (the transport's caller that started it): a listener for that owner hears only its jobs.
 */
export class JobRunner {
  private readonly jobs = new Map<string, Running>();
  private readonly listeners = new Set<Listener>();

  /**
   * Subscribes to job events: with `owner`, only the jobs that owner started (what a transport
   * sends to one window or page); without, every job (the CLI, tests). Returns the unsubscribe.
   */
  onEvent(fn: (e: JobEvent) => void, opts: { owner?: string } = {}): () => void {
    const l: Listener = { fn, owner: opts.owner };
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private emit(e: JobEvent, owner: string | undefined): void {
    for (const l of this.listeners) {
      if (l.owner !== undefined && l.owner !== owner) continue;
      try {
        l.fn(e);
      } catch {
        // A broken listener must not break the job or the other listeners.
      }
    }
  }

  /**
   * Starts a job and returns its id; the body runs on the next tick. `secrets` are the secret
   * values the job was given: none of them leaves in any of its events (read at each event, so a
   * set may grow while the job runs). `jobId` is the caller's name for the job (refused while a
   * job of that id runs); `owner` who started it.
   */
  start<K extends JobKind>(kind: K, body: JobBody<K>, opts: { secrets?: Iterable<string> | undefined; jobId?: string | undefined; owner?: string | undefined } = {}): string {
    const jobId = opts.jobId ?? randomUUID();
    if (this.jobs.has(jobId)) throw new BootchainError(appError('INVALID_INPUT', `A job with the id ${jobId} is already running`, { field: 'jobId', hint: 'Name each job with a new id (a fresh UUID).' }));
    const owner = opts.owner;
    const controller = new AbortController();
    const base = { jobId, kind };
    const emit = (e: Record<string, unknown>) => this.emit(redactSecrets({ ...base, at: Date.now(), ...e }, opts.secrets ?? []) as unknown as JobEvent, owner);
    let lastProgress = 0;
    let pending: JobProgress | undefined;
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    const flush = () => {
      timer = undefined;
      if (pending && !ended) {
        lastProgress = Date.now();
        emit({ type: 'progress', progress: pending });
        pending = undefined;
      }
    };
    const ctx: JobContext<K> = {
      signal: controller.signal,
      progress: (p) => {
        if (ended) return;
        pending = p;
        const wait = lastProgress + PROGRESS_INTERVAL_MS - Date.now();
        if (wait <= 0) flush();
        else timer ??= setTimeout(flush, wait);
      },
      log: (line, level = 'info') => {
        if (!ended) emit({ type: 'log', level, line });
      },
      item: (item) => {
        if (!ended) emit({ type: 'item', item });
      },
    };
    const finish = (e: Record<string, unknown>) => {
      if (ended) return;
      if (timer) clearTimeout(timer);
      flush();
      ended = true;
      this.jobs.delete(jobId);
      emit(e);
    };
    const done = (async () => {
      await Promise.resolve();
      emit({ type: 'started' });
      try {
        const result = await body(ctx);
        if (controller.signal.aborted) finish({ type: 'cancelled' });
        else finish({ type: 'succeeded', result });
      } catch (e) {
        const error: AppError = toAppError(e);
        if (controller.signal.aborted || error.code === 'CANCELLED') finish({ type: 'cancelled' });
        else finish({ type: 'failed', error });
      }
    })();
    this.jobs.set(jobId, { kind, owner, controller, done });
    return jobId;
  }

  /**
   * Cancels a running job; false when no such job runs (or, with `owner`, when another owner
   * started it). The cancelled event follows.
   */
  cancel(jobId: string, owner?: string): boolean {
    const job = this.jobs.get(jobId);
    if (!job || (owner !== undefined && job.owner !== owner)) return false;
    job.controller.abort(new BootchainError(appError('CANCELLED', 'Cancelled by the user')));
    return true;
  }

  /** Cancels every job (only `owner`'s when given: a window or page gone) and waits until each has ended. */
  async cancelAll(owner?: string): Promise<void> {
    const all = [...this.jobs.values()].filter((j) => owner === undefined || j.owner === owner);
    for (const j of all) j.controller.abort(new BootchainError(appError('CANCELLED', 'Shutting down')));
    await Promise.all(all.map((j) => j.done));
  }

  /** Ids of running jobs. */
  running(): string[] {
    return [...this.jobs.keys()];
  }

  /** Resolves when the job has emitted its terminal event (immediately when unknown). */
  async settled(jobId: string): Promise<void> {
    await this.jobs.get(jobId)?.done;
  }
}
