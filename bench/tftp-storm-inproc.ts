/**
 * Runs inside the lab's desk namespace (bench/tftp-storm.ts starts it): `tsx tftp-storm-inproc.ts
 * lockstep|storm RUNS`. Three lab hosts serve the same folder — Bootchain's server (`bootchain
 * serve`, TFTP + HTTP) on .210, tftpd-hpa on .211, dnsmasq's TFTP (its default tftp-max, 50) on
 * .212 — and a client host holds .213 and 200 station addresses (10.77.2.41-240, a subnet only
 * this benchmark uses, routed on the lab bridge). Traffic stays inside the lab.
 *
 * - lockstep: curl fetches a 64 MiB file at blksize 1432 with one ACK per block (as BIOS PXE ROMs
 *   fetch undionly.kpxe) from ours and from tftpd-hpa, alternating; the bytes are checked after
 *   each run. BENCH_CPU_PROF=DIR writes a V8 CPU profile of our server there.
 * - storm: 200 stations fetch a snponly.efi-sized (300 KiB) and an ipxe.efi-sized (1.2 MiB) file
 *   at once over TFTP (blksize 1432, one ACK per block) from each of the three servers, order
 *   rotating per run, and over HTTP from ours; wall time, every station's bytes, and the server's
 *   peak memory (RSS and PSS summed over its processes: tftpd-hpa forks one per transfer).
 *
 * Prints one JSON line.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CLI } from '../electron/cli/run-cli';
import { tftpGet } from '../electron/services/tftp/client';
import { addLabHost, currentLab } from '../e2e/lab/lab';
import type { StormRun } from './tftp-storm';

const pexec = promisify(execFile);
const STATIONS = Array.from({ length: 200 }, (_, i) => `10.77.2.${41 + i}`);
const IP = { ours: '10.77.0.210', hpa: '10.77.0.211', dnsmasq: '10.77.0.212', client: '10.77.0.213' } as const;
type Server = 'ours' | 'hpa' | 'dnsmasq';

type Host = Awaited<ReturnType<typeof addLabHost>>;

/** Starts `server` on its host, waits until it serves TFTP; `stop` ends it (SIGTERM, then kill). */
async function startServer(server: Server, host: Host, dir: string): Promise<{ pid: number; stop(): Promise<void> }> {
  const prof = server === 'ours' ? process.env.BENCH_CPU_PROF : undefined;
  const pid =
    server === 'ours'
      ? host.daemon('serve', process.execPath, [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), CLI, 'serve', '--root', dir, '--address', IP.ours, '--http', '8080', '--quiet'])
      : server === 'hpa'
        ? host.daemon('tftpd', '/usr/sbin/in.tftpd', ['-L', '-s', '-a', `${IP.hpa}:69`, dir])
        : host.daemon('dnsmasq', '/usr/sbin/dnsmasq', ['--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--user=root', `--listen-address=${IP.dnsmasq}`, '--bind-interfaces', '--enable-tftp', `--tftp-root=${dir}`, `--pid-file=${path.join(dir, 'dnsmasq.pid')}`]);
  const until = Date.now() + 30000;
  while (!(await tftpGet(IP[server], 'probe.txt', { timeoutMs: 300, retries: 1 }).then(() => true, () => false))) {
    if (Date.now() > until || !existsSync(`/proc/${pid}`)) {
      const log = path.join(currentLab()!.dir, `${server === 'ours' ? 'stour-serve' : server === 'hpa' ? 'sthpa-tftpd' : 'stdnm-dnsmasq'}.log`);
      throw new Error(`${server} did not start serving TFTP on ${IP[server]} (process ${existsSync(`/proc/${pid}`) ? 'running' : 'gone'}; ${log}: ${existsSync(log) ? readFileSync(log, 'utf8').slice(-500) : 'none'})`);
    }
  }
  return {
    pid,
    stop: async () => {
      // tftpd-hpa's children end with their transfers; the listener and the others go on SIGTERM.
      for (const p of [pid, ...children(pid)]) {
        try {
          process.kill(p, 'SIGTERM');
        } catch {
          // gone already
        }
      }
      const end = Date.now() + 10000; // our server writes its CPU profile (BENCH_CPU_PROF) as it exits
      while (existsSync(`/proc/${pid}`) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      if (existsSync(`/proc/${pid}`)) process.kill(pid, 'SIGKILL');
    },
  };
}

