/**
 * What a server on the LAN does with input it cannot use (the boot server's proxyDHCP, the
 * harness's HTTP and WebSocket): drop it and count it, with one log line per interval rather
 * than one per packet (a flood must not become a log flood); and one process-level guard for
 * `bootchain serve` and the harness, so a bug one request reaches is reported and the process
 * keeps serving the others instead of exiting.
 */

/** One report of a DropLog: `count` dropped since the last report, the last one's client and reason. */
export interface DropReport {
  client: string;
  reason: string;
  count: number;
  total: number;
}

/** The usual line for a DropLog report. */
export function dropLine(what: string, d: DropReport): string {
  return d.count === 1 ? `dropped a ${what} from ${d.client}: ${d.reason} (${d.total} dropped in all)` : `dropped ${d.count} ${what}s, the last from ${d.client}: ${d.reason} (${d.total} dropped in all)`;
}

/** Counts dropped input and reports it at most once per interval. */
export class DropLog {
  /** Everything dropped since start. */
  total = 0;
  private pending = 0;
  private last: { client: string; reason: string } | undefined;
  private lastReportAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly report: (d: DropReport) => void,
    private readonly intervalMs = 10000,
  ) {}

  /** Counts one dropped input; the first of an interval is reported at once, the rest when it ends. */
  drop(client: string, reason: string): void {
    this.total++;
    this.pending++;
    this.last = { client, reason };
    const now = Date.now();
    if (now - this.lastReportAt >= this.intervalMs) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.intervalMs - (now - this.lastReportAt)).unref();
  }

  /** Reports what is pending now (also at stop, so nothing counted goes unsaid). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending === 0 || !this.last) return;
    const count = this.pending;
    this.pending = 0;
    this.lastReportAt = Date.now();
    this.report({ ...this.last, count, total: this.total });
  }
}

/** Runs `fn`; anything it throws becomes a drop with the error's message (it never escapes a handler). */
export function dropOnThrow(drops: Pick<DropLog, 'drop'>, client: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    drops.drop(client, e instanceof Error ? e.message : String(e));
  }
}

/**
 * The process-level guard: an uncaught exception or unhandled rejection is reported (at most one
 * line per interval, with the count) and the process goes on serving. Returns the uninstaller.
 * Only for long-running servers whose every request is independent: elsewhere a crash is right.
 */
export function keepServing(report: (message: string) => void, intervalMs = 10000): () => void {
  const log = new DropLog((d) => report(`${d.client} (kept serving${d.total > 1 ? `, ${d.total} in all` : ''}): ${d.reason}${d.count > 1 ? ` and ${d.count - 1} more` : ''}`), intervalMs);
  const on = (kind: string) => (e: unknown) => {
    const where = e instanceof Error ? (e.stack?.split('\n')[1]?.trim() ?? '') : '';
    log.drop(kind, `${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}${where ? ` ${where}` : ''}`);
  };
  const onException = on('uncaught exception');
  const onRejection = on('unhandled rejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    log.flush();
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
