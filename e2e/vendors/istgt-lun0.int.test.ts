import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers, dispatch } from '../../electron/services/api/handlers';
import { JobRunner } from '../../electron/services/jobs/runner';
import { diskFields, diskOptions, type ChapForm } from '../../renderer/src/store/disks';
import type { DiscoverJobResult } from '../../shared/iscsi';
import type { JobEvent } from '../../shared/jobs';
import { closedPort } from '../support/peers';

// Which LUN holds the disk is the vendor's choice: Linux tgt puts its controller on LUN 0 and the
// disk on LUN 1; istgt (FreeBSD's, the target of QNAP's older firmwares) and QNAP put the disk on
// LUN 0. Debian's istgt and tgtd, started here on loopback (free ports, nothing leaves the
// machine), are probed by the real iscsi:discover job through the contract's handlers, as the
// Target step asks for it; the boot-disk verdict must pick LUN 0 on istgt and LUN 1 on tgt, and
// the disk choice the Target and Identity steps make from that result (renderer/src/store/disks.ts,
// the functions the slices use) must carry that LUN into the workstation.
const ISTGT = '/usr/sbin/istgt';
const TGTD = '/usr/sbin/tgtd';
const missing = [ISTGT, TGTD].filter((f) => !existsSync(f));
const root = process.getuid?.() === 0;
if (missing.length > 0 || !root) process.stdout.write(`SKIP istgt-lun0.int.test.ts: ${missing.length ? `${missing.join(', ')} missing` : 'tgtd needs root'}\n`);

const pexec = promisify(execFile);
const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-istgt-'));
const ISTGT_IQN = 'iqn.2026-11.test.istgt:disk0';
const TGT_IQN = 'iqn.2026-11.test.tgt:disk1';
const children: ChildProcess[] = [];
let istgtPort = 0;
let tgtPort = 0;
let ctl = 0;

