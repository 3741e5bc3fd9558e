/**
 * How the CLI shows what the contract answers: a job's events as a progress line on a terminal
 * and log lines on stderr, results as text or one JSON document on stdout, errors as the
 * AppError's message and hint (the JSON document `{ "error": … }` with --json).
 */
import { appError, BootchainError, type AppError } from '../../shared/errors';
import type { JobEventOf, JobKind, JobKinds, JobProgress } from '../../shared/jobs';

/** What the common flags ask of the output. */
export interface Output {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
}

/**
 * Which of a job's log lines reach stderr (never with --quiet, nor with --json unless --verbose):
 * `all`; `warn` (warnings and errors, info with --verbose); `error` (errors, all with --verbose);
 * `verbose` (all, only with --verbose); `none`.
 */
export type LogPolicy = 'all' | 'warn' | 'error' | 'verbose' | 'none';

/** How one verb shows its job. */
export interface JobView<K extends JobKind> {
  out: Output;
  logs: LogPolicy;
  /** Put before each log line, e.g. "discover: ". */
  prefix?: string;
  /** Each item the job streams (a portal, a chain link, a VM stage …). */
  item?: (item: JobKinds[K]['item']) => void;
  /** What Ctrl-C does (default: cancel the job); a second Ctrl-C always cancels. */
  interrupt?: ((jobId: string) => void) | undefined;
}

/** Writes to stdout: a JSON document, or lines. */
export const printJson = (v: unknown): void => void process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
export const print = (line: string): void => void process.stdout.write(`${line}\n`);

/** An error as the CLI reports it (the JSON document too with --json). */
export function printError(e: AppError, json: boolean): void {
  if (json) printJson({ error: e });
  process.stderr.write(`bootchain: ${e.message}\n  ${e.hint}\n`);
}

function progressLine(p: JobProgress): string {
  const pct = p.total ? Math.floor(((p.done ?? 0) * 100) / p.total) : 0;
  return `\r${p.phase} ${p.done ?? 0}/${p.total ?? '?'} (${pct}%) ${p.message ?? ''}   `;
}

function shows(policy: LogPolicy, level: 'info' | 'warn' | 'error', out: Output): boolean {
  if (out.quiet || (out.json && !out.verbose)) return false;
  if (policy === 'all') return true;
  if (policy === 'warn') return level !== 'info' || out.verbose;
  if (policy === 'error') return level === 'error' || out.verbose;
  return policy === 'verbose' && out.verbose;
}

/** Follows one job's events: renders them, and settles `done` with its terminal event. */
export function followJob<K extends JobKind>(view: JobView<K>): { event(e: JobEventOf<K>): void; done: Promise<JobKinds[K]['result']>; close(): void } {
  const tty = process.stderr.isTTY === true && !view.out.quiet;
  let line = false;
  const clear = () => {
    if (line) process.stderr.write('\r\x1b[K');
    line = false;
  };
  let settle!: { ok: (r: JobKinds[K]['result']) => void; fail: (e: unknown) => void };
  const done = new Promise<JobKinds[K]['result']>((ok, fail) => (settle = { ok, fail }));
  // A job may end before its caller awaits it: the rejection is handled where it is awaited.
  done.catch(() => undefined);
  return {
    done,
    event(e) {
      if (e.type === 'progress' && tty) {
        process.stderr.write(progressLine(e.progress));
        line = true;
      } else if (e.type === 'log' && shows(view.logs, e.level, view.out)) {
        clear();
        process.stderr.write(`${view.prefix ?? ''}${e.line}\n`);
      } else if (e.type === 'item') view.item?.(e.item);
      else if (e.type === 'succeeded') settle.ok(e.result);
      else if (e.type === 'failed') settle.fail(new BootchainError(e.error));
      else if (e.type === 'cancelled') settle.fail(new BootchainError(appError('CANCELLED', 'Cancelled by the user')));
    },
    close() {
      if (line) process.stderr.write('\n');
      line = false;
    },
  };
}
