/**
 * Refusals of the boot server, logged without a log flood: the first refusal of a client address
 * in an interval is reported at once, the rest of that interval only counted and reported in one
 * line when it ends; at most `maxLines` addresses get their own line per interval (a flood from
 * many, perhaps spoofed, addresses is summed up in one "other addresses" line), and the table of
 * addresses is bounded, so neither the log nor this table grows with the flood.
 */
import type { ServeEvent } from '../../../shared/bootserver';

export interface RefusalLogOptions {
  kind: ServeEvent['kind'];
  intervalMs: number;
  /** Addresses reported one by one per interval; the others share a summary line. */
  maxLines?: number;
  /** Addresses tracked at once (more are counted as "other addresses"). */
  maxTracked?: number;
  emit: (e: ServeEvent) => void;
}

interface Entry {
  until: number;
  more: number;
  reason: string;
  file?: string | undefined;
}

/** Reports refusals once per client address per interval (see the module comment). */
export class RefusalLog {
  private readonly clients = new Map<string, Entry>();
  private windowEnds = 0;
  private lines = 0;
  private others = { count: 0, addresses: new Set<string>() };
  private timer: NodeJS.Timeout | undefined;
  /** Every refusal, logged or not. */
  count = 0;

  constructor(private readonly o: RefusalLogOptions) {}

  /** One refusal of `address` (reported now, or counted into the next summary). */
  refuse(address: string, reason: string, file?: string): void {
    this.count++;
    const now = Date.now();
    if (now >= this.windowEnds) {
      this.windowEnds = now + this.o.intervalMs;
      this.lines = 0;
    }
    const e = this.clients.get(address);
    if (e && now < e.until) {
      e.more++;
      return;
    }
    if (e) this.flushOne(address, e);
    if (this.lines >= (this.o.maxLines ?? 64) || this.clients.size >= (this.o.maxTracked ?? 4096)) {
      this.others.count++;
      if (this.others.addresses.size < 100_000) this.others.addresses.add(address);
      this.arm();
      return;
    }
    this.lines++;
    this.clients.set(address, { until: now + this.o.intervalMs, more: 0, reason, file });
    this.o.emit({ kind: this.o.kind, client: address, file, status: 'refused', bytes: 0, message: reason, at: now });
    this.arm();
  }

  /** Reports what is still counted (the server stops). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const [a, e] of this.clients) this.flushOne(a, e);
    this.clients.clear();
    this.flushOthers();
  }

  private flushOne(address: string, e: Entry) {
    this.clients.delete(address);
    if (e.more > 0) this.o.emit({ kind: this.o.kind, client: address, file: e.file, status: 'refused', bytes: 0, message: `${e.more} more refused in the last ${this.o.intervalMs / 1000} s (${e.reason})`, at: Date.now() });
  }

  private flushOthers() {
    if (this.others.count === 0) return;
    const n = this.others.addresses.size;
    this.o.emit({ kind: this.o.kind, client: `${n} other address${n === 1 ? '' : 'es'}`, status: 'refused', bytes: 0, message: `${this.others.count} requests refused in the last ${this.o.intervalMs / 1000} s (too many to list one by one)`, at: Date.now() });
    this.others = { count: 0, addresses: new Set() };
  }

  /** One timer while anything is counted: ends the intervals that are over. */
  private arm() {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = Date.now();
      for (const [a, e] of this.clients) if (now >= e.until) this.flushOne(a, e);
      this.flushOthers();
      if (this.clients.size > 0) this.arm();
    }, this.o.intervalMs);
    this.timer.unref();
  }
}
