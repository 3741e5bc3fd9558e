import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KnownHosts } from '../../electron/services/upload/known-hosts';
import { SftpTarget, trustHostKey } from '../../electron/services/upload/ssh';
import { findOvmf } from '../../electron/services/vm/qemu';
import { linkCheck } from '../../electron/services/watch/start';
import { watchJob } from '../../electron/services/watch/watch-job';
import type { LinkId } from '../../shared/verify';
import { verdictOf, type WatchItem, type WatchReport, type WatchStageId } from '../../shared/watch';
import { kernelParams } from '../../shared/gen/kernel';
import { loadProject } from '../../shared/model/project';
import { makeOsDisk, osDiskSkipReason } from '../lab/os-disk';
import { addTgtTarget, labTgtadm } from '../lab/tgtd-host';
import { CLI } from '../../electron/cli/run-cli';
import { labOrSkipReason } from '../support/lab-guard';
import { haveQemu } from '../support/qemu';
import { startWatchLab, watchProject, type WatchLabSpec } from './watch-lab';

const pexec = promisify(execFile);

// The live watch against real boots: QEMU workstations (SeaBIOS + its iPXE NIC ROM, OVMF + the
// stock snponly.efi) on the lab bridge, served by a chain lab's dnsmasq (generated DHCP config,
// generated scripts with the watch's stage markers), the disk on the lab NAS's tgtd. The watch
// sees them only as a real PC is seen — the markers the scripts fetch, the DHCP broadcasts, the
// NAS's sessions over SSH — never QEMU's console (printed only when a case fails).
const lab = labOrSkipReason('watch.int.test.ts');
const why = !haveQemu() ? 'QEMU is not installed' : undefined;
if (lab && why) process.stdout.write(`SKIP watch.int.test.ts boots: ${why}\n`);
const noOvmf = findOvmf() ? undefined : 'OVMF is not installed (apt-get install ovmf)';
if (lab && noOvmf) process.stdout.write(`SKIP watch.int.test.ts UEFI: ${noOvmf}\n`);

interface Case {
  name: string;
  what: string;
  spec: (L: NonNullable<typeof lab>) => Omit<WatchLabSpec, 'name' | 'ip' | 'mac' | 'markersPort'>;
  /** The stop point: stage and Verify link, the why and the check's words. */
  stopped: { stage: WatchStageId; link: LinkId; why: RegExp; check: RegExp };
  /** Stages that must have been seen before it stopped. */
  seen: WatchStageId[];
  uefi?: boolean;
}

const CASES: Case[] = [
  {
    name: 'typo',
    what: 'target name typo',
    spec: (L) => ({ firmware: 'bios', target: `${L.iscsi.targets.boot}x` }),
    stopped: { stage: 'san-login', link: 'target', why: /sanboot failed: .*iSCSI/i, check: /does not let .* see target .*x Did you mean .*boot-marker\?/ },
    seen: ['dhcp', 'ipxe-dhcp', 'default', 'station'],
  },
  {
    name: 'chap',
    what: 'wrong CHAP secret',
    spec: (L) => ({ firmware: 'bios', target: L.iscsi.targets.chapOneWay, ws: { chap: { username: L.iscsi.chap.oneWay.username, secretRef: 'w.chap' } }, secrets: { 'w.chap': 'WrongSecret123' } }),
    stopped: { stage: 'san-login', link: 'target', why: /sanboot failed: .*(authentication failed|Permission denied)/, check: /refuses the CHAP login/ },
    seen: ['dhcp', 'ipxe-dhcp', 'default', 'station'],
  },
  {
    name: 'empty',
    what: 'LUN without a boot sector',
    spec: (L) => ({ firmware: 'bios', target: L.iscsi.targets.empty }),
    stopped: { stage: 'san-boot', link: 'bootsector', why: /sanboot failed/, check: /Put the operating system on this disk first/ },
    seen: ['dhcp', 'ipxe-dhcp', 'default', 'station'],
  },
  {
    name: 'nomac',
    what: 'per-MAC script missing',
    spec: (L) => ({ firmware: 'bios', target: L.iscsi.targets.boot, tftp: (root) => unlinkSync(path.join(root, '52-54-00-b0-19-04.ipxe')) }),
    stopped: { stage: 'station', link: 'station', why: /no per-MAC script 52-54-00-b0-19-04\.ipxe/, check: /52-54-00-b0-19-04\.ipxe/ },
    seen: ['dhcp', 'ipxe-dhcp', 'default'],
  },
  {
    name: 'uempty',
    what: 'UEFI (OVMF + snponly.efi): LUN without a boot sector',
    spec: (L) => ({ firmware: 'uefi', target: L.iscsi.targets.empty }),
    stopped: { stage: 'san-boot', link: 'bootsector', why: /sanboot failed/, check: /Put the operating system on this disk first|empty/ },
    seen: ['dhcp', 'ipxe-dhcp', 'default', 'station'],
    uefi: true,
  },
];

