/** Prints in-process discovery and probe times (median of N) for bench/iscsi.ts; run in the desk. */
import { discover } from '../electron/services/iscsi/discovery';
import { probeTarget } from '../electron/services/iscsi/probe';
import { median } from './lib';

async function main(): Promise<void> {
  const [portal, target, runsText] = process.argv.slice(2);
  const [host, port] = portal!.split(':');
  const o = { host: host!, port: Number(port), initiatorName: 'iqn.2024-01.io.bootchain:bench' };
  const runs = Number(runsText ?? 5);
  const d: number[] = [];
  const p: number[] = [];
  let targets = 0;
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    let t0 = process.hrtime.bigint();
    const r = await discover(o);
    d.push(Number(process.hrtime.bigint() - t0) / 1e6);
    targets = r.targets.length;
    bytes = r.replyBytes;
    t0 = process.hrtime.bigint();
    await probeTarget({ ...o, targetName: target! });
    p.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  process.stdout.write(`discovery in process on ${portal} (${targets} targets, ${bytes}-byte reply): median ${median(d).toFixed(1)} ms\n`);
  process.stdout.write(`probe in process of ${target} (login, REPORT LUNS, INQUIRY x2 per LUN, READ CAPACITY, READ LBA 0-1, logout): median ${median(p).toFixed(1)} ms\n`);
}

void main();
