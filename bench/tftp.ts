/**
 * Boot-server benchmark: a 64 MiB file over TFTP at blksize 1432 from Bootchain's server and from
 * tftpd-hpa (same client: curl; same run, alternating); with windowsize 16 (Bootchain's client)
 * against tftpd-hpa without; HTTP against TFTP. Throughput ratios = their time / our time.
 * Goals: >= 1.0x tftpd-hpa without windowsize, >= 3x with it.
 */
import path from 'node:path';
import { inDesk, type LabInfo } from '../e2e/lab/lab';
import { median, timed } from './lib';

const RUNS = Number(process.env.BENCH_TFTP_RUNS ?? 3);

export async function benchTftp(lab: LabInfo): Promise<boolean> {
  const root = path.resolve(__dirname, '..');
  const r = await timed('ip', inDesk(lab, [process.execPath, path.join(root, 'node_modules/tsx/dist/cli.mjs'), path.join(__dirname, 'tftp-inproc.ts'), String(RUNS)]));
  if (r.code !== 0) throw new Error(`tftp bench exited ${r.code}`);
  const o = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, number[]> & { mib: number };
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  const line = (name: string, xs: number[]) => `  ${name}: median ${median(xs).toFixed(0)} ms, ${(o.mib / (median(xs) / 1000)).toFixed(1)} MiB/s  (runs: ${fmt(xs)})\n`;
  const plain = median(o.hpaCurl!) / median(o.oursCurl!);
  const win = median(o.hpaNoWin!) / median(o.oursWin16!);
  const http = median(o.oursCurl!) / median(o.http!);
  process.stdout.write(
    `TFTP ${o.mib} MiB, blksize 1432, curl as the client\n${line('bootchain serve', o.oursCurl!)}${line('tftpd-hpa', o.hpaCurl!)}  throughput ratio bootchain/tftpd-hpa: ${plain.toFixed(2)}x  (goal >= 1.0x)\n` +
      `TFTP ${o.mib} MiB, Bootchain's client: windowsize 16 on ours vs tftpd-hpa without (it has none)\n${line('bootchain serve, windowsize 16', o.oursWin16!)}${line('bootchain serve, no windowsize', o.oursNoWin!)}${line('tftpd-hpa, no windowsize', o.hpaNoWin!)}  throughput ratio bootchain(w16)/tftpd-hpa: ${win.toFixed(2)}x  (goal >= 3x)\n` +
      `HTTP vs TFTP from bootchain serve (curl)\n${line('HTTP', o.http!)}  HTTP/TFTP throughput: ${http.toFixed(1)}x\n`,
  );
  return plain >= 1.0 && win >= 3;
}
