import { describe, expect, it } from 'vitest';
import { labOrSkipReason } from '../../../e2e/support/lab-guard';
import type { Portal } from '../../../shared/scan';
import { ScanStartInput } from '../../../shared/scan';
import { checkPortal, scan, type ScanReporter } from './scanner';

// Runs inside the lab's desk namespace against the real tgtd, dnsmasq and listeners.
const lab = labOrSkipReason('scanner.int.test.ts');

function reporter(signal = new AbortController().signal) {
  const items: Portal[] = [];
  const progress: Array<{ phase: string; done?: number; total?: number }> = [];
  const rep: ScanReporter = { signal, progress: (p) => progress.push(p), item: (p) => items.push(p), log: () => undefined };
  return { rep, items, progress };
}

describe.skipIf(!lab)('scan of the lab subnet', () => {
  it('finds exactly the lab iSCSI portals and flags the non-iSCSI listeners', async () => {
    const { rep, items, progress } = reporter();
    // The fixed lab's range: hosts other tests add meanwhile live above it.
    const r = await scan(ScanStartInput.parse({ targets: [lab!.fixedRange] }), rep);
    const key = (p: Portal) => `${p.address}:${p.port}`;
    expect(r.portals.filter((p) => p.iscsi === true).map(key)).toEqual(lab!.iscsiPortals);
    expect(r.portals.filter((p) => p.iscsi === false).map(key)).toEqual(lab!.nonIscsi);
    expect(r.portals).toHaveLength(lab!.iscsiPortals.length + lab!.nonIscsi.length);
    expect(r.probed).toBe(40);
    // Hosts that are up with 3260 closed answer with a reset.
    expect(r.closed).toBe(lab!.closedHosts.length);
    // Names come from the lab's DNS.
    for (const p of r.portals.filter((x) => x.iscsi)) expect(p.name).toBe(lab!.names[p.address]);
    // Results streamed while running, progress counted to the total.
    expect(items.length).toBeGreaterThanOrEqual(r.portals.length);
    expect(progress.at(-1)?.total).toBe(40);
    expect(progress.some((p) => p.phase === 'connect' && (p.done ?? 0) > 0 && (p.done ?? 0) < 40)).toBe(true);
  });

  it('cancel stops a slow scan part-way with CANCELLED and no result', async () => {
    const ac = new AbortController();
    const { rep, progress } = reporter(ac.signal);
    // One connect at a time against empty addresses: this scan would take about a minute.
    const p = scan(ScanStartInput.parse({ targets: [lab!.subnet], concurrency: 1, minTimeoutMs: 250 }), rep);
    await new Promise((r) => setTimeout(r, 600));
    ac.abort();
    await expect(p).rejects.toBeDefined();
    const done = progress.at(-1)?.done ?? 0;
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(254);
  });

  it('checks a portal added by hand', async () => {
    const nas = lab!.nas.ips[0]!;
    const p = await checkPortal(nas, 3260, { timeoutMs: 3000 });
    expect(p).toMatchObject({ address: nas, iscsi: true, name: lab!.names[nas] });
    const other = await checkPortal(lab!.nonIscsi[0]!.split(':')[0]!, 3260, { timeoutMs: 3000 });
    expect(other.iscsi).toBe(false);
  });
});
