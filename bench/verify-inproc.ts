/**
 * Runs inside the lab's desk namespace (bench/verify.ts starts it): a healthy chain on a lab
 * host (generated dnsmasq config, stock iPXE, generated scripts, the lab NAS's tgtd), then the
 * full verify of its workstation RUNS times. Prints JSON.
 */
import { chainProject, startChainLab } from '../e2e/lab/chain-lab';
import { currentLab } from '../e2e/lab/lab';
import { verifyStation } from '../electron/services/verify/verify';

async function main(): Promise<void> {
  const L = currentLab();
  if (!L) throw new Error('run inside the lab (bench/verify.ts does)');
  const runs = Number(process.argv[2] ?? 7);
  const project = chainProject(L, { name: 'bench', ip: '10.77.0.95', mac: '52:54:00:b0:12:01', target: L.iscsi.targets.boot, station: 'pc' });
  const chain = await startChainLab(L, { name: 'vbench', ip: '10.77.0.95', project });
  const ms: number[] = [];
  const wait = Number(process.env.BENCH_DHCP_WAIT ?? 1000);
  try {
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const r = await verifyStation(chain.project, {}, 'pc', { dhcp: true, dhcpWaitMs: wait });
      if (!r.ok) throw new Error(`verify found a broken chain: ${r.firstBroken}`);
      ms.push(performance.now() - t0);
    }
  } finally {
    await chain.stop();
  }
  process.stdout.write(`${JSON.stringify({ ms, wait })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`verify bench: ${String(e)}\n`);
  process.exit(1);
});