describe.skipIf(!lab || !!why)('the live boot watch sees a real boot', () => {
  if (!lab || why) return void it.skip('needs the lab and QEMU (see the SKIP line above)', () => undefined);
  const L = lab;
  const S = L.ssh;
  const work = mkdtempSync(path.join(os.tmpdir(), 'bc-watch-'));
  const known = new KnownHosts(path.join(work, 'known_hosts'));
  let nas: SftpTarget;
  beforeAll(async () => {
    const fp = (await pexec('ssh-keygen', ['-l', '-E', 'sha256', '-f', S.hostKeyPub])).stdout.split(' ')[1]!;
    await trustHostKey(S.host, S.port, fp, known);
    nas = await SftpTarget.connect({ host: S.host, port: S.port, user: 'root', auth: { kind: 'key', path: S.root.key, passphrase: S.root.passphrase }, knownHosts: known, root: '/' });
  });
  afterAll(() => {
    nas?.close();
    rmSync(work, { recursive: true, force: true });
  });

  // At most three QEMUs of this file at once (TCG on two cores, beside the other test files); the
  // stall limits are the watch's default (60 s): under load iPXE's DHCP alone can take 20 s.
  let lanes = 3;
  const waiting: Array<() => void> = [];
  async function inLane<T>(fn: () => Promise<T>): Promise<T> {
    while (lanes === 0) await new Promise<void>((r) => waiting.push(r));
    lanes--;
    try {
      return await fn();
    } finally {
      lanes++;
      waiting.shift()?.();
    }
  }

  /** Watches one boot of the spec's workstation; returns the report, the items and the VM's console. */
  const watchBoot = (spec: WatchLabSpec, o: { stallMs: number; vmTimeoutMs: number; until?: RegExp }) => inLane(() => watchOne(spec, o));
  async function watchOne(spec: WatchLabSpec, o: { stallMs: number; vmTimeoutMs: number; until?: RegExp }) {
    const wl = await startWatchLab(L, spec);
    const items: WatchItem[] = [];
    const logs: string[] = [];
    const vmStop = new AbortController();
    let ready!: () => void;
    const listening = new Promise<void>((r) => (ready = r));
    try {
      const watching = watchJob(
        {
          project: wl.project,
          stations: wl.project.workstations,
          markers: wl.markers,
          dhcp: { port: 67 },
          nas: { runner: nas, poll: { tgtControlPort: L.nas.tgtControlPorts[0] }, intervalMs: 500 },
          stallMs: o.stallMs,
          timeoutMs: o.vmTimeoutMs + 30_000,
          check: (w, link, signal) => linkCheck(wl.project, wl.secrets, w, link, { signal }),
        },
        { signal: new AbortController().signal, log: (l) => logs.push(l), item: (i) => items.push(i), progress: (p) => (p.phase.startsWith('watching') ? ready() : undefined) },
      );
      await listening;
      const vm = wl.boot({ timeoutMs: o.vmTimeoutMs, until: o.until, signal: vmStop.signal });
      // The VM ends by itself (at iPXE's shell, a settled SAN boot, the OS's poweroff); the watch decides from what it saw.
      const [report, boot] = await Promise.all([watching, vm.catch((e: unknown) => ({ console: `(the VM failed: ${String(e)})` }))]);
      return { report, items, logs, console: boot.console };
    } finally {
      vmStop.abort();
      await wl.stop();
    }
  }

  const print = (name: string, r: WatchReport) => {
    const t = r.stations[0]!;
    process.stdout.write(
      `watch ${name}: ${verdictOf(t)} after ${(r.durationMs / 1000).toFixed(1)} s; stages ${t.stages.map((s) => `${s.id}@${(s.at / 1000).toFixed(1)}s(${s.source})`).join(' ')}` +
        `${t.stopped ? `\n  stopped at ${t.stopped.link} (${t.stopped.stage}): ${t.stopped.why}\n  check: ${t.stopped.check?.status} ${t.stopped.check?.summary}${t.stopped.check?.fix ? `\n  fix: ${t.stopped.check.fix}` : ''}` : ''}\n`,
    );
  };

  // Healthy boots to the OS's own login: a disk whose initramfs logs in with the generated kernel
  // parameters (e2e/lab/os-disk.ts), on a target of its own on the lab NAS's tgtd.
  const HEALTHY = [
    { name: 'hbios', firmware: 'bios' as const, tid: 175, n: 0x11 },
    { name: 'huefi', firmware: 'uefi' as const, tid: 176, n: 0x12 },
  ];
  const CLI_TID = 177;
  const tgtadm = labTgtadm(L.nas.tgtControlPorts[0] ?? 0);
  afterAll(async () => {
    for (const tid of [...HEALTHY.map((h) => h.tid), CLI_TID]) await tgtadm(['--op', 'delete', '--mode', 'target', '--tid', String(tid), '--force']).catch(() => undefined);
  });
  for (const h of HEALTHY) {
    const skip = osDiskSkipReason(h.firmware) ?? (h.firmware === 'uefi' ? noOvmf : undefined);
    if (skip) process.stdout.write(`SKIP watch.int.test.ts ${h.name}: ${skip}\n`);
    it.skipIf(!!skip).concurrent(`${h.name}: a healthy ${h.firmware.toUpperCase()} boot — every stage in order, the NAS's logins (iPXE's, then the OS's own) seen`, { timeout: 480_000 }, async () => {
      const target = `${L.iscsi.targets.mbr.split(':')[0]}:watch-${h.name}`;
      const spec: WatchLabSpec = { name: h.name, ip: `10.77.0.${140 + h.n}`, mac: `52:54:00:b0:19:${h.n.toString(16)}`, markersPort: 18190 + h.n, firmware: h.firmware, target };
      const p = loadProject(watchProject(L, spec));
      if (!p.ok) throw new Error(JSON.stringify(p.errors));
      const cmdline = kernelParams(p.value, p.value.workstations[0]!, 0, () => '').params;
      const disk = await makeOsDisk({ firmware: h.firmware, dir: path.join(work, h.name), kernelCmdline: cmdline });
      await addTgtTarget(tgtadm, h.tid, target, disk.file, 0, { keepFile: true });
      const { report, console: screen } = await watchBoot(spec, { stallMs: 60_000, vmTimeoutMs: 180_000, until: new RegExp(disk.okMarker) });
      print(h.name, report);
      const t = report.stations[0]!;
      try {
        expect(verdictOf(t)).toBe('booted');
        expect(t.stopped).toBeUndefined();
        expect(t.stages.map((x) => x.id)).toEqual(['dhcp', 'bootfile', 'ipxe', 'ipxe-dhcp', 'default', 'station', 'san-login', 'nas-login', 'san-boot', 'os-login']);
        expect(t.stages.find((x) => x.id === 'nas-login')).toMatchObject({ source: 'nas', evidence: expect.stringContaining(p.value.workstations[0]!.initiatorIqn) });
        expect(t.stages.find((x) => x.id === 'os-login')).toMatchObject({ source: 'nas', evidence: expect.stringMatching(/second login/) });
        for (const id of ['default', 'station'] as const) expect(t.stages.find((x) => x.id === id)?.source).toBe('marker');
        expect(t.stages.map((x) => x.at)).toEqual([...t.stages.map((x) => x.at)].sort((a, b) => a - b));
        expect(report.ended).toBe('all-done');
      } catch (e) {
        process.stdout.write(`--- ${h.name}: the VM's console (not seen by the watch) ---\n${screen.slice(-2500)}\n`);
        throw e;
      }
    });
  }

  /** Runs `bootchain watch --json` (the built CLI) while the workstation boots; its NDJSON lines and exit code. */
  const cliWatch = (spec: WatchLabSpec, until?: RegExp) => inLane(() => cliOne(spec, until));
  async function cliOne(spec: WatchLabSpec, until?: RegExp) {
    const wl = await startWatchLab(L, spec);
    try {
      const file = path.join(work, `${spec.name}.json`);
      writeFileSync(file, JSON.stringify({ ...JSON.parse(JSON.stringify(watchProject(L, spec))), nas: { address: spec.ip, iscsiPort: 3260, tftpRoot: '/srv/tftp', ssh: { host: S.host, port: S.port, user: 'root' } } }));
      const fp = (await pexec('ssh-keygen', ['-l', '-E', 'sha256', '-f', S.hostKeyPub])).stdout.split(' ')[1]!;
      const args = ['watch', '--project', file, '--station', 'pc', '--json', '--nas', '--key', S.root.key, '--trust', fp, '--known-hosts', path.join(work, `${spec.name}.known`), '--tgt-control-port', String(L.nas.tgtControlPorts[0] ?? 0), '--stall', '60', '--minutes', '4'];
      const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, BOOTCHAIN_SSH_PASSPHRASE: S.root.passphrase, BOOTCHAIN_DATA_DIR: work } });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const code = new Promise<number>((r) => child.on('close', (c) => r(c ?? -1)));
      // Powered on once every source the watch could start is listening.
      for (let i = 0; i < 100 && !/"source":"nas".*"state":"(listening|failed)"/.test(out); i++) await new Promise((r) => setTimeout(r, 200));
      await wl.boot({ timeoutMs: 180_000, until }).catch(() => undefined);
      const exit = await code;
      return { exit, lines: out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>), out, err };
    } finally {
      await wl.stop();
    }
  }

  it.skipIf(!!osDiskSkipReason('bios')).concurrent('bootchain watch --json: a healthy boot (exit 0) and a broken one (exit 1, stopped at the boot sector)', { timeout: 600_000 }, async () => {
    const target = `${L.iscsi.targets.mbr.split(':')[0]}:watch-cli`;
    const ok: WatchLabSpec = { name: 'cliok', ip: '10.77.0.161', mac: '52:54:00:b0:19:21', markersPort: 18221, firmware: 'bios', target };
    const p = loadProject(watchProject(L, ok));
    if (!p.ok) throw new Error(JSON.stringify(p.errors));
    const disk = await makeOsDisk({ firmware: 'bios', dir: path.join(work, 'cli'), kernelCmdline: kernelParams(p.value, p.value.workstations[0]!, 0, () => '').params });
    await addTgtTarget(tgtadm, CLI_TID, target, disk.file, 0, { keepFile: true });
    const [good, bad] = await Promise.all([
      cliWatch(ok, new RegExp(disk.okMarker)),
      cliWatch({ name: 'clibad', ip: '10.77.0.162', mac: '52:54:00:b0:19:22', markersPort: 18222, firmware: 'bios', target: L.iscsi.targets.empty }),
    ]);
    for (const [name, r] of [['healthy', good], ['broken', bad]] as const) {
      // The stations' timelines and the verdicts (events and sources are in the full output).
      const brief = r.lines.filter((l) => l.type === 'verdict' || l.type === 'source' || (l.type === 'station' && r.lines.filter((x) => x.type === 'station').at(-1) === l));
      process.stdout.write(`bootchain watch --json (${name}, exit ${r.exit}), ${r.lines.length} lines; the sources, the last timeline and the verdict:\n${brief.map((l) => JSON.stringify(l)).join('\n')}\n`);
    }
    expect(good.exit).toBe(0);
    expect(good.lines.at(-1)).toMatchObject({ type: 'verdict', station: 'pc', verdict: 'booted', reached: 'os-login' });
    expect(bad.exit).toBe(1);
    expect(bad.lines.at(-1)).toMatchObject({ type: 'verdict', station: 'pc', verdict: 'stopped', stoppedAt: 'bootsector', check: { status: 'fail', fix: expect.stringMatching(/Put the operating system on this disk first/) } });
    for (const r of [good, bad]) {
      expect(r.lines.filter((l) => l.type === 'source').map((l) => (l.source as { source: string; state: string }).state)).not.toContain('failed');
      expect(r.out + r.err).not.toContain(S.root.passphrase);
    }
  });

  CASES.forEach((c, i) => {
    const skip = c.uefi ? noOvmf : undefined;
    it.skipIf(!!skip).concurrent(`${c.name}: ${c.what} — stops at the right link with Verify's fix`, { timeout: 480_000 }, async () => {
      const n = i + 1;
      const mac = `52:54:00:b0:19:${n.toString(16).padStart(2, '0')}`;
      const { report, items, console: screen } = await watchBoot({ name: c.name.slice(0, 6), ip: `10.77.0.${140 + n}`, mac, markersPort: 18190 + n, ...c.spec(L) }, { stallMs: 60_000, vmTimeoutMs: 150_000 });
      print(c.name, report);
      const t = report.stations[0]!;
      try {
        expect(report.sources.filter((s) => s.state === 'failed')).toEqual([]);
        expect(t.stopped).toMatchObject({ stage: c.stopped.stage, link: c.stopped.link });
        expect(t.stopped!.why).toMatch(c.stopped.why);
        expect(`${t.stopped!.check?.summary} ${t.stopped!.check?.fix ?? ''}`).toMatch(c.stopped.check);
        for (const s of c.seen) expect(t.stages.map((x) => x.id)).toContain(s);
        // The stages came in boot order, each from a source that saw it.
        expect(t.stages.map((x) => x.at)).toEqual([...t.stages.map((x) => x.at)].sort((a, b) => a - b));
        expect(items.filter((x) => x.type === 'station').length).toBeGreaterThan(1);
        expect(report.ended).toBe('all-done');
      } catch (e) {
        process.stdout.write(`--- ${c.name}: the VM's console (not seen by the watch) ---\n${screen.slice(-2500)}\n`);
        throw e;
      }
    });
  });

});
