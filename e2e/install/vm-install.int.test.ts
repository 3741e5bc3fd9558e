import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BootchainError } from '../../shared/errors';
import { sampleProject } from '../../shared/gen/fixtures';
import { generateChapSecret } from '../../shared/model/chap';
import { loadProject } from '../../shared/model/project';
import { vmInstall, type VmInstallEvent, type VmInstallOptions } from '../../electron/services/install/vm-install';
import { vmBootJob } from '../../electron/services/vm/job';
import { findOvmf } from '../../electron/services/vm/qemu';
import { BOOT_MARKER, UEFI_BOOT_MARKER } from '../lab/disk-images';
import { buildInstallerIso, INSTALLER_DISK_BYTES, INSTALLER_MARKER, INSTALLER_UEFI_DISK_BYTES, missingInstallerParts, type InstallerIso } from '../lab/installer-iso';
import { addTgtTarget, labTgtadm } from '../lab/tgtd-host';
import { labOrSkipReason } from '../support/lab-guard';
import { haveQemu } from '../support/qemu';
import { rfbLogin, type RfbLogin } from '../support/rfb-login';

// Install in a VM, for real: the test's tiny installer ISO (Debian's kernel, busybox) boots in
// QEMU from CD with a tgtd LUN as its disk through QEMU's own iSCSI driver, logged in with the
// workstation's IQN and CHAP; it writes a BIOS marker disk onto the LUN and powers off. The LUN
// is read back with qemu-img over iSCSI, then the VM test boot SAN-boots it to the marker.
const pexec = promisify(execFile);
const lab = labOrSkipReason('vm-install.int.test.ts');
const ISCSI_DRIVER = '/usr/lib/x86_64-linux-gnu/qemu/block-iscsi.so';
const missing = missingInstallerParts();
const why = !lab ? 'no lab' : !haveQemu() ? 'qemu-system-x86 is not installed' : !existsSync(ISCSI_DRIVER) ? "QEMU's iSCSI driver is missing (Debian: qemu-block-extra)" : missing.length ? `the installer ISO needs ${missing.join(', ')}` : undefined;
if (lab && why) process.stdout.write(`SKIP vm-install.int.test.ts: ${why}\n`);

const MAC = '52:54:00:b0:18:01';
const UEFI_MAC = '52:54:00:b0:18:02';
const TID = 118;
const UEFI_TID = 119;
const INITIATOR = 'iqn.2026-11.test.bootchain:vminst';
const USER = 'vminst-user';

