/**
 * Upload benchmark in the lab: a 10 MiB file and 50 small files, Bootchain's SFTP upload vs
 * OpenSSH `sftp -b` to the same sshd in the same run (alternating). Throughput ratio =
 * sftp time / our time; goal >= 0.9x. Our time is the whole upload job in process (connect,
 * host-key check, plan by sha256 on the server, backup set, atomic writes, sha256 check after);
 * sftp's is its whole process (connect + put).
 */
import path from 'node:path';
import { inDesk, type LabInfo } from '../e2e/lab/lab';
import { median, timed } from './lib';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);

export async function benchUpload(lab: LabInfo): Promise<boolean> {
  const root = path.resolve(__dirname, '..');
  const r = await timed('ip', inDesk(lab, [process.execPath, path.join(root, 'node_modules/tsx/dist/cli.mjs'), path.join(__dirname, 'upload-inproc.ts'), String(RUNS)]));
  if (r.code !== 0) throw new Error(`upload bench exited ${r.code}`);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, { ours: number[]; sftp: number[] }>;
  let ok = true;
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  for (const [kind, label, bytes] of [
    ['big', 'one 10 MiB file', 10 << 20],
    ['small', '50 small files (1-4 KiB)', 0],
  ] as const) {
    const o = out[kind]!;
    const ratios = o.ours.map((ms, i) => o.sftp[i]! / ms);
    const ratio = median(ratios);
    ok &&= ratio >= 0.9;
    const mbps = (ms: number) => (bytes ? `, ${((bytes / (1 << 20)) / (ms / 1000)).toFixed(1)} MiB/s` : '');
    process.stdout.write(
      `upload ${label} to the lab NAS over SFTP\n  bootchain: median ${median(o.ours).toFixed(0)} ms${mbps(median(o.ours))}  (runs: ${fmt(o.ours)})\n  sftp -b: median ${median(o.sftp).toFixed(0)} ms${mbps(median(o.sftp))}  (runs: ${fmt(o.sftp)})\n  throughput ratio bootchain/sftp (median of per-run ratios): ${ratio.toFixed(2)}x  (goal >= 0.9x)\n`,
    );
  }
  return ok;
}
