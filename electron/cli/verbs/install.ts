import { createInterface } from 'node:readline/promises';
import { formatBytes } from '../../../shared/bytes';
import { appError, BootchainError } from '../../../shared/errors';
import { installerAdvice, type InspectResult, type InstallVmResult, type WriteResult } from '../../../shared/install';
import type { Project } from '../../../shared/model/project';
import { PROJECT_FLAG, projectFrom, projectSecrets, SECRETS_FLAG } from '../inputs';
import { usage, verb, type FlagReader } from '../options';
import { print, printJson } from '../render';
import { Session } from '../session';

const MARK = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' } as const;

/** Asks "yes/no" on the terminal; undefined without one (pipes, CI). */
async function askYes(question: string): Promise<boolean | undefined> {
  if (!process.stdin.isTTY) return undefined;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/**
 * Whether the job may replace what the disk holds: not asked when it is empty or --yes was given;
 * else asked on the terminal, and without one refused (NEEDS_CONFIRMATION, naming what it holds).
 */
async function mayOverwrite(ins: InspectResult, yesFlag: boolean, words: { question: string; rerun: string; no: string; nothing: string }): Promise<boolean> {
  if (!ins.needsConfirm || yesFlag) return yesFlag;
  const yes = await askYes(words.question);
  if (yes === undefined) throw new BootchainError(appError('NEEDS_CONFIRMATION', `LUN ${ins.lun.lun} of ${ins.lun.target} is not empty (${ins.lun.layout.summary})`, { hint: words.rerun }));
  if (!yes) throw new BootchainError(appError('CANCELLED', words.no, { hint: words.nothing }));
  return true;
}

function stationOf(a: FlagReader<readonly [{ name: 'station'; value: 'NAME'; help: string }]>, p: { workstations: Array<{ name: string }> }, verbName: string): string {
  const station = a.str('station') ?? (p.workstations.length === 1 ? p.workstations[0]!.name : undefined);
  if (!station) throw usage(`${verbName} needs --station NAME (${p.workstations.map((w) => w.name).join(', ') || 'the project has no workstation'})`);
  return station;
}

function printWrite(r: WriteResult): void {
  print(`wrote ${r.image.name} (${r.image.format}, ${formatBytes(r.imageBytes)}) onto ${r.lun.target} LUN ${r.lun.lun} in ${(r.durationMs / 1000).toFixed(1)} s, ${r.mibPerSec.toFixed(1)} MiB/s`);
  print(`  sha256 ${r.sha256}; ${formatBytes(r.bytesWritten)} sent, ${formatBytes(r.bytesSkipped)} of zero runs skipped (${r.sparse.why})`);
  if (r.verify) print(r.verify.ok ? `  verified: the disk reads back the same sha256 (${(r.verify.durationMs / 1000).toFixed(1)} s)` : `  VERIFY FAILED: the disk reads back ${r.verify.sha256}, first difference at byte ${r.verify.mismatchAt}`);
  else print('  not verified (--no-verify)');
  printFindings(r.findings);
  print(r.ok ? 'the disk is ready: power the workstation on' : 'the workstation cannot boot this disk yet (see FAIL above)');
}

const STATION_FLAG = { name: 'station', value: 'NAME', help: 'the workstation whose disk is written (default: the only one)', field: 'station' } as const;

export const write = verb({
  name: 'write',
  usage: ['write --project FILE --station NAME IMAGE|URL'],
  summary: "write an OS image onto the workstation's iSCSI disk, logged in as the workstation, then read it back and check it can boot (see \"Putting the OS on the disk\"); exit 1 when the disk cannot boot the workstation.",
  about:
    'IMAGE is a raw disk image (.img, .raw, a hybrid .iso), .gz, .xz or .zst (decoded as it streams), qcow2/vmdk/vhdx/vdi/vpc through qemu-img, or an http(s) URL of any of the streamable ones. Only the target and LUN the project gives this workstation are written, never one it shares with another; a disk that is not empty is overwritten only after a confirm (--yes). Zero runs are skipped only when the LUN is thin-provisioned and reads zeros after UNMAP.',
  flags: [
    PROJECT_FLAG,
    STATION_FLAG,
    SECRETS_FLAG,
    { name: 'no-verify', help: 'do not read the disk back afterwards (verify is on by default)' },
    { name: 'yes', help: 'overwrite a disk that is not empty without asking' },
    { name: 'no-sparse', help: 'write every block, zero runs too, even on a thin LUN' },
    { name: 'queue-depth', value: 'N', help: 'writes in flight at once, 1 to 64 (default 8)', field: 'queueDepth' },
  ],
  async run(a) {
    const { raw, project: p } = projectFrom(a, 'write');
    const station = stationOf(a, p, 'write');
    const image = a.pos[0];
    if (!image || a.pos.length > 1) throw usage('write takes one IMAGE (a file or an http(s) URL)');
    const secrets = await projectSecrets(a, p);
    const s = new Session({ secrets });
    const ins: InspectResult = await s.job('install:inspect', { project: raw, station, image }, { out: a, logs: 'error' });
    if (ins.refusals.length) throw new BootchainError(appError('INVALID_INPUT', ins.refusals[0]!, { hint: 'Nothing was written.' }));
    if (!a.json && !a.quiet) process.stderr.write(`${station}: ${ins.lun.target} LUN ${ins.lun.lun}, ${formatBytes(ins.lun.sizeBytes)}, holds: ${ins.lun.layout.summary}\n`);
    const overwrite = await mayOverwrite(ins, a.has('yes'), {
      question: `Overwrite everything on ${ins.lun.target} LUN ${ins.lun.lun} (${ins.lun.layout.summary}) with ${ins.image?.name ?? image}? [y/N] `,
      rerun: 'Run again with --yes to overwrite it. Nothing was written.',
      no: 'Not written: you said no',
      nothing: 'Nothing was written.',
    });
    const r = await s.job(
      'install:write',
      { project: raw, station, image, verify: !a.has('no-verify'), overwrite, expect: { target: ins.lun.target, lun: ins.lun.lun }, sparse: a.has('no-sparse') ? 'never' : 'auto', queueDepth: a.int('queue-depth') },
      { out: a, logs: a.verbose ? 'verbose' : 'warn' },
    );
    if (a.json) printJson(r);
    else printWrite(r);
    return r.ok ? 0 : 1;
  },
});

function printFindings(findings: WriteResult['findings']): void {
  for (const f of findings) {
    print(`${MARK[f.status]}  ${f.summary}`);
    if (f.fix && f.status !== 'pass') print(`      fix: ${f.fix}`);
  }
}

/** What to choose inside the installer, and the kernel parameters (CHAP secrets masked). */
function adviceFor(p: Project, station: string): string[] {
  const w = p.workstations.find((x) => x.name === station);
  return w ? installerAdvice(w.initramfs) : [];
}

export const install = verb({
  name: 'install',
  usage: ['install --project FILE --station NAME --iso FILE|URL'],
  summary: "run your OS installer in a VM whose disk is the workstation's iSCSI disk (QEMU's iSCSI driver, logged in as the workstation), its screen on loopback VNC; then check the disk can boot (see \"Putting the OS on the disk\").",
  about:
    'The VM has the workstation\'s MAC and firmware (SeaBIOS, or OVMF for UEFI), the ISO as its CD and the LUN as its disk, and reaches the internet through QEMU\'s NAT. Its screen is a VNC server on 127.0.0.1 only, with a one-run password printed here (any VNC viewer: vncviewer 127.0.0.1::PORT). The run ends when the installer powers the VM off; Ctrl-C stops it. Needs qemu-system-x86 and qemu-block-extra (and ovmf for UEFI).',
  flags: [
    PROJECT_FLAG,
    STATION_FLAG,
    SECRETS_FLAG,
    { name: 'iso', value: 'FILE|URL', help: 'the installer ISO (an http(s) URL is downloaded first)', field: 'iso' },
    { name: 'vnc', value: 'PORT', help: 'the VNC port on 127.0.0.1, 5900 to 5999 (default: a free one)', field: 'vncPort' },
    { name: 'yes', help: 'let the installer have a disk that is not empty without asking' },
    { name: 'timeout', value: 'MIN', help: 'stop the VM after MIN minutes (default 120)', field: 'timeoutMin' },
  ],
  async run(a) {
    const { raw, project: p } = projectFrom(a, 'install');
    const station = stationOf(a, p, 'install');
    const iso = a.str('iso');
    if (!iso) throw usage('install needs --iso FILE|URL (the installer image)');
    const secrets = await projectSecrets(a, p);
    const s = new Session({ secrets });
    const ins: InspectResult = await s.job('install:inspect', { project: raw, station }, { out: a, logs: 'error' });
    const overwrite = await mayOverwrite(ins, a.has('yes'), {
      question: `The installer may replace everything on ${ins.lun.target} LUN ${ins.lun.lun} (${ins.lun.layout.summary}). Go on? [y/N] `,
      rerun: 'Run again with --yes to let the installer have it. Nothing was changed.',
      no: 'Not started: you said no',
      nothing: 'Nothing was changed.',
    });
    const say = (line: string) => !a.quiet && process.stderr.write(`${line}\n`);
    const r: InstallVmResult = await s.job(
      'install:vm',
      { project: raw, station, iso, overwrite, vncPort: a.int('vnc'), timeoutMin: a.int('timeout') },
      {
        out: a,
        logs: a.verbose ? 'verbose' : 'warn',
        item: (e) => {
          if (e.kind === 'screen') {
            say(`installer screen: VNC 127.0.0.1:${e.vnc.port} (display :${e.vnc.display}), password ${e.vnc.password} — e.g. vncviewer 127.0.0.1::${e.vnc.port}`);
            for (const l of adviceFor(p, station)) say(`  in the installer: ${l}`);
          } else if (a.verbose) say(`  console: ${e.line}`);
        },
      },
    );
    if (a.json) printJson(r);
    else {
      print(`installer VM ${r.ended === 'poweroff' ? 'powered off' : 'stopped'} after ${(r.durationMs / 1000).toFixed(0)} s; ${station}'s disk holds: ${r.layout?.summary ?? 'unknown'}`);
      printFindings(r.findings);
    }
    return r.findings.every((f) => f.status !== 'fail') ? 0 : 1;
  },
});