const image = (name: string, mib: number) => {
  const f = path.join(dir, name);
  closeSync(openSync(f, 'w'));
  truncateSync(f, mib << 20);
  return f;
};
/** Retries `ok` every 100 ms for 10 s: a daemon just started takes a moment to answer. */
async function soon(ok: () => Promise<boolean>, what: string): Promise<void> {
  const until = Date.now() + 10_000;
  while (!(await ok())) {
    if (Date.now() > until) throw new Error(`${what} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });
const run = (cmd: string, args: string[]) => {
  const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(c);
  return c;
};

beforeAll(async () => {
  if (missing.length > 0 || !root) return;
  istgtPort = await closedPort();
  tgtPort = await closedPort();
  const ucPort = await closedPort();
  // istgt.conf(5): a portal group on loopback, every initiator from loopback, one disk on LUN0.
  writeFileSync(path.join(dir, 'auth.conf'), '');
  writeFileSync(
    path.join(dir, 'istgt.conf'),
    [
      '[Global]',
      '  NodeBase "iqn.2026-11.test.istgt"',
      `  PidFile ${dir}/istgt.pid`,
      `  AuthFile ${dir}/auth.conf`,
      `  MediaDirectory ${dir}`,
      '  DiscoveryAuthMethod None',
      '  MaxSessions 4',
      '  MaxConnections 2',
      '[UnitControl]',
      '  AuthMethod None',
      `  Portal UC1 127.0.0.1:${ucPort}`,
      '  Netmask 127.0.0.1',
      '[PortalGroup1]',
      `  Portal DA1 127.0.0.1:${istgtPort}`,
      '[InitiatorGroup1]',
      '  InitiatorName "ALL"',
      '  Netmask 127.0.0.1',
      '[LogicalUnit1]',
      '  TargetName disk0',
      '  Mapping PortalGroup1 InitiatorGroup1',
      '  AuthMethod None',
      '  UseDigest Auto',
      '  UnitType Disk',
      `  LUN0 Storage ${image('istgt-disk0.img', 8)} 8MB`,
      '',
    ].join('\n'),
  );
  run(ISTGT, ['-c', path.join(dir, 'istgt.conf'), '-D', '-q']);
  // tgtd on its own control port (no other tgtd's socket), the disk on LUN 1 as tgt does.
  for (ctl = 3900 + (process.pid % 90); existsSync(`/var/run/tgtd/socket.${ctl}`); ctl++);
  run(TGTD, ['-f', '-C', String(ctl), '--iscsi', `portal=127.0.0.1:${tgtPort}`]);
  const tgtadm = (args: string[]) => pexec('/usr/sbin/tgtadm', ['-C', String(ctl), '--lld', 'iscsi', ...args]);
  await soon(() => tgtadm(['--op', 'show', '--mode', 'target']).then(() => true, () => false), `tgtd (control port ${ctl})`);
  await tgtadm(['--op', 'new', '--mode', 'target', '--tid', '1', '-T', TGT_IQN]);
  await tgtadm(['--op', 'new', '--mode', 'logicalunit', '--tid', '1', '--lun', '1', '-b', image('tgt-disk1.img', 16)]);
  await tgtadm(['--op', 'bind', '--mode', 'target', '--tid', '1', '-I', 'ALL']);
  await soon(() => listening(istgtPort), `istgt on 127.0.0.1:${istgtPort}`);
  await soon(() => listening(tgtPort), `tgtd on 127.0.0.1:${tgtPort}`);
}, 60_000);

afterAll(async () => {
  // tgtd stops on its own command (it ignores SIGTERM while targets exist); anything left gets SIGKILL.
  if (ctl) await pexec('/usr/sbin/tgtadm', ['-C', String(ctl), '--op', 'delete', '--mode', 'system']).catch(() => undefined);
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  const gone = (c: ChildProcess) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r())));
  await Promise.all(
    children.map((c) => Promise.race([gone(c), new Promise<void>((r) => setTimeout(r, 3000))]).then(() => (c.exitCode === null && c.signalCode === null ? (c.kill('SIGKILL'), gone(c)) : undefined))),
  );
  for (const f of [`/var/run/tgtd/socket.${ctl}`, `/var/run/tgtd/socket.${ctl}.lock`]) rmSync(f, { force: true });
  rmSync(dir, { recursive: true, force: true });
});

const noChap: ChapForm = { enabled: false, username: '', secret: '', mutual: false, mutualUsername: '', mutualSecret: '' };

/** Runs iscsi:discover (with its probes) through the handlers and the job runner, to its end. */
async function discoverJob(portals: Array<{ address: string; port: number }>): Promise<DiscoverJobResult> {
  const runner = new JobRunner();
  const handlers = createHandlers(runner, 'harness', { dataDir: path.join(dir, 'data') });
  const caller = { id: 'istgt-test' };
  const events: JobEvent[] = [];
  const off = runner.onEvent((e) => events.push(e), { owner: caller.id });
  try {
    const r = (await dispatch(handlers, 'iscsi:discover', { portals, initiatorName: 'iqn.2024-01.io.bootchain:istgt-test', probe: {} }, caller)) as { ok: boolean; value?: { jobId: string } };
    expect(r.ok).toBe(true);
    const jobId = r.value!.jobId;
    for (const t0 = Date.now(); !events.some((e) => e.jobId === jobId && ['succeeded', 'failed', 'cancelled'].includes(e.type)); ) {
      if (Date.now() - t0 > 30_000) throw new Error('the discover job did not end');
      await new Promise((res) => setTimeout(res, 20));
    }
    const end = events.find((e) => e.jobId === jobId && ['succeeded', 'failed', 'cancelled'].includes(e.type)) as JobEvent & { result?: DiscoverJobResult };
    expect(end.type).toBe('succeeded');
    return end.result!;
  } finally {
    off();
  }
}

describe.skipIf(missing.length > 0 || !root)('the boot disk’s LUN: istgt (LUN 0, as QNAP) beside tgt (LUN 1)', () => {
  it('the discover job’s probes pick LUN 0 on istgt and LUN 1 on tgt, and the disk choice fills that LUN', async () => {
    const portals = [
      { address: '127.0.0.1', port: istgtPort },
      { address: '127.0.0.1', port: tgtPort },
    ];
    const d = await discoverJob(portals);
    expect(d.targets.map((x) => x.name).sort()).toEqual([ISTGT_IQN, TGT_IQN]);
    const probes = Object.fromEntries((d.probes ?? []).map((p) => [p.target, p]));
    expect(probes[ISTGT_IQN]?.status).toBe('succeeded');
    const istgt = probes[ISTGT_IQN]!.result!;
    expect(istgt.bootLun).toBe(0);
    expect(istgt.luns.find((l) => l.lun === 0)).toMatchObject({ deviceTypeName: 'disk', sizeBytes: 8 << 20 });
    expect(probes[TGT_IQN]?.status).toBe('succeeded');
    const tgt = probes[TGT_IQN]!.result!;
    expect(tgt.bootLun).toBe(1);
    expect(tgt.luns.find((l) => l.lun === 0)?.deviceType).toBe(0x0c);
    expect(tgt.luns.find((l) => l.lun === 1)).toMatchObject({ deviceTypeName: 'disk', sizeBytes: 16 << 20 });

    // The choices the Target and Identity steps offer from this result, and what each fills in.
    const options = diskOptions({
      scan: { selected: portals.map((p) => `${p.address}:${p.port}`) },
      target: { targetChap: noChap, chaps: {}, discover: { result: d }, probes },
    });
    const byName = Object.fromEntries(options.map((o) => [o.target, o]));
    expect(byName[ISTGT_IQN]).toMatchObject({ lun: 0, portal: { address: '127.0.0.1', port: istgtPort }, empty: true });
    expect(diskFields(byName[ISTGT_IQN]!)).toEqual({ target: ISTGT_IQN, lun: 0 });
    expect(diskFields(byName[TGT_IQN]!)).toEqual({ target: TGT_IQN, lun: 1 });
  }, 60_000);
});
