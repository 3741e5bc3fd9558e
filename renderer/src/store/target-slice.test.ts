import { afterEach, describe, expect, it } from 'vitest';
import { closedPort } from '../../../e2e/support/peers';
import { discoveryHandler, fakeTarget, type FakeTarget } from '../../../e2e/support/fake-target';
import { inProcessApi } from '../../test/in-process-api';
import { setApi } from '../api/client';
import { useApp } from './index';

// The Target step's store over the real handlers in-process: the discover job probes what it
// finds and the window only shows it (no probe queue in the window). The portal is a fake target
// written in the test (e2e/support/fake-target.ts) listing targets on a port where nothing
// listens, so each probe fails at once; e2e/specs/target.spec.ts shows real disks from the lab.
let peer: FakeTarget | undefined;
afterEach(async () => {
  await peer?.close();
  useApp.getState().resetTarget();
});

const state = () => useApp.getState();
const until = async (ok: () => boolean, ms = 5000) => {
  for (const t0 = Date.now(); !ok(); ) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

async function portalListing(names: string[]): Promise<number> {
  const nothing = await closedPort();
  peer = await fakeTarget(discoveryHandler(names.flatMap((n): Array<[string, string]> => [['TargetName', n], ['TargetAddress', `127.0.0.1:${nothing},1`]])));
  const key = `127.0.0.1:${peer.port}`;
  useApp.setState((s) => ({ scan: { ...s.scan, portals: { [key]: { address: '127.0.0.1', port: peer!.port, iscsi: true } }, selected: [key] } }));
  return nothing;
}

describe('Target step: discovery brings each target’s probe', () => {
  it('each target found has its probe’s outcome when discovery ends; “Check again” is a probe job of its own', async () => {
    setApi(inProcessApi());
    const names = ['iqn.2020-01.x:a', 'iqn.2020-01.x:b'];
    await portalListing(names);
    await state().discoverTargets();
    await until(() => state().target.discover.status !== 'running');
    const t = state().target;
    expect(t.discover.status).toBe('succeeded');
    expect(t.discover.result?.targets.map((x) => x.name)).toEqual(names);
    expect(names.map((n) => [t.probes[n]?.status, t.probes[n]?.error?.code, t.probes[n]?.jobId])).toEqual(names.map(() => ['failed', 'UNREACHABLE', undefined]));

    await state().probe('iqn.2020-01.x:b');
    await until(() => state().target.probes['iqn.2020-01.x:b']?.status !== 'running');
    expect(state().target.probes['iqn.2020-01.x:b']).toMatchObject({ status: 'failed', error: { code: 'UNREACHABLE' }, jobId: expect.any(String) });
  });

  it('target CHAP that cannot be sent: discovery still lists the targets, and each says what to fill in', async () => {
    setApi(inProcessApi());
    await portalListing(['iqn.2020-01.x:chap']);
    state().setChap('targetChap', { enabled: true, username: '', secret: '' });
    await state().discoverTargets();
    await until(() => state().target.discover.status !== 'running');
    expect(state().target.discover.status).toBe('succeeded');
    expect(state().target.probes['iqn.2020-01.x:chap']).toMatchObject({ status: 'failed', error: { message: 'Enter the CHAP user name' } });
    state().setChap('targetChap', { enabled: false });
  });
});
