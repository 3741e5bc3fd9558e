import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import { BootchainError, fail } from '../../../shared/errors';
import { formatIPv4 } from '../../../shared/ipv4';
import { planScan, type Portal, type ScanRequest, type ScanResult } from '../../../shared/scan';
import type { JobProgress } from '../../../shared/jobs';
import { probeIscsi, type IscsiProbe } from '../iscsi/login-probe';

/** How the scanner reports while it runs (the job context fits). */
export interface ScanReporter {
  signal: AbortSignal;
  progress(p: JobProgress): void;
  item(p: Portal): void;
  log(line: string, level?: 'info' | 'warn' | 'error'): void;
}

/** Tunables that are not part of the user's request. */
export interface ScanDeps {
  /** Wait for one reverse-DNS answer, ms. */
  reverseTimeoutMs?: number;
  /** The iSCSI check; replaceable for tests of the scanner alone. */
  probe?: typeof probeIscsi;
}

/** Sweep period of the timeout check, ms: also bounds how late a timeout fires. */
const SWEEP_MS = 20;
/** Adaptive timeout = this many times the slowest round trip seen (nmap uses a similar rule). */
const RTT_FACTOR = 4;

/** Cartesian product of the plan's addresses and ports, lazily. */
function* probes(blocks: Array<{ first: number; last: number }>, ports: number[]): Generator<[string, number]> {
  for (const b of blocks) for (let a = b.first; a <= b.last; a++) for (const p of ports) yield [formatIPv4(a), p];
}

/**
 * TCP connect scan of the request's addresses and ports, then an iSCSI check of each open
 * port and a reverse-DNS lookup of each open host. Results stream through `rep.item` (the same
 * address:port may be reported again as the check and the name arrive); cancel via `rep.signal`
 * destroys every socket at once.
 */
