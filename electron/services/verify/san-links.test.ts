import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_SECRETS, sampleProject } from '../../../shared/gen/fixtures';
import { loadProject, type ProjectInput } from '../../../shared/model/project';
import { portalLink } from './san-links';
import { startWalk, type Sanboot } from './walk';

// The portal link alone, from a sanboot set on the walk as the per-MAC script link would have
// set it, against a real TCP listener on 127.0.0.1 (and a port where nothing listens). The
// target and boot-sector links log in to a real iSCSI target: they are checked by the lab tests
// (e2e/verify/verify.int.test.ts against tgtd), not here.
let listener: net.Server;
let open = 0;
let closed = 0;
beforeAll(async () => {
  listener = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
  open = (listener.address() as net.AddressInfo).port;
  // A port that was just free: nothing listens there.
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  closed = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
});
afterAll(() => new Promise<void>((r) => listener.close(() => r())));

const walkWith = (uri: string, over: Partial<ProjectInput> = {}) => {
  const base = sampleProject();
  const r = loadProject({ ...base, ...over });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const w = startWalk(r.value, SAMPLE_SECRETS, 'ws1', { dhcp: false, dhcpWaitMs: 0 });
  const sb: Sanboot = { kind: 'sanboot', uris: [uri], keep: false, url: 'tftp://127.0.0.1/52-54-00-12-34-56.ipxe', line: 5, settings: {} };
  w.sanboot = sb;
  return w;
};
const nasHere = () => ({ nas: { ...sampleProject().nas, address: '127.0.0.1' } }) as Partial<ProjectInput>;

describe('portal link alone', () => {
  it("the project's NAS accepting connections passes", async () => {
    const w = walkWith(`iscsi:127.0.0.1::${open}:1:iqn.2026-11.test.bootchain.lab:ws1`, nasHere());
    expect(await portalLink(w)).toBe(true);
    expect(w.links.get('portal')).toMatchObject({ status: 'pass', summary: `127.0.0.1:${open} accepts connections`, evidence: [`TCP connect 127.0.0.1:${open}: open`] });
  });

  it("a portal that answers but is not the project's NAS warns", async () => {
    const w = walkWith(`iscsi:127.0.0.1::${open}:1:iqn.2026-11.test.bootchain.lab:ws1`);
    expect(await portalLink(w)).toBe(true);
    expect(w.links.get('portal')).toMatchObject({ status: 'warn', summary: "sanboot points at 127.0.0.1, not at the project's NAS 10.77.0.20", fix: 'Check that this is the server you mean.' });
  });

  it('nothing listening fails and skips the iSCSI links after it; a wrong address is named in the fix', async () => {
    const w = walkWith(`iscsi:127.0.0.1::${closed}:1:iqn.2026-11.test.bootchain.lab:ws1`);
    expect(await portalLink(w)).toBe(false);
    expect(w.links.get('portal')).toMatchObject({
      status: 'fail',
      summary: `The iSCSI portal 127.0.0.1:${closed} does not answer: connection refused: nothing listens there`,
      fix: 'sanboot points at 127.0.0.1, but the NAS is 10.77.0.20: fix the address in the per-MAC script (upload the generated one).',
    });
    expect(w.links.get('target')).toMatchObject({ status: 'skip', summary: 'not reached: no portal' });
    expect(w.links.get('bootsector')?.status).toBe('skip');
    expect(w.links.has('kernel')).toBe(false);

    const here = walkWith(`iscsi:127.0.0.1::${closed}:1:iqn.2026-11.test.bootchain.lab:ws1`, nasHere());
    await portalLink(here);
    expect(here.links.get('portal')!.fix).toBe(`Start the iSCSI target service on 127.0.0.1 and allow TCP ${closed}.`);
  });

  it('a sanboot URI that cannot be read fails before any connection', async () => {
    const w = walkWith('iscsi:nowhere');
    expect(await portalLink(w)).toBe(false);
    expect(w.links.get('portal')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/^The sanboot URI cannot be read: /), fix: 'Use iscsi:<server>::<port>:<lun>:<target> (upload the generated script).' });
    expect(w.links.get('target')).toMatchObject({ status: 'skip', summary: 'not reached' });
  });
});
