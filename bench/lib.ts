/** Helpers shared by the benchmarks: timing a command, medians, the printed table. */
import { spawn } from 'node:child_process';

/** Runs a command to completion; returns wall time (ms), stdout and exit code. */
export function timed(cmd: string, args: string[]): Promise<{ ms: number; stdout: string; code: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, stdout, code: code ?? 1 }));
  });
}

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Prints one benchmark line: ours beside the reference, and the ratio ours/reference. */
export function report(name: string, ours: number[], refName: string, ref: number[], goal?: string): { ratio: number } {
  const o = median(ours);
  const r = median(ref);
  const ratio = o / r;
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  process.stdout.write(
    `${name}\n  bootchain: median ${o.toFixed(0)} ms  (runs: ${fmt(ours)})\n  ${refName}: median ${r.toFixed(0)} ms  (runs: ${fmt(ref)})\n  ratio bootchain/${refName.split(' ')[0]}: ${ratio.toFixed(2)}x${goal ? `  (goal ${goal})` : ''}\n`,
  );
  return { ratio };
}