export async function scan(req: ScanRequest, rep: ScanReporter, deps: ScanDeps = {}): Promise<ScanResult> {
  const planned = planScan(req);
  if (!planned.ok) throw new BootchainError(planned.error);
  const plan = planned.value;
  const started = Date.now();
  const total = plan.addresses * req.ports.length;
  const probe = deps.probe ?? probeIscsi;
  const portals = new Map<string, Portal>();
  const checks: Array<Promise<void>> = [];
  const resolver = new Resolver({ timeout: deps.reverseTimeoutMs ?? 400, tries: 1 });
  const named = new Set<string>();
  let done = 0;
  let closed = 0;
  let silent = 0;
  let maxRtt = -1;

  const report = (p: Portal) => rep.item({ ...p });
  const currentTimeout = () =>
    maxRtt < 0 ? req.timeoutMs : Math.min(req.timeoutMs, Math.max(req.minTimeoutMs, maxRtt * RTT_FACTOR));

  const lookupName = (address: string) => {
    if (!req.resolveNames || named.has(address)) return;
    named.add(address);
    resolver.reverse(address).then(
      (names) => {
        const name = names[0];
        if (!name || rep.signal.aborted) return;
        for (const p of portals.values()) {
          if (p.address === address) {
            p.name = name;
            report(p);
          }
        }
      },
      () => undefined, // No name is a normal outcome; it must not slow or fail the scan.
    );
  };

  const onOpen = (address: string, port: number, rttMs: number) => {
    const portal: Portal = { address, port, iscsi: null, rttMs };
    portals.set(`${address}:${port}`, portal);
    report(portal);
    lookupName(address);
    if (!req.confirmIscsi) return;
    checks.push(
      probe(address, port, { timeoutMs: req.checkTimeoutMs, signal: rep.signal }).then((r: IscsiProbe) => {
        if (rep.signal.aborted) return;
        portal.iscsi = r.iscsi;
        portal.evidence = r.evidence;
        report(portal);
        rep.log(`${address}:${port} ${r.iscsi ? 'is an iSCSI portal' : 'is open but not iSCSI'} (${r.evidence})`);
      }),
    );
  };

  await new Promise<void>((resolve, reject) => {
    const it = probes(plan.blocks, req.ports);
    const pending = new Map<net.Socket, { start: number }>();
    let exhausted = false;
    let finished = false;

    const finish = (e?: unknown) => {
      if (finished) return;
      finished = true;
      clearInterval(sweeper);
      rep.signal.removeEventListener('abort', onAbort);
      for (const s of pending.keys()) s.destroy();
      pending.clear();
      if (e) reject(e);
      else resolve();
    };
    const onAbort = () => finish(rep.signal.reason ?? new Error('cancelled'));

    const settle = (s: net.Socket, kind: 'open' | 'closed' | 'silent', address: string, port: number) => {
      const entry = pending.get(s);
      if (!entry) return;
      pending.delete(s);
      s.destroy();
      const rtt = Date.now() - entry.start;
      if (kind !== 'silent') maxRtt = Math.max(maxRtt, rtt);
      if (kind === 'open') onOpen(address, port, rtt);
      else if (kind === 'closed') closed++;
      else silent++;
      done++;
      rep.progress({ phase: 'connect', done, total, message: `${portals.size} open` });
      pump();
    };

    const pump = () => {
      while (!finished && !exhausted && pending.size < req.concurrency) {
        const n = it.next();
        if (n.done) {
          exhausted = true;
          break;
        }
        const [address, port] = n.value;
        const s = new net.Socket();
        pending.set(s, { start: Date.now() });
        s.once('connect', () => settle(s, 'open', address, port));
        s.once('error', (e: NodeJS.ErrnoException) => settle(s, e.code === 'ECONNREFUSED' ? 'closed' : 'silent', address, port));
        s.connect({ host: address, port });
      }
      if (exhausted && pending.size === 0) finish();
    };

    const sweeper = setInterval(() => {
      const now = Date.now();
      const limit = currentTimeout();
      for (const [s, { start }] of pending) {
        if (now - start >= limit) {
          // Settle through the error path, as a kernel timeout would.
          s.emit('error', Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }));
        }
      }
    }, SWEEP_MS);

    if (rep.signal.aborted) return onAbort();
    rep.signal.addEventListener('abort', onAbort, { once: true });
    rep.progress({ phase: 'connect', done: 0, total });
    pump();
  });

  if (checks.length > 0) {
    rep.progress({ phase: 'iscsi-check', done: total, total, message: `checking ${checks.length} open port(s)` });
    await Promise.race([
      Promise.all(checks),
      new Promise((_r, reject) => {
        if (rep.signal.aborted) reject(rep.signal.reason);
        rep.signal.addEventListener('abort', () => reject(rep.signal.reason), { once: true });
      }),
    ]);
  }
  if (rep.signal.aborted) fail('CANCELLED', 'Scan cancelled');
  const list = [...portals.values()].sort((a, b) => ipKey(a.address) - ipKey(b.address) || a.port - b.port);
  return {
    portals: list.map((p) => ({ ...p })),
    probed: done,
    closed,
    silent,
    durationMs: Date.now() - started,
    blocks: plan.blocks.map((b) => b.label),
    ports: req.ports,
  };
}

/** Sort key of a dotted-quad address. */
function ipKey(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

/**
 * Checks one address:port as a scan would (connect, iSCSI check, name): the "add by hand" path.
 */
export async function checkPortal(
  address: string,
  port: number,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<Portal> {
  const start = Date.now();
  await new Promise<void>((resolve, reject) => {
    const s = net.connect({ host: address, port });
    const t = setTimeout(() => {
      s.destroy();
      reject(Object.assign(new Error(`no answer from ${address}:${port} within ${opts.timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, opts.timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve();
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
  const rttMs = Date.now() - start;
  const r = await probeIscsi(address, port, { timeoutMs: opts.timeoutMs, ...(opts.signal ? { signal: opts.signal } : {}) });
  const portal: Portal = { address, port, iscsi: r.iscsi, evidence: r.evidence, rttMs };
  try {
    const names = await new Resolver({ timeout: 400, tries: 1 }).reverse(address);
    if (names[0]) portal.name = names[0];
  } catch {
    // No reverse name: fine.
  }
  return portal;
}
