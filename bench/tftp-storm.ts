/**
 * Boot-server load benchmarks (bench/tftp-storm-inproc.ts runs them inside the lab):
 * - lockstep: a 64 MiB file at blksize 1432 with one ACK per block (BIOS PXE ROMs fetching
 *   undionly.kpxe) from `bootchain serve` and from tftpd-hpa, curl as the client; the median of
 *   the per-run throughput ratios, goal >= 1.0x. BENCH_LOCKSTEP_RUNS (default 5).
 * - storm: 200 stations at once fetch a snponly.efi-sized (300 KiB) and an ipxe.efi-sized
 *   (1.2 MiB) file over TFTP from ours, tftpd-hpa and dnsmasq (default tftp-max), and over HTTP
 *   from ours; wall time and the server's peak memory. Goals: every station completes, ours
 *   <= 1.0x tftpd-hpa's wall time, peak RSS <= 200 MiB. BENCH_STORM_RUNS (default 3).
 */
import path from 'node:path';
import { inDesk, type LabInfo } from '../e2e/lab/lab';
import { median, timed } from './lib';

const MiB = 1 << 20;

async function inLab(lab: LabInfo, mode: 'lockstep' | 'storm', runs: number): Promise<unknown> {
  const root = path.resolve(__dirname, '..');
  const r = await timed('ip', inDesk(lab, [process.execPath, path.join(root, 'node_modules/tsx/dist/cli.mjs'), path.join(__dirname, 'tftp-storm-inproc.ts'), mode, String(runs)]));
  if (r.code !== 0) throw new Error(`${mode} bench exited ${r.code}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');

/** Lockstep 64 MiB: ours beside tftpd-hpa, the median of per-run ratios. */
export async function benchLockstep(lab: LabInfo): Promise<boolean> {
  const o = (await inLab(lab, 'lockstep', Number(process.env.BENCH_LOCKSTEP_RUNS ?? 5))) as { mib: number; ours: number[]; hpa: number[]; path?: string };
  const ratios = o.ours.map((ms, i) => o.hpa[i]! / ms);
  const ratio = median(ratios);
  const line = (name: string, xs: number[]) => `  ${name}: median ${median(xs).toFixed(0)} ms, ${(o.mib / (median(xs) / 1000)).toFixed(1)} MiB/s  (runs: ${fmt(xs)})\n`;
  process.stdout.write(
    `TFTP lockstep ${o.mib} MiB (blksize 1432, one ACK per block, as BIOS PXE ROMs fetch undionly.kpxe), curl as the client\n  bootchain served by: ${o.path === 'native' ? 'the native pump (tftp_pump.node)' : 'the JS loop (native pump not loaded)'}\n${line('bootchain serve', o.ours)}${line('tftpd-hpa', o.hpa)}` +
      `  throughput ratio bootchain/tftpd-hpa: median of per-run ratios ${ratio.toFixed(2)}x  (runs: ${ratios.map((x) => x.toFixed(2)).join(', ')}; goal >= 1.0x)\n`,
  );
  return ratio >= 1.0;
}

/** One storm run against one server (what bench/tftp-storm-inproc.ts measures). */
export interface StormRun {
  wallMs: number;
  ok: number;
  failed: number;
  errors: Record<string, number>;
  resends: number;
  cpuMs: number;
  peakRss: number;
  peakPss: number;
  procs: number;
}

/** Boot storm: 200 stations at once, three TFTP servers and our HTTP. */
export async function benchStorm(lab: LabInfo): Promise<boolean> {
  const o = (await inLab(lab, 'storm', Number(process.env.BENCH_STORM_RUNS ?? 3))) as { stations: number; files: Record<string, number>; runs: Record<string, Record<string, StormRun[]>> };
  let met = true;
  for (const [file, size] of Object.entries(o.files)) {
    const r = o.runs[file]!;
    const wall = (k: string) => median(r[k]!.map((x) => x.wallMs));
    const peak = (k: string) => Math.max(...r[k]!.map((x) => x.peakRss)) / MiB;
    const done = (k: string) => r[k]!.every((x) => x.ok === o.stations);
    const line = (name: string, k: string) => {
      const runs = r[k]!;
      const errors = [...new Set(runs.flatMap((x) => Object.keys(x.errors)))].join('; ');
      const failed = `${runs.map((x) => x.failed).join(', ')} of ${o.stations} failed in the runs (${errors})`;
      const procs = Math.max(...runs.map((x) => x.procs));
      return `  ${name}: median ${wall(k).toFixed(0)} ms  (runs: ${fmt(runs.map((x) => x.wallMs))}), peak RSS ${peak(k).toFixed(1)} MiB${procs > 1 ? ` summed over ${procs} processes (PSS ${(Math.max(...runs.map((x) => x.peakPss)) / MiB).toFixed(1)} MiB)` : ''}, ${done(k) ? `all ${o.stations} completed` : failed}, ${median(runs.map((x) => x.resends)).toFixed(0)} client resends\n`;
    };
    const ratioHpa = wall('ours') / wall('hpa');
    const ratioDnsmasq = wall('ours') / wall('dnsmasq');
    const ok = done('ours') && ratioHpa <= 1.0 && peak('ours') <= 200;
    met &&= ok && done('http');
    process.stdout.write(
      `Boot storm: ${o.stations} stations at once fetch ${file} (${(size / 1024).toFixed(0)} KiB) over TFTP, blksize 1432, one ACK per block\n` +
        `${line('bootchain serve', 'ours')}${line('tftpd-hpa', 'hpa')}${line('dnsmasq (tftp-max 50)', 'dnsmasq')}` +
        `  wall-time ratio bootchain/tftpd-hpa: ${ratioHpa.toFixed(2)}x (goal <= 1.0x), bootchain/dnsmasq: ${ratioDnsmasq.toFixed(2)}x${done('dnsmasq') ? '' : " (dnsmasq's time is that of its stations giving up)"}; peak RSS goal <= 200 MiB: ${peak('ours') <= 200 ? 'met' : 'MISSED'}\n` +
        `Boot storm over HTTP: the same ${o.stations} stations fetch ${file} from bootchain serve\n${line('bootchain serve HTTP', 'http')}` +
        `  wall-time ratio HTTP(bootchain)/TFTP(tftpd-hpa): ${(wall('http') / wall('hpa')).toFixed(2)}x, HTTP/TFTP(bootchain): ${(wall('http') / wall('ours')).toFixed(2)}x\n`,
    );
  }
  return met;
}
