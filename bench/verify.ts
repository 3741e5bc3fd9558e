/**
 * Verify benchmark: the full walk of one workstation's healthy chain in the lab (no VM), median
 * wall time, goal <= 2 s; most of it is DHCP: the firmware's DISCOVER and then iPXE's, each
 * collecting offers until the project's server has answered and they settle (at most the wait).
 * Beside it, the reference: the wall time of a real QEMU boot of the same kind of chain (stock
 * iPXE -> generated scripts -> tgtd LUN marker) measured by `e2e/boot/nobuild.int.test.ts`, when
 * that test's figure is at hand.
 */
import path from 'node:path';
import { inDesk, type LabInfo } from '../e2e/lab/lab';
import { median, timed } from './lib';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);

export async function benchVerify(lab: LabInfo): Promise<boolean> {
  const root = path.resolve(__dirname, '..');
  const r = await timed('ip', inDesk(lab, [process.execPath, path.join(root, 'node_modules/tsx/dist/cli.mjs'), path.join(__dirname, 'verify-inproc.ts'), String(RUNS)]));
  if (r.code !== 0) throw new Error(`verify bench exited ${r.code}`);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { ms: number[]; wait: number };
  const m = median(out.ms);
  process.stdout.write(
    `full verify of one workstation (DHCP as the firmware, then as iPXE, each until settled, at most ${out.wait} ms; TFTP, 3 scripts, iSCSI login + LUN + boot sector, kernel)\n  bootchain: median ${m.toFixed(0)} ms  (runs: ${out.ms.map((x) => x.toFixed(0)).join(', ')})  (goal <= 2000 ms)\n`,
  );
  return m <= 2000;
}
