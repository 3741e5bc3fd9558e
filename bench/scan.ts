/**
 * Scan benchmark: our CLI scan of the lab /24 beside `nmap -n -p3260 --open` on the same lab,
 * in the same run, alternating, several runs; medians and the ratio; the same open-port set
 * asserted. Both run inside the lab's desk namespace (the lab is the only network there).
 * Also measures how long cancel takes to stop a running scan.
 */
import path from 'node:path';
import { inDesk, type LabInfo } from '../e2e/lab/lab';
import { median, report, timed } from './lib';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);

function nmapOpen(stdout: string): string[] {
  // Grepable output: "Host: 10.77.0.20 ()\tPorts: 3260/open/tcp//iscsi///"
  const out: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^Host: (\S+) .*Ports: (.*)$/.exec(line);
    if (!m) continue;
    for (const p of m[2]!.split(',')) {
      const [port, state] = p.trim().split('/');
      if (state === 'open') out.push(`${m[1]}:${port}`);
    }
  }
  return out.sort();
}

export async function benchScan(lab: LabInfo): Promise<boolean> {
  const cli = path.resolve(__dirname, '../out/main/cli.js');
  const ours: number[] = [];
  const theirs: number[] = [];
  let oursSet: string[] = [];
  let nmapSet: string[] = [];
  for (let i = 0; i < RUNS; i++) {
    const a = await timed('ip', inDesk(lab, [process.execPath, cli, 'scan', lab.subnet, '--ports', '3260', '--json']));
    if (a.code !== 0) throw new Error(`bootchain scan exited ${a.code}`);
    ours.push(a.ms);
    oursSet = (JSON.parse(a.stdout) as { portals: Array<{ address: string; port: number }> }).portals.map((p) => `${p.address}:${p.port}`).sort();
    const b = await timed('ip', inDesk(lab, ['nmap', '-n', '-p3260', '--open', '-oG', '-', lab.subnet]));
    if (b.code !== 0) throw new Error(`nmap exited ${b.code}`);
    theirs.push(b.ms);
    nmapSet = nmapOpen(b.stdout);
  }
  const same = JSON.stringify(oursSet) === JSON.stringify(nmapSet);
  const { ratio } = report(`scan ${lab.subnet} port 3260 (whole command, process start included)`, ours, 'nmap -n -p3260 --open', theirs, '<= 0.5x');
  process.stdout.write(`  open set: bootchain [${oursSet.join(' ')}] nmap [${nmapSet.join(' ')}] -> ${same ? 'same' : 'DIFFERENT'}\n`);

  // Cancel latency, measured in the desk namespace by a small script through the real scanner.
  const lat = await timed('ip', inDesk(lab, [process.execPath, path.resolve(__dirname, '../node_modules/tsx/dist/cli.mjs'), path.resolve(__dirname, 'cancel-latency.ts'), lab.subnet]));
  const samples = lat.stdout.trim().split(/\s+/).map(Number).filter((x) => Number.isFinite(x));
  if (samples.length > 0) {
    process.stdout.write(`scan cancel latency (abort -> scan settled), ${samples.length} runs: median ${median(samples).toFixed(1)} ms, max ${Math.max(...samples).toFixed(1)} ms (goal <= 200 ms)\n`);
  }
  return same && ratio <= 0.5;
}
