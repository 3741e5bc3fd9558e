/**
 * install:vm — the user's installer in a VM whose disk is the workstation's LUN (QEMU's own
 * iSCSI driver, logged in as the workstation), its screen on loopback VNC for the window's VNC
 * view. Before: what the disk holds (a non-empty disk needs the confirm), an ISO URL downloaded
 * to a temporary file. After the installer powers the VM off: the post-write probe's findings.
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { formatBytes } from '../../../shared/bytes';
import { fail } from '../../../shared/errors';
import type { InstallVmEvent, InstallVmResult } from '../../../shared/install';
import { readLayout } from '../iscsi/disk-layout';
import { checkDisk } from './findings';
import { openImage } from './image-source';
import type { StationDisk } from './station-disk';
import { vmInstall, type VmInstallRun } from './vm-install';
import { openDisk, rateText, readOf, type InstallCtx } from './write-job';

/** The runs in progress by job id, so install:stop can pull the plug (a finish, not a cancel). */
const running = new Map<string, { run: VmInstallRun; owner: string }>();

/** Stops the installer VM of a job its caller started (it ends as "stopped"); false when none runs. */
export function stopInstall(jobId: string, owner: string): boolean {
  const r = running.get(jobId);
  if (!r || r.owner !== owner) return false;
  r.run.stop();
  return true;
}

export interface InstallRequest {
  jobId: string;
  /** Who started it (only they may stop it). */
  owner: string;
  iso: string;
  overwrite: boolean;
  vncPort?: number | undefined;
  timeoutMin: number;
}

/** A downloaded ISO in a private temporary folder (deleted by the caller). */
async function download(url: string, ctx: InstallCtx): Promise<{ file: string; dir: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bootchain-iso-'));
  const file = path.join(dir, 'installer.iso');
  try {
    const img = await openImage(url, { signal: ctx.signal, log: (l) => ctx.log(l) });
    let got = 0;
    const t0 = Date.now();
    const total = img.info.size ?? img.info.sizeHint;
    async function* counted() {
      for await (const c of img.chunks()) {
        got += c.length;
        ctx.progress({ phase: `downloading ${img.info.name}`, done: got, ...(total !== undefined ? { total } : {}), message: rateText(got, Date.now() - t0, undefined) });
        yield c;
      }
    }
    await pipeline(Readable.from(counted()), createWriteStream(file, { mode: 0o600 }), { signal: ctx.signal });
    ctx.log(`downloaded ${img.info.name}: ${formatBytes(got)}`);
    return { file, dir };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** Runs the installer VM to its end and probes the disk afterwards. */
export async function installVmJob(d: StationDisk, req: InstallRequest, ctx: InstallCtx & { item(e: InstallVmEvent): void }): Promise<InstallVmResult> {
  if (d.chap?.mutual) ctx.log("QEMU's iSCSI driver has no mutual CHAP: the installer VM logs in with one-way CHAP (the target must allow it)", 'warn');
  ctx.progress({ phase: `checking ${d.target} LUN ${d.lun}` });
  const before = await (async () => {
    const wr = await openDisk(d, ctx);
    try {
      return await readLayout(readOf(wr), wr.geometry.blocks, wr.geometry.blockSize);
    } finally {
      await wr.close();
    }
  })();
  if (before.verdict !== 'empty' && !req.overwrite) {
    fail('NEEDS_CONFIRMATION', `LUN ${d.lun} of ${d.target} is not empty (${before.summary}): the installer may replace everything on it`, { hint: 'Look at what is on the disk, then confirm (the CLI: --yes). Nothing was changed.' });
  }
  let iso = req.iso;
  let tmp: string | undefined;
  if (/^https?:\/\//i.test(iso)) {
    const got = await download(iso, ctx);
    iso = got.file;
    tmp = got.dir;
  }
  const t0 = Date.now();
  try {
    ctx.progress({ phase: `starting the installer VM for ${d.w.name} (${d.w.firmware.toUpperCase()})` });
    const run = vmInstall({
      firmware: d.w.firmware,
      mac: d.w.mac,
      iso: path.resolve(iso),
      disk: { host: d.portal.address, port: d.portal.port, target: d.target, lun: d.lun, initiator: d.initiator, ...(d.chap ? { chap: { username: d.chap.username, secret: d.chap.secret } } : {}) },
      network: { kind: 'user' },
      timeoutMs: req.timeoutMin * 60_000,
      vncPort: req.vncPort,
      signal: ctx.signal,
      onEvent: (e) => {
        if (e.kind === 'started') {
          ctx.item({ kind: 'screen', vnc: { host: '127.0.0.1', port: e.vnc.port, display: e.vnc.display, url: e.vnc.url, password: e.vnc.password } });
          ctx.progress({ phase: `the installer runs: its screen is on VNC 127.0.0.1:${e.vnc.port}` });
        } else if (e.kind === 'console') ctx.item({ kind: 'console', line: e.line.slice(0, 2000) });
      },
    });
    running.set(req.jobId, { run, owner: req.owner });
    const r = await run.done.finally(() => running.delete(req.jobId));
    ctx.log(r.ended === 'poweroff' ? 'the installer powered the VM off' : 'the VM was stopped');
    ctx.progress({ phase: 'checking what the workstation will find' });
    const wr = await openDisk(d, ctx);
    try {
      const disk = await checkDisk(readOf(wr), wr.geometry.blocks, wr.geometry.blockSize, d.w.firmware, d.w.uefiFilename);
      return { station: d.w.name, ended: r.ended, durationMs: Date.now() - t0, consoleTail: r.console.slice(-8192), layout: disk.layout, findings: disk.findings };
    } finally {
      await wr.close();
    }
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}
