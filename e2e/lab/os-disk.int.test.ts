import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vmBootJob } from '../../electron/services/vm/job';
import { findOvmf } from '../../electron/services/vm/qemu';
import { parseTgtadmConns } from '../../electron/services/watch/nas-sessions';
import type { BootchainError } from '../../shared/errors';
import { sampleProject } from '../../shared/gen/fixtures';
import { kernelParams } from '../../shared/gen/kernel';
import { generateChapSecret } from '../../shared/model/chap';
import { loadProject, type Project, type ProjectInput } from '../../shared/model/project';
import type { VmBootResult } from '../../shared/vm';
import { labOrSkipReason } from '../support/lab-guard';
import { haveQemu } from '../support/qemu';
import { makeOsDisk, osDiskSkipReason, type OsDisk } from './os-disk';
import { addTgtTarget, labTgtadm } from './tgtd-host';

// The OS disk end to end, as a workstation boots: the disk (Debian's kernel, an initramfs with
// open-iscsi's iscsistart) on LUN 1 of a target on the lab NAS's tgtd (CHAP), SAN-booted by
// QEMU's NIC ROM iPXE from the project's generated script (user-mode network from the desk), and
// then the OS's own login, from the initiator IQN on the genkernel command line that
// kernelParams generates — seen both on the serial console and in tgtd's connection list.
const lab = labOrSkipReason('os-disk.int.test.ts');
const skip = (fw: 'bios' | 'uefi') => osDiskSkipReason(fw) ?? (!haveQemu() ? 'qemu-system-x86 missing' : fw === 'uefi' && !findOvmf() ? 'OVMF missing (Debian: ovmf)' : undefined);
const why = { bios: skip('bios'), uefi: skip('uefi') };
for (const fw of ['bios', 'uefi'] as const) if (lab && why[fw]) process.stdout.write(`SKIP os-disk.int.test.ts ${fw}: ${why[fw]}\n`);

const USER = 'os-user';
const TIDS = { osb: 170, osf: 171, osu: 172 } as const;
type Name = keyof typeof TIDS;