describe.skipIf(!!why)('install in a VM onto a tgtd LUN (QEMU iSCSI driver, CHAP)', () => {
  const L = lab!;
  const secret = generateChapSecret();
  const target = `${L?.iscsi.targets.mbr.split(':')[0]}:vminst`;
  const uefiTarget = `${target}-uefi`;
  const lunFile = path.join(L?.dir ?? '', 'vminst.img');
  const uefiLunFile = path.join(L?.dir ?? '', 'vminst-uefi.img');
  let iso: InstallerIso;
  const tgtadm = labTgtadm(L?.nas.tgtControlPorts[0] ?? 0);
  const opts = (over: Partial<VmInstallOptions> = {}): VmInstallOptions => ({
    firmware: 'bios',
    mac: MAC,
    iso: iso.iso,
    disk: { host: L.nas.ips[0]!, port: 3260, target, lun: 1, initiator: INITIATOR, chap: { username: USER, secret } },
    memoryMiB: 256,
    cpus: 1,
    network: { kind: 'user', restrict: true },
    timeoutMs: 150_000,
    ...over,
  });

  /** Random bytes over the start of a LUN's file, no boot signature: nothing bootable is there. */
  const scramble = (file: string) => {
    const fd = openSync(file, 'r+');
    const junk = randomBytes(INSTALLER_DISK_BYTES * 2);
    junk[510] = 0;
    junk[511] = 0;
    writeSync(fd, junk, 0, junk.length, 0);
    closeSync(fd);
  };

  /** A LUN "empty" as a fresh one may be: no boot signature, random bytes where the installer writes (so the read-back sees its zeros as well as its boot code). */
  const addTarget = async (tid: number, name: string, file: string, bytes: number) => {
    writeFileSync(file, '');
    truncateSync(file, bytes);
    scramble(file);
    await addTgtTarget(tgtadm, tid, name, file, 0, { keepFile: true, user: USER });
  };

  beforeAll(async () => {
    const t0 = Date.now();
    iso = buildInstallerIso(L.dir);
    process.stdout.write(`installer ISO ${path.basename(iso.iso)}: ${readFileSync(iso.iso).length} bytes, ${Date.now() - t0} ms\n`);
    await tgtadm(['--op', 'new', '--mode', 'account', '--user', USER, '--password', secret]);
    await addTarget(TID, target, lunFile, 16 << 20);
  }, 120_000);

  afterAll(async () => {
    if (!L) return;
    for (const tid of [TID, UEFI_TID]) await tgtadm(['--op', 'delete', '--mode', 'target', '--tid', String(tid), '--force']).catch(() => undefined);
    await tgtadm(['--op', 'delete', '--mode', 'account', '--user', USER]).catch(() => undefined);
  });

  /** QEMU's argv as the kernel has it (what `ps` shows every user). */
  const argvOf = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('the installer writes its disk onto the LUN and powers off; the LUN reads back as that disk and SAN-boots to its marker', { timeout: 300_000 }, async () => {
    const events: VmInstallEvent[] = [];
    let logins: Promise<[RfbLogin, RfbLogin]> | undefined;
    let argv: string[] = [];
    let secretFile: string | undefined;
    let secretFileAfterStart: boolean | undefined;
    const run = vmInstall(
      opts({
        onEvent: (e) => {
          events.push(e);
          if (e.kind !== 'started') return;
          argv = argvOf(e.pid);
          secretFile = argv.find((a) => a.startsWith('secret,id=chap,'))?.replace(/^secret,id=chap,file=/, '');
          secretFileAfterStart = secretFile ? existsSync(secretFile) : undefined;
          // The screen, as the VNC view reaches it: QEMU's WebSocket listener speaks RFB and
          // takes this run's VNC password, and no other.
          logins = Promise.all([rfbLogin(e.vnc.url, e.vnc.password), rfbLogin(e.vnc.url, 'not-it!!')]);
        },
      }),
    );
    const r = await run.done;
    const [login, wrongLogin] = await logins!;
    const started = events.find((e) => e.kind === 'started');
    const lines = events.filter((e) => e.kind === 'console').map((e) => e.line);
    process.stdout.write(`install VM: ${r.ended} after ${r.durationMs} ms, ${lines.length} console lines; VNC ${started?.kind === 'started' ? `${started.vnc.url} (display ${started.vnc.display})` : 'never started'}; RFB ${JSON.stringify(login.version.trim())}, security types ${login.securityTypes.join(',')}, VNC password ${login.result}, another ${wrongLogin.result} (${wrongLogin.reason ?? ''})\n${lines.filter((l) => /bootchain|BOOTCHAIN|records/.test(l)).join('\n')}\n`);
    expect(r.ended).toBe('poweroff');
    expect(r.console).toContain(INSTALLER_MARKER);
    expect(lines).toContain(INSTALLER_MARKER);
    expect(events.at(-1)).toEqual({ kind: 'ended', ended: 'poweroff' });
    expect(started?.kind === 'started' && started.vnc.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    expect(login).toMatchObject({ version: expect.stringMatching(/^RFB 003\.00\d\n$/), securityTypes: [2], result: 'ok' });
    expect(wrongLogin.result).toBe('failed');
    // The CHAP secret reached QEMU only through the secret file, gone once QEMU had logged in.
    expect(argv.join(' ')).not.toContain(secret);
    expect(argv).toContain('-iscsi');
    expect(argv.find((a) => a.startsWith('initiator-name='))).toBe(`initiator-name=${INITIATOR},user=${USER},password-secret=chap`);
    expect(secretFile).toBeDefined();
    expect(secretFileAfterStart).toBe(false);
    expect(existsSync(path.dirname(secretFile!))).toBe(false);
    expect(JSON.stringify(events)).not.toContain(secret);

    // Read back over iSCSI by a real tool of the field, logged in the same way.
    const sec = path.join(L.dir, 'vminst-secret');
    writeFileSync(sec, secret, { mode: 0o600 });
    const out = path.join(L.dir, 'vminst-readback.raw');
    try {
      await pexec('qemu-img', ['convert', '--object', `secret,id=s,file=${sec}`, '--image-opts', `driver=iscsi,transport=tcp,portal=${L.nas.ips[0]}:3260,target=${target},lun=1,user=${USER},password-secret=s,initiator-name=${INITIATOR}`, '-O', 'raw', out]);
    } finally {
      rmSync(sec, { force: true });
    }
    const back = readFileSync(out);
    rmSync(out, { force: true });
    expect(back.length).toBe(16 << 20);
    expect(back.subarray(0, INSTALLER_DISK_BYTES).equals(iso.disk)).toBe(true);
    expect(back.subarray(0, 512).toString('latin1')).toContain(BOOT_MARKER);
    expect(readFileSync(lunFile).subarray(0, INSTALLER_DISK_BYTES).equals(iso.disk)).toBe(true);

    // "Boot it in a VM": the VM test boot, iPXE SAN-booting the LUN with the workstation's CHAP.
    const p = loadProject(
      sampleProject({
        name: 'vminst',
        workstations: [{ name: 'vminst', mac: MAC, firmware: 'bios', target, lun: 1, initiatorIqn: INITIATOR, chap: { username: USER, secretRef: 'vminst.chap' }, initramfs: 'genkernel' }],
      }),
    );
    if (!p.ok) throw new Error(JSON.stringify(p.errors));
    const boot = await vmBootJob(
      { project: p.value, secrets: { 'vminst.chap': secret }, station: 'vminst', network: { kind: 'user' }, timeoutMs: 150_000, until: new RegExp(BOOT_MARKER) },
      { signal: new AbortController().signal, log: () => undefined, progress: () => undefined, item: () => undefined },
    );
    process.stdout.write(`VM test boot of the installed LUN: ${boot.ended} after ${boot.durationMs} ms; stages ${boot.stages.map((s) => s.id).join(' ')}\n`);
    expect(boot.ended).toBe('marker');
    expect(boot.stages.map((s) => s.id)).toContain('sanboot');
  });

  it('a wrong CHAP secret: AUTH_FAILED in words, the secret nowhere; a missing target or LUN, a closed, absent or silent portal named likewise', { timeout: 120_000 }, async () => {
    const wrong = generateChapSecret();
    const e = await vmInstall(opts({ disk: { ...opts().disk, chap: { username: USER, secret: wrong } } })).done.then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(BootchainError);
    const a = (e as BootchainError).appError;
    process.stdout.write(`wrong CHAP: ${a.code}: ${a.message} (${a.hint})\n`);
    expect(a.code).toBe('AUTH_FAILED');
    expect(a.message).toContain(USER);
    expect(a.message).toContain(target);
    expect(a.detail).toMatch(/Authentication failure/);
    expect(JSON.stringify(a)).not.toContain(wrong);
    expect(JSON.stringify(a)).not.toContain(secret);
    // A target the NAS does not have, and a LUN its target does not have: named, not "QEMU failed".
    for (const [disk, code, words] of [
      [{ ...opts().disk, target: `${target}-gone` }, 'TARGET_NOT_FOUND', /has no target .*vminst-gone/],
      [{ ...opts().disk, lun: 5 }, 'NOT_FOUND', /vminst has no LUN 5/],
      // The lab's closed host, an address nobody has, and its silent listener (which takes the
      // connection and never answers: QEMU's driver alone would wait minutes on it).
      [{ ...opts().disk, host: '10.77.0.30' }, 'UNREACHABLE', /Nothing listens for iSCSI at 10\.77\.0\.30:3260/],
      [{ ...opts().disk, host: '10.77.0.39' }, 'UNREACHABLE', /10\.77\.0\.39:3260 (cannot be reached|did not answer)/],
      [{ ...opts().disk, host: '10.77.0.32' }, 'TIMEOUT', /10\.77\.0\.32:3260 took the connection but did not log the workstation in/],
    ] as const) {
      const x = await vmInstall(opts({ disk, loginTimeoutMs: 5000 })).done.then(
        () => undefined,
        (y: unknown) => (y instanceof BootchainError ? y.appError : y),
      );
      process.stdout.write(`${code}: ${(x as { message?: string }).message}\n`);
      expect(x).toMatchObject({ code, message: expect.stringMatching(words) });
    }
  });

  it('the CLI: bootchain install --yes --json runs the installer onto the LUN, prints the VNC endpoint, checks the disk', { timeout: 200_000 }, async () => {
    const project = sampleProject({
      name: 'vminstcli',
      nas: { address: L.nas.ips[0]!, iscsiPort: 3260, tftpRoot: '/srv/tftp' },
      workstations: [{ name: 'vminst', mac: MAC, firmware: 'bios', target, lun: 1, initiatorIqn: INITIATOR, chap: { username: USER, secretRef: 'vminst.chap' }, initramfs: 'genkernel' }],
    });
    const file = path.join(L.dir, 'vminst-cli.json');
    writeFileSync(file, JSON.stringify(project));
    const secrets = path.join(L.dir, 'vminst-cli-secrets.json');
    writeFileSync(secrets, JSON.stringify({ 'vminst.chap': secret }), { mode: 0o600 });
    const cli = path.resolve(import.meta.dirname, '../../out/main/cli.js');
    try {
      const { stdout, stderr } = await pexec(process.execPath, [cli, 'install', '--project', file, '--secrets', secrets, '--station', 'vminst', '--iso', iso.iso, '--yes', '--json'], { env: { ...process.env, BOOTCHAIN_DATA_DIR: path.join(L.dir, 'vminst-cli-data') }, maxBuffer: 1 << 22, timeout: 180_000 });
      const r = JSON.parse(stdout) as { ended: string; findings: Array<{ status: string; summary: string }> };
      process.stdout.write(`bootchain install: ${r.ended}; ${r.findings.map((f) => `${f.status} ${f.summary}`).join('; ')}\n${stderr.split('\n').filter((l) => l.startsWith('installer screen')).map((l) => l.replace(/password \S+/, 'password ********')).join('\n')}\n`);
      expect(r.ended).toBe('poweroff');
      expect(r.findings.at(-1)).toMatchObject({ status: 'pass', summary: expect.stringMatching(/BIOS can start it/) });
      expect(stderr).toMatch(/^installer screen: VNC 127\.0\.0\.1:\d+ \(display :\d+\), password \S{8}/m);
      expect(stderr).toMatch(/in the installer: Build the initramfs with iSCSI support: genkernel --iscsi/);
      expect(stdout + stderr).not.toContain(secret);
    } finally {
      rmSync(secrets, { force: true });
    }
  });

  it('stop() ends the VM as stopped; cancel kills QEMU at once and leaves no secret file', { timeout: 120_000 }, async () => {
    for (const how of ['stop', 'abort'] as const) {
      const ac = new AbortController();
      let pid = 0;
      let dir = '';
      const run = vmInstall(
        opts({
          signal: ac.signal,
          onEvent: (e) => {
            if (e.kind !== 'started') return;
            pid = e.pid;
            dir = path.dirname(argvOf(pid).find((a) => a.startsWith('secret,id=vncpw,'))!.replace(/^secret,id=vncpw,file=/, ''));
            if (how === 'stop') run.stop();
            else ac.abort();
          },
        }),
      );
      const outcome = await run.done.then(
        (r) => r.ended,
        (x: unknown) => (x instanceof BootchainError ? x.appError.code : String(x)),
      );
      process.stdout.write(`${how}: ${outcome}; QEMU ${pid} ${alive(pid) ? 'still running' : 'gone'}\n`);
      expect(outcome).toBe(how === 'stop' ? 'stopped' : 'CANCELLED');
      expect(pid).toBeGreaterThan(0);
      expect(alive(pid)).toBe(false);
      expect(dir).toMatch(/bootchain-install-/);
      expect(existsSync(dir)).toBe(false);
    }
  });

  it("allowReboot: the installer's reboot boots the new disk from the LUN (the CD once, then the disk)", { timeout: 200_000 }, async () => {
    const rebooting = buildInstallerIso(L.dir, 'bios', 'reboot');
    scramble(lunFile);
    const seen: string[] = [];
    const run = vmInstall(
      opts({
        iso: rebooting.iso,
        allowReboot: true,
        onEvent: (e) => {
          if (e.kind !== 'console') return;
          seen.push(e.line);
          // The marker disk halts after its line: the run is over when it shows.
          if (e.line.includes(BOOT_MARKER)) run.stop();
        },
      }),
    );
    const r = await run.done;
    const installed = seen.findIndex((l) => l.includes(INSTALLER_MARKER));
    const booted = seen.findIndex((l) => l.includes(BOOT_MARKER));
    process.stdout.write(`install VM with reboot: ${r.ended} after ${r.durationMs} ms; installer done at line ${installed}, the LUN's boot sector at line ${booted} of ${seen.length}\n`);
    expect(r.ended).toBe('stopped');
    expect(installed).toBeGreaterThanOrEqual(0);
    expect(booted).toBeGreaterThan(installed);
    expect(readFileSync(lunFile).subarray(0, INSTALLER_DISK_BYTES).equals(rebooting.disk)).toBe(true);
  });

  it('UEFI (OVMF): the installer ISO boots from CD by EFI, writes a GPT disk with an ESP, and the LUN SAN-boots \\EFI\\BOOT\\BOOTX64.EFI', { timeout: 400_000 }, async (ctx) => {
    const skip = !findOvmf() ? 'OVMF is not installed (Debian: ovmf)' : missingInstallerParts('uefi').join(', ') || undefined;
    if (skip) {
      process.stdout.write(`SKIP vm-install.int.test.ts UEFI: ${skip}\n`);
      return ctx.skip();
    }
    const uefiIso = buildInstallerIso(L.dir, 'uefi');
    await addTarget(UEFI_TID, uefiTarget, uefiLunFile, INSTALLER_UEFI_DISK_BYTES);
    const r = await vmInstall(opts({ firmware: 'uefi', mac: UEFI_MAC, iso: uefiIso.iso, memoryMiB: 512, disk: { ...opts().disk, target: uefiTarget }, timeoutMs: 240_000 })).done;
    process.stdout.write(`UEFI install VM: ${r.ended} after ${r.durationMs} ms\n`);
    expect(r.ended).toBe('poweroff');
    expect(r.console).toContain(INSTALLER_MARKER);
    expect(readFileSync(uefiLunFile).equals(uefiIso.disk)).toBe(true);
    const p = loadProject(
      sampleProject({
        name: 'vminstu',
        workstations: [{ name: 'vminstu', mac: UEFI_MAC, firmware: 'uefi', target: uefiTarget, lun: 1, initiatorIqn: INITIATOR, chap: { username: USER, secretRef: 'vminst.chap' }, initramfs: 'genkernel' }],
      }),
    );
    if (!p.ok) throw new Error(JSON.stringify(p.errors));
    const boot = await vmBootJob(
      { project: p.value, secrets: { 'vminst.chap': secret }, station: 'vminstu', network: { kind: 'user' }, timeoutMs: 150_000, until: new RegExp(UEFI_BOOT_MARKER) },
      { signal: new AbortController().signal, log: () => undefined, progress: () => undefined, item: () => undefined },
    );
    process.stdout.write(`VM test boot of the UEFI-installed LUN: ${boot.ended} after ${boot.durationMs} ms; stages ${boot.stages.map((s) => s.id).join(' ')}\n`);
    expect(boot.ended).toBe('marker');
  });
});
