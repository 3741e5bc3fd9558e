import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Portal } from '../../../shared/scan';
import { ScanStartInput } from '../../../shared/scan';
import { closedPort, fakeIscsiTarget, httpLikeListener, silentListener, type Peer } from '../../../e2e/support/peers';
import { checkPortal, scan, type ScanReporter } from './scanner';

// Loopback peers only. The iSCSI peer here is a stand-in that answers a login header; the
// integration tests (scanner.int.test.ts) scan the real tgtd of the lab.
let iscsi: Peer;
let http: Peer;
let silent: Peer;
let closed: number;

beforeAll(async () => {
  [iscsi, http, silent] = await Promise.all([fakeIscsiTarget(), httpLikeListener(), silentListener()]);
  closed = await closedPort();
});
afterAll(async () => {
  await Promise.all([iscsi.close(), http.close(), silent.close()]);
});

function reporter(signal = new AbortController().signal) {
  const items: Portal[] = [];
  const progress: Array<{ done?: number; total?: number }> = [];
  const rep: ScanReporter = {
    signal,
    progress: (p) => progress.push(p),
    item: (p) => items.push(p),
    log: () => undefined,
  };
  return { rep, items, progress };
}

describe('scan on loopback', () => {
  it('finds open ports, tells iSCSI from other listeners, counts closed ones', async () => {
    const { rep, items, progress } = reporter();
    const req = ScanStartInput.parse({ targets: ['127.0.0.1'], ports: [iscsi.port, http.port, silent.port, closed], checkTimeoutMs: 300, resolveNames: false });
    const r = await scan(req, rep);
    const byPort = new Map(r.portals.map((p) => [p.port, p]));
    expect(byPort.get(iscsi.port)?.iscsi).toBe(true);
    expect(byPort.get(iscsi.port)?.evidence).toMatch(/status 0x0201/);
    expect(byPort.get(http.port)?.iscsi).toBe(false);
    expect(byPort.get(http.port)?.evidence).toMatch(/HTTP\/1.1/);
    expect(byPort.get(silent.port)?.iscsi).toBe(false);
    expect(byPort.get(silent.port)?.evidence).toMatch(/no iSCSI login response/);
    expect(byPort.has(closed)).toBe(false);
    expect(r.closed).toBe(1);
    expect(r.probed).toBe(4);
    // Streamed: each open port was reported before the end, first unchecked then checked.
    expect(items.filter((p) => p.port === iscsi.port).map((p) => p.iscsi)).toEqual([null, true]);
    expect(progress.at(-1)).toMatchObject({ done: 4, total: 4 });
  });

  it('skips the check when asked (iscsi: null)', async () => {
    const { rep } = reporter();
    const r = await scan(ScanStartInput.parse({ targets: ['127.0.0.1'], ports: [http.port], confirmIscsi: false, resolveNames: false }), rep);
    expect(r.portals).toEqual([expect.objectContaining({ port: http.port, iscsi: null })]);
  });

  it('refuses a bad request before opening any socket', async () => {
    const { rep, progress } = reporter();
    await expect(scan(ScanStartInput.parse({ targets: ['10.0.0.0/33'] }), rep)).rejects.toMatchObject({
      appError: { code: 'INVALID_INPUT' },
    });
    expect(progress).toHaveLength(0);
  });

  it('stops on cancel while a check waits, with CANCELLED', async () => {
    const ac = new AbortController();
    const { rep } = reporter(ac.signal);
    const p = scan(ScanStartInput.parse({ targets: ['127.0.0.1'], ports: [silent.port], checkTimeoutMs: 20000, resolveNames: false }), rep);
    setTimeout(() => ac.abort(), 50);
    await expect(p).rejects.toBeDefined();
  });

  it('checks one portal by hand', async () => {
    const p = await checkPortal('127.0.0.1', iscsi.port, { timeoutMs: 1000 });
    expect(p.iscsi).toBe(true);
    await expect(checkPortal('127.0.0.1', closed, { timeoutMs: 1000 })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
