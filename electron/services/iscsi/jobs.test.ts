import { afterEach, describe, expect, it } from 'vitest';
import { DiscoverInput, type DiscoverItem } from '../../../shared/iscsi';
import { discoveryHandler, fakeTarget, type FakeTarget } from '../../../e2e/support/fake-target';
import { closedPort } from '../../../e2e/support/peers';
import type { JobContext } from '../jobs/runner';
import { discoverJob } from './jobs';

// The discover job probes what it finds (the window schedules no probes). The portal is a fake
// target written in the test (e2e/support/fake-target.ts) that lists targets on a port where
// nothing listens, so each probe fails at once; the lab's tgtd covers probes that succeed
// (iscsi.int.test.ts, e2e/specs/target.spec.ts).
const INI = 'iqn.2024-01.io.bootchain:test';
let peers: FakeTarget[] = [];
afterEach(async () => {
  await Promise.all(peers.map((p) => p.close()));
  peers = [];
});

async function run(input: DiscoverInput, signal = new AbortController().signal) {
  const items: DiscoverItem[] = [];
  const progress: Array<{ phase: string; done?: number; total?: number }> = [];
  const ctx: JobContext<'discover'> = { signal, progress: (p) => progress.push(p), log: () => undefined, item: (i) => items.push(i) };
  const result = await discoverJob(DiscoverInput.parse(input), ctx);
  return { items, progress, result };
}

describe('discover job: each target found is probed, each probe an item', { timeout: 5000 }, () => {
  it('streams the portal, the targets found, then each probe as it starts and ends; the result has every probe', async () => {
    const nothing = await closedPort();
    const names = ['iqn.2020-01.x:a', 'iqn.2020-01.x:b', 'iqn.2020-01.x:c'];
    const t = await fakeTarget(discoveryHandler(names.flatMap((n): Array<[string, string]> => [['TargetName', n], ['TargetAddress', `127.0.0.1:${nothing},1`]])));
    peers.push(t);
    const { items, progress, result } = await run({ portals: [{ address: '127.0.0.1', port: t.port }], initiatorName: INI, timeoutMs: 1000, probe: { concurrency: 1 } });
    expect(items.map((i) => (i.kind === 'probe' ? `${i.kind} ${i.target.slice(-1)} ${i.status}` : i.kind))).toEqual([
      'portal',
      'discovered',
      'probe a running',
      'probe a failed',
      'probe b running',
      'probe b failed',
      'probe c running',
      'probe c failed',
    ]);
    const failed = items.find((i) => i.kind === 'probe' && i.status === 'failed');
    expect(failed).toMatchObject({ portal: { address: '127.0.0.1', port: nothing }, error: { code: 'UNREACHABLE' } });
    expect(result.targets.map((x) => x.name)).toEqual(names);
    expect(result.probes?.map((p) => [p.target, p.status])).toEqual(names.map((n) => [n, 'failed']));
    expect(progress.at(-1)).toEqual({ phase: 'probe', done: 3, total: 3 });
  });

  it('probes a few at a time, and not at all unless asked (the CLI, the lab test)', async () => {
    const nothing = await closedPort();
    const names = Array.from({ length: 10 }, (_, i) => `iqn.2020-01.x:t${i}`);
    const t = await fakeTarget(discoveryHandler(names.flatMap((n): Array<[string, string]> => [['TargetName', n], ['TargetAddress', `127.0.0.1:${nothing},1`]])));
    peers.push(t);
    const { items } = await run({ portals: [{ address: '127.0.0.1', port: t.port }], initiatorName: INI, timeoutMs: 1000, probe: { concurrency: 3 } });
    let running = 0;
    let most = 0;
    for (const i of items) if (i.kind === 'probe') most = Math.max(most, (running += i.status === 'running' ? 1 : -1));
    expect(most).toBe(3);
    expect(items.filter((i) => i.kind === 'probe' && i.status === 'failed')).toHaveLength(10);
    const plain = await run({ portals: [{ address: '127.0.0.1', port: t.port }], initiatorName: INI, timeoutMs: 1000 });
    expect(plain.items.map((i) => i.kind)).toEqual(['portal']);
    expect(plain.result.probes).toBeUndefined();
  });

  it('a target name a hostile portal made up is never probed (never goes on the wire)', async () => {
    const nothing = await closedPort();
    const t = await fakeTarget(discoveryHandler([['TargetName', 'iqn.2020-01.x:ok'], ['TargetAddress', `127.0.0.1:${nothing},1`], ['TargetName', 'not an iqn'], ['TargetAddress', `127.0.0.1:${nothing},1`]]));
    peers.push(t);
    const { result } = await run({ portals: [{ address: '127.0.0.1', port: t.port }], initiatorName: INI, timeoutMs: 1000, probe: {} });
    expect(result.probes?.map((p) => p.target)).toEqual(['iqn.2020-01.x:ok']);
  });
});