describe.skipIf(!lab || (!!why.bios && !!why.uefi))('OS disk: its initramfs logs in to the NAS on its own after the SAN boot', () => {
  const L = lab!;
  const dir = path.join(L?.dir ?? '/tmp', 'os-disk-test');
  const secret = generateChapSecret();
  const base = `${L?.iscsi.targets.mbr.split(':')[0]}:os`;
  const tgtadm = labTgtadm(L?.nas.tgtControlPorts[0] ?? 0);
  const firmware: Record<Name, 'bios' | 'uefi'> = { osb: 'bios', osf: 'bios', osu: 'uefi' };
  const iqn = (n: Name) => `iqn.2026-12.test.bootchain:${n}`;
  const disks: Partial<Record<Name, OsDisk>> = {};
  let project: Project;

  beforeAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const input = sampleProject({
      name: 'osdisk',
      nas: { address: L.nas.ips[0]!, iscsiPort: 3260, tftpRoot: '/srv/tftp' },
      workstations: (Object.keys(TIDS) as Name[]).map((n, i) => ({
        name: n,
        mac: `52:54:00:b0:1a:0${i}`,
        firmware: firmware[n],
        target: `${base}-${n}`,
        lun: 1,
        initiatorIqn: iqn(n),
        chap: { username: USER, secretRef: 'os.chap' },
        initramfs: 'genkernel',
      })),
    } as Partial<ProjectInput>);
    const p = loadProject(input);
    if (!p.ok) throw new Error(JSON.stringify(p.errors));
    project = p.value;
    await tgtadm(['--op', 'new', '--mode', 'account', '--user', USER, '--password', secret]);
    for (const [i, w] of project.workstations.entries()) {
      const n = w.name as Name;
      if (why[firmware[n]]) continue;
      let cmdline = kernelParams(project, w, i, () => secret).params;
      // The fault: the OS asks for a target the NAS does not have (iPXE's sanboot still finds its disk).
      if (n === 'osf') cmdline = cmdline.replace(`iscsi_target=${w.target}`, `iscsi_target=${w.target}-absent`);
      disks[n] = await makeOsDisk({ firmware: firmware[n], dir: path.join(dir, n), kernelCmdline: cmdline });
      await addTgtTarget(tgtadm, TIDS[n], w.target, disks[n].file, 0, { keepFile: true, user: USER });
    }
  }, 120_000);

  afterAll(async () => {
    if (!L) return;
    for (const tid of Object.values(TIDS)) await tgtadm(['--op', 'delete', '--mode', 'target', '--tid', String(tid), '--force']).catch(() => undefined);
    await tgtadm(['--op', 'delete', '--mode', 'account', '--user', USER]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Boots station `n` until `until`; meanwhile polls tgtd's connections of its target and keeps
   * the session ids each of them had (iPXE's sanboot session, then the OS's own).
   */
  const boot = async (n: Name, until: string) => {
    const sessions = new Map<number, string>();
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const out = await tgtadm(['--op', 'show', '--mode', 'conn', '--tid', String(TIDS[n])]).then((r) => String((r as { stdout: string }).stdout), () => '');
        for (const c of parseTgtadmConns(out)) sessions.set(c.session, c.initiator);
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    let r: VmBootResult;
    try {
      r = await vmBootJob(
        { project, secrets: { 'os.chap': secret }, station: n, network: { kind: 'user' }, timeoutMs: 420_000, until: new RegExp(until) },
        { signal: new AbortController().signal, log: () => undefined, progress: () => undefined, item: () => undefined },
      );
    } finally {
      polling = false;
      await poll;
    }
    const os = r.console.split('\n').filter((l) => l.startsWith('BOOTCHAIN-OS'));
    process.stdout.write(`OS disk boot of ${n} (${firmware[n]}): ${r.ended} after ${r.durationMs} ms; stages ${r.stages.map((s) => `${s.id}@${s.atMs}`).join(' ')}\n${os.map((l) => `  ${l.trim()}`).join('\n')}\n  tgtd sessions seen: ${[...sessions].map(([s, i]) => `${s} ${i}`).join(', ')}\n`);
    if (r.ended !== 'marker') process.stdout.write(`${r.failure ? `stopped: ${r.failure.line}\n` : ''}${r.console.slice(-2500)}\n`);
    return { r, os, sessions };
  };

  for (const n of ['osb', 'osu'] as const) {
    it.skipIf(!!why[firmware[n]])(`${firmware[n].toUpperCase()}: SAN boot, then the OS's own iSCSI login from its initramfs (ok marker, a second tgtd session from the station's IQN)`, { timeout: 480_000 }, async () => {
      const d = disks[n]!;
      const { r, os, sessions } = await boot(n, d.okMarker);
      expect(r.ended).toBe('marker');
      // The disk the OS found is the LUN: tgtd's SCSI inquiry (vendor IET), and the image's size in sectors.
      expect(os.join('\n')).toContain(`${d.okMarker}, disk sda`);
      expect(os.join('\n')).toMatch(new RegExp(`logging in to ${base}-${n} at ${L.nas.ips[0]!.replace(/\./g, '\\.')}:3260 as ${iqn(n)} \\(CHAP user ${USER}\\)`));
      expect(os.join('\n')).toMatch(new RegExp(`: sda is IET +VIRTUAL-DISK *, ${d.sizeBytes / 512} sectors;`));
      // iPXE's session and the OS's: two sessions of the station's initiator on the target.
      expect([...sessions.values()].filter((i) => i === iqn(n)).length).toBeGreaterThanOrEqual(2);
      expect(r.console).not.toContain(secret);
    });
  }

  it.skipIf(!!why.bios)('a command line the boot loaders cannot carry is refused before anything is written, the secret not in the error', async () => {
    const bad = path.join(dir, 'bad');
    for (const [cmdline, rule] of [
      [`iscsi_password=${secret}\ninit=/bin/sh`, /not printable ASCII/],
      [`iscsi_password='${secret}'`, /single quote/],
      [`x=${'y'.repeat(1900)} iscsi_password=${secret}`, /characters; the kernel keeps 2048/],
    ] as const) {
      const e = await makeOsDisk({ firmware: 'bios', dir: bad, kernelCmdline: cmdline }).then(() => undefined, (x: BootchainError) => x);
      expect(e?.appError).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(rule) });
      expect(JSON.stringify(e?.appError)).not.toContain(secret);
    }
    expect(existsSync(path.join(bad, 'os-bios.img'))).toBe(false);
  });

  it.skipIf(!!why.bios)('BIOS fault: a target name the NAS does not have on the command line prints the fail marker with the reason', { timeout: 480_000 }, async () => {
    const d = disks.osf!;
    const { r, os, sessions } = await boot('osf', d.failMarker);
    expect(r.ended).toBe('marker');
    expect(os.join('\n')).toContain(`${d.failMarker}: iscsistart exited with`);
    const line = os.find((l) => l.startsWith('BOOTCHAIN-OS: stopped: ')) ?? '';
    // tgtd's Login Response: status class 2 (initiator error), detail 3, "Not found" (RFC 7143 11.13.5).
    expect(line).toMatch(new RegExp(`^BOOTCHAIN-OS: stopped: iscsistart exited with [1-9]\\d*: .*login rejected: initiator error - target not found \\(02/03\\)`));
    expect(line).toMatch(/19 - encountered non-retryable iSCSI login failure/);
    expect(os.join('\n')).not.toContain(d.okMarker);
    // tgtd had iPXE's session only: the refused login made none.
    expect([...sessions.values()].filter((i) => i === iqn('osf'))).toHaveLength(1);
    expect(r.console).not.toContain(secret);
  });
});
