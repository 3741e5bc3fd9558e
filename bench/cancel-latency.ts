/**
 * Prints cancel latencies (ms), one per run: a slow scan of the given subnet is started through
 * the real scanner, aborted part-way, and the time until the scan promise settles is measured.
 * Run inside the lab's desk namespace (bench/scan.ts does).
 */
import { ScanStartInput } from '../shared/scan';
import { scan } from '../electron/services/scan/scanner';

async function once(subnet: string): Promise<number> {
  const ac = new AbortController();
  const p = scan(ScanStartInput.parse({ targets: [subnet], concurrency: 256, timeoutMs: 5000, minTimeoutMs: 5000, resolveNames: false }), {
    signal: ac.signal,
    progress: () => undefined,
    item: () => undefined,
    log: () => undefined,
  });
  await new Promise((r) => setTimeout(r, 300));
  const t0 = process.hrtime.bigint();
  ac.abort();
  await p.catch(() => undefined);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function main(): Promise<void> {
  const subnet = process.argv[2] ?? '10.77.0.0/24';
  const out: number[] = [];
  for (let i = 0; i < 5; i++) out.push(await once(subnet));
  process.stdout.write(`${out.map((x) => x.toFixed(2)).join(' ')}\n`);
}

void main();