/** The child processes of `pid`. */
function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Whether process `pid` has the native TFTP pump (tftp_pump.node) loaded. */
function mapsPump(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/maps`, 'utf8').includes('tftp_pump.node');
  } catch {
    return false;
  }
}

/** Resident and proportional memory of a process and its children, bytes. */
function memoryOf(pid: number): { rss: number; pss: number; procs: number } {
  if (!existsSync(`/proc/${pid}`)) return { rss: 0, pss: 0, procs: 0 };
  const pids = [pid, ...children(pid)];
  let rss = 0;
  let pss = 0;
  for (const p of pids) {
    try {
      const s = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      rss += Number(/^Rss:\s+(\d+)/m.exec(s)?.[1] ?? 0) * 1024;
      pss += Number(/^Pss:\s+(\d+)/m.exec(s)?.[1] ?? 0) * 1024;
    } catch {
      // the child ended between the listing and the read
    }
  }
  return { rss, pss, procs: pids.length };
}

async function main(): Promise<void> {
  const L = currentLab();
  if (!L) throw new Error('run inside the lab (bench/tftp-storm.ts does)');
  const mode = process.argv[2];
  const runs = Number(process.argv[3] ?? 3);
  const dir = path.join(L.dir, 'storm-bench');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'probe.txt'), 'probe\n');
  const files = mode === 'lockstep' ? { 'big.bin': 64 << 20 } : { 'snponly.efi': 300 << 10, 'ipxe.efi': 1200 << 10 };
  for (const [f, size] of Object.entries(files)) writeFileSync(path.join(dir, f), randomBytes(size));

  const hosts = {
    ours: await addLabHost(L, 'stour', [IP.ours]),
    hpa: await addLabHost(L, 'sthpa', [IP.hpa]),
    dnsmasq: await addLabHost(L, 'stdnm', [IP.dnsmasq]),
  };
  const client = await addLabHost(L, 'stcli', [IP.client]);
  const all = [...Object.values(hosts), client];
  try {
    const batch = path.join(dir, 'stations.batch');
    writeFileSync(batch, `${STATIONS.map((ip) => `addr add ${ip}/24 dev eth0`).join('\n')}\n`);
    await client.exec('ip', ['-batch', batch]);
    for (const h of Object.values(hosts)) await h.exec('ip', ['route', 'add', '10.77.2.0/24', 'dev', 'eth0']);
    const out = mode === 'lockstep' ? await lockstep(dir, runs, hosts) : await storm(dir, runs, files, client, hosts);
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    for (const h of all) await h.remove();
  }
}

/** curl at blksize 1432 (one ACK per block) from ours and from tftpd-hpa, alternating. */
async function lockstep(dir: string, runs: number, hosts: Record<Server, Host>) {
  const want = createHash('sha256').update(readFileSync(path.join(dir, 'big.bin'))).digest('hex');
  const fetch = async (ip: string) => {
    const to = path.join(dir, `got-${ip}.bin`);
    const t0 = performance.now();
    await pexec('curl', ['-sf', '--tftp-blksize', '1432', '-o', to, `tftp://${ip}/big.bin`]);
    const ms = performance.now() - t0;
    if (createHash('sha256').update(readFileSync(to)).digest('hex') !== want) throw new Error(`${ip}: wrong bytes`);
    rmSync(to);
    return ms;
  };
  const r = { mib: 64, ours: [] as number[], hpa: [] as number[], path: 'js' as 'native' | 'js' };
  const ours = await startServer('ours', hosts.ours, dir);
  const hpa = await startServer('hpa', hosts.hpa, dir);
  try {
    for (let i = 0; i < runs; i++) {
      if (i % 2 === 0) {
        r.ours.push(await fetch(IP.ours));
        r.hpa.push(await fetch(IP.hpa));
      } else {
        r.hpa.push(await fetch(IP.hpa));
        r.ours.push(await fetch(IP.ours));
      }
    }
    // Which path served: the native pump is mapped into the server once it is loaded (and
    // then serves every octet transfer), else the JS loop did.
    r.path = [ours.pid, ...children(ours.pid)].some((p) => mapsPump(p)) ? 'native' : 'js';
  } finally {
    await ours.stop();
    await hpa.stop();
  }
  return r;
}

/** 200 stations at once, per file, per server (order rotating), and over HTTP from ours. */
async function storm(dir: string, runs: number, files: Record<string, number>, client: Host, hosts: Record<Server, Host>) {
  // Each run on a freshly started server: its peak memory is that storm's, and no transfer of
  // a run before (dnsmasq holds a slot for a vanished client up to about two minutes) is left.
  const once = async (server: Server, proto: 'tftp' | 'http', file: string): Promise<StormRun> => {
    const s = await startServer(server, hosts[server], dir);
    try {
      return await measured(s.pid, server, proto, file);
    } finally {
      await s.stop();
    }
  };
  const measured = async (pid: number, server: Server, proto: 'tftp' | 'http', file: string): Promise<StormRun> => {
    let peak = { rss: 0, pss: 0, procs: 0 };
    const sample = () => {
      const m = memoryOf(pid);
      peak = { rss: Math.max(peak.rss, m.rss), pss: Math.max(peak.pss, m.pss), procs: Math.max(peak.procs, m.procs) };
    };
    sample();
    const sampler = setInterval(sample, 100);
    try {
      const args = { proto, server: IP[server], port: proto === 'http' ? 8080 : 69, file, size: files[file], check: path.join(dir, file), addresses: STATIONS, blksize: 1432, timeoutMs: 1000, retries: 10, rrqRetries: 30, limitMs: 60000 };
      const raw = await client.exec(process.execPath, [path.join(__dirname, 'storm-client.mjs'), JSON.stringify(args)]);
      const r = JSON.parse(raw.trim().split('\n').at(-1)!) as Omit<StormRun, 'peakRss' | 'peakPss' | 'procs'>;
      sample();
      return { ...r, peakRss: peak.rss, peakPss: peak.pss, procs: peak.procs };
    } finally {
      clearInterval(sampler);
    }
  };
  const order: Server[] = ['ours', 'hpa', 'dnsmasq'];
  const out: Record<string, Record<string, StormRun[]>> = {};
  for (const file of Object.keys(files)) {
    out[file] = { ours: [], hpa: [], dnsmasq: [], http: [] };
    for (let i = 0; i < runs; i++) {
      for (let k = 0; k < order.length; k++) {
        const s = order[(i + k) % order.length]!;
        out[file]![s]!.push(await once(s, 'tftp', file));
      }
      out[file]!.http!.push(await once('ours', 'http', file));
    }
  }
  return { stations: STATIONS.length, files, runs: out };
}

main().catch((e: unknown) => {
  process.stderr.write(`tftp storm bench: ${String(e)}\n`);
  process.exit(1);
});
