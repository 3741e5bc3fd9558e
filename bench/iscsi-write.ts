/**
 * Writing a 256 MiB raw image onto a LUN (issue 18): Bootchain's LunWriter beside
 * `qemu-img convert -n -f raw -O raw IMAGE iscsi://…` (QEMU's own iSCSI driver, qemu-block-extra)
 * onto the same LUN in the same run, median of per-run throughput ratios (goal >= 1.0x), and the
 * read-back verify time (goal <= 2x the write time); on a tgtd LUN and on an istgt LUN, each
 * target of the bench's own in a lab host (10.77.0.71/.72). BENCH_RUNS (3), BENCH_WRITE_MIB (256)
 * and BENCH_WRITE_DEPTH (LunWriter's queue depth, 8) change the run.
 */
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { ISTGT, startIstgt } from '../e2e/lab/istgt';
import { addLabHost, inDesk, type LabInfo } from '../e2e/lab/lab';
import { startHostTgtd } from '../e2e/lab/tgtd-host';
import { timed } from './lib';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const MIB = Number(process.env.BENCH_WRITE_MIB ?? 256);
/** LunWriter's queue depth (commands in flight). */
const DEPTH = process.env.BENCH_WRITE_DEPTH ?? '8';
const IQN = 'iqn.2026-11.test.bootchain.bench:write';

/** Random data (no zero runs for either writer to skip). */
function makeImage(file: string, mib: number): void {
  const fd = openSync(file, 'w');
  try {
    for (let i = 0; i < mib; i++) writeSync(fd, randomBytes(1 << 20));
  } finally {
    closeSync(fd);
  }
}

export async function benchIscsiWrite(lab: LabInfo): Promise<boolean | undefined> {
  if (!existsSync('/usr/lib/x86_64-linux-gnu/qemu/block-iscsi.so')) {
    process.stdout.write('SKIP iscsi-write: QEMU\'s iSCSI driver is missing (apt-get install qemu-block-extra qemu-utils)\n');
    return undefined;
  }
  const root = path.resolve(__dirname, '..');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-bench-write-'));
  const image = path.join(dir, 'image.raw');
  makeImage(image, MIB);
  const inproc = (label: string, host: string, target: string, lun: number) =>
    timed('ip', inDesk(lab, [process.execPath, path.join(root, 'node_modules/tsx/dist/cli.mjs'), path.join(__dirname, 'iscsi-write-inproc.ts'), label, host, target, String(lun), image, String(RUNS), DEPTH]));
  let ok = true;
  const tgtHost = await addLabHost(lab, 'bwtgt', ['10.77.0.71']);
  try {
    const tgtd = await startHostTgtd(tgtHost, '10.77.0.71');
    try {
      await tgtd.addTarget(1, IQN, path.join(dir, 'tgt-lun.img'), MIB + 16);
      const r = await inproc('tgtd', '10.77.0.71', IQN, 1);
      process.stdout.write(r.stdout.replace(/^# result.*\n/m, ''));
      ok &&= r.code === 0 && passed(r.stdout);
    } finally {
      await tgtd.stop();
    }
  } finally {
    await tgtHost.remove();
  }
  if (existsSync(ISTGT)) {
    const istHost = await addLabHost(lab, 'bwist', ['10.77.0.72']);
    try {
      const ist = await startIstgt(istHost, { ip: '10.77.0.72', dir: path.join(dir, 'istgt'), sizeMiB: MIB + 16 });
      const r = await inproc('istgt', '10.77.0.72', ist.iqn, 0);
      process.stdout.write(r.stdout.replace(/^# result.*\n/m, ''));
      ok &&= r.code === 0 && passed(r.stdout);
    } finally {
      await istHost.remove();
    }
  } else process.stdout.write(`SKIP iscsi-write on istgt: ${ISTGT} missing (apt-get install istgt)\n`);
  rmSync(dir, { recursive: true, force: true });
  return ok;
}

function passed(stdout: string): boolean {
  const m = /^# result (.*)$/m.exec(stdout);
  if (!m) return false;
  const r = JSON.parse(m[1]!) as { ratio: number; verify: number; same: boolean };
  return r.same && r.ratio >= 1 && r.verify <= 2;
}
