import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { labOrSkipReason } from '../../../e2e/support/lab-guard';
import { DiscoverInput } from '../../../shared/iscsi';
import type { JobContext } from '../jobs/runner';
import { discover } from './discovery';
import { discoverJob } from './jobs';
import { probeTarget } from './probe';

// Against the lab's real tgtd instances (A on .20/.22, B on .21 with discovery CHAP).
const lab = labOrSkipReason('iscsi.int.test.ts');
const pexec = promisify(execFile);
const INI = 'iqn.2024-01.io.bootchain:int-test';
const ROOT = path.resolve(import.meta.dirname, '../../..');

const hostPort = (s: string) => {
  const [host, port] = s.split(':');
  return { host: host!, port: Number(port) };
};
type Coded = { appError?: { code: string; message: string; hint: string } };
const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: Coded) => e.appError);

describe.skipIf(!lab)('iSCSI engine against tgtd', () => {
  // Without the lab the body below cannot even be collected: one skipped test says so.
  if (!lab) return void it.skip('needs the lab (see the SKIP line above)', () => undefined);
  const L = lab;
  const A = hostPort(L.iscsi.portalsA[0]!);
  const A2 = hostPort(L.iscsi.portalsA[1]!);
  const B = hostPort(L.iscsi.portalB);
  const T = L.iscsi.targets;
  const named = [T.mbr, T.gpt, T.empty, T.chapOneWay, T.chapMutual];

  it('discovers 40+ targets in a reply over 8 KiB, also when it must come in many PDUs', async () => {
    const d = await discover({ ...A, initiatorName: INI });
    const names = d.targets.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining([...named, ...T.bulk]));
    expect(names.length).toBeGreaterThanOrEqual(40);
    expect(d.replyBytes).toBeGreaterThan(8192);
    // The ACL-bound target is hidden from initiators it does not allow.
    expect(names).not.toContain(T.acl);
    const small = await discover({ ...A, initiatorName: INI, maxRecvDataSegmentLength: 512 });
    expect(small.replyPdus).toBeGreaterThan(1);
    expect(small.targets).toEqual(d.targets);
    const allowed = await discover({ ...A, initiatorName: L.iscsi.aclInitiator });
    expect(allowed.targets.map((t) => t.name)).toContain(T.acl);
  });

  it('merges the two portals of tgtd A into one target with both portals', async () => {
    const events: string[] = [];
    const ctx: JobContext<'discover'> = { signal: new AbortController().signal, progress: () => undefined, log: () => undefined, item: (r) => void (r.kind === 'portal' && events.push(r.portal.address)) };
    const r = await discoverJob(DiscoverInput.parse({ portals: [{ address: A.host }, { address: A2.host }], initiatorName: INI }), ctx);
    const ws1 = r.targets.find((t) => t.name === T.mbr);
    expect(ws1?.portals.map((p) => `${p.address}:${p.port}`).sort()).toEqual([...L.iscsi.portalsA].sort());
    expect(events.sort()).toEqual([A.host, A2.host].sort());
    expect(r.failures).toEqual([]);
  });

  it('discovery CHAP: none, wrong, one-way, mutual, wrong mutual', async () => {
    const c = L.iscsi.chap.discovery;
    expect(await failure(discover({ ...B, initiatorName: INI }))).toMatchObject({ code: 'AUTH_FAILED', hint: expect.stringMatching(/requires CHAP/) });
    expect(await failure(discover({ ...B, initiatorName: INI, chap: { username: c.username, secret: 'wrong-secret-99' } }))).toMatchObject({
      code: 'AUTH_FAILED',
      hint: expect.stringMatching(/CHAP secret or user wrong/),
    });
    expect((await discover({ ...B, initiatorName: INI, chap: { username: c.username, secret: c.secret } })).targets.map((t) => t.name)).toEqual([T.onB]);
    const mutual = await discover({ ...B, initiatorName: INI, chap: { username: c.username, secret: c.secret, mutual: { username: c.targetUsername, secret: c.targetSecret } } });
    expect(mutual.targets).toHaveLength(1);
    expect(await failure(discover({ ...B, initiatorName: INI, chap: { username: c.username, secret: c.secret, mutual: { secret: 'not-the-target-secret' } } }))).toMatchObject({
      code: 'AUTH_FAILED',
      message: expect.stringMatching(/mutual CHAP/),
    });
  });

  it('probes LUNs of different sizes: controller LUN 0, disk LUN 1, MBR / GPT+ESP / empty', async () => {
    const mbr = await probeTarget({ ...A, initiatorName: INI, targetName: T.mbr });
    expect(mbr.luns.map((l) => [l.lun, l.deviceTypeName])).toEqual([
      [0, 'storage array controller'],
      [1, 'disk'],
    ]);
    expect(mbr.bootLun).toBe(1);
    expect(mbr.luns[1]).toMatchObject({ vendor: 'IET', product: 'VIRTUAL-DISK', blockSize: 512, sizeBytes: L.iscsi.sizesMiB.mbr! * 1048576 });
    expect(mbr.luns[1]!.serial).toBeTruthy();
    expect(mbr.luns[1]!.layout).toMatchObject({ scheme: 'mbr', bootSignature: true, bootable: true, verdict: 'has-os' });
    const gpt = await probeTarget({ ...A2, initiatorName: INI, targetName: T.gpt, digests: 'prefer' });
    expect(gpt.luns[1]).toMatchObject({ sizeBytes: L.iscsi.sizesMiB.gpt! * 1048576, layout: { scheme: 'gpt', bootable: true, esp: { index: 1 } } });
    const empty = await probeTarget({ ...A, initiatorName: INI, targetName: T.empty });
    expect(empty.luns[1]).toMatchObject({ sizeBytes: L.iscsi.sizesMiB.empty! * 1048576, layout: { verdict: 'empty' } });
  });

  it('target CHAP: none, wrong, one-way, mutual', async () => {
    const one = L.iscsi.chap.oneWay;
    const mu = L.iscsi.chap.mutual;
    expect(await failure(probeTarget({ ...A, initiatorName: INI, targetName: T.chapOneWay }))).toMatchObject({ code: 'AUTH_FAILED', hint: expect.stringMatching(/requires CHAP/) });
    expect(await failure(probeTarget({ ...A, initiatorName: INI, targetName: T.chapOneWay, chap: { username: one.username, secret: 'not-the-secret' } }))).toMatchObject({
      code: 'AUTH_FAILED',
      hint: expect.stringMatching(/CHAP secret or user wrong/),
    });
    expect((await probeTarget({ ...A, initiatorName: INI, targetName: T.chapOneWay, chap: one })).bootLun).toBe(1);
    const m = await probeTarget({ ...A, initiatorName: INI, targetName: T.chapMutual, chap: { username: mu.username, secret: mu.secret, mutual: { username: mu.targetUsername, secret: mu.targetSecret } } });
    expect(m.bootLun).toBe(1);
    expect(
      await failure(probeTarget({ ...A, initiatorName: INI, targetName: T.chapMutual, chap: { username: mu.username, secret: mu.secret, mutual: { secret: 'wrong-target-secret' } } })),
    ).toMatchObject({ code: 'AUTH_FAILED', message: expect.stringMatching(/mutual CHAP/) });
  });

  it('ACL refusal names the initiator and the fix; the allowed initiator gets in', async () => {
    const e = await failure(probeTarget({ ...A, initiatorName: INI, targetName: T.acl }));
    expect(e?.code).toBe('TARGET_NOT_FOUND');
    expect(e?.hint).toContain(`ACL does not allow initiator IQN ${INI}`);
    expect(e?.hint).toContain(`add ${INI}`);
    expect((await probeTarget({ ...A, initiatorName: L.iscsi.aclInitiator, targetName: T.acl })).bootLun).toBe(1);
  });

  it('an unknown target and a typo', async () => {
    const typo = await failure(probeTarget({ ...A, initiatorName: INI, targetName: T.gpt.replace(/i$/, 'l') }));
    expect(typo).toMatchObject({ code: 'TARGET_NOT_FOUND', hint: expect.stringContaining(`Did you mean ${T.gpt}`) });
    const none = await failure(probeTarget({ ...A, initiatorName: INI, targetName: 'iqn.2026-11.test.bootchain.lab:no-such-disk-at-all' }));
    expect(none?.code).toBe('TARGET_NOT_FOUND');
  });

  it('parity: our discovery lists exactly what iscsiadm -m discovery -t st lists', { timeout: 180000 }, async () => {
    const portal = L.iscsi.portalsA[0]!;
    const { stdout } = await pexec('unshare', ['-m', 'sh', path.join(ROOT, 'e2e/lab/iscsiadm-discovery.sh'), portal, INI, '1'], { maxBuffer: 1 << 20, timeout: 170000 });
    const theirs = stdout.split('\n').filter((l) => /^\S+:\d+,\d+ \S+$/.test(l)).sort();
    const ours = await pexec(process.execPath, [path.join(ROOT, 'out/main/cli.js'), 'discover', portal, '--initiator', INI]);
    const mine = ours.stdout.split('\n').filter(Boolean).sort();
    expect(theirs.length).toBeGreaterThanOrEqual(40);
    expect(mine).toEqual(theirs);
  });
});
