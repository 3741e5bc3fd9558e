/**
 * Build benchmark (needs IPXE_SRC: iPXE's source cannot be had on CI machines). Beside plain
 * `make -j$(nproc)` on a fresh copy of the same tree (the reference), a cold Bootchain build of
 * undionly.kpxe with the embedded script, cache preparation included; then script-only rebuilds
 * (median of BENCH_RUNS; they replay the recorded link steps) with the local toolchain and, where
 * podman runs, in the long-lived build container.
 * Goals (issue 17): cold <= 1.1x plain make, rebuild <= 2 % of cold, podman rebuild <= 1.5x local.
 * The container's first build starts from a copy of the local cache (its objects compiled here)
 * unless BENCH_PODMAN_COLD=1 compiles everything in the container too (~5 min more on 2 cores).
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBaseImage, podmanArgs, podmanSkipReason } from '../e2e/support/podman';
import { buildIpxe, type BuildRequest } from '../electron/services/build/builder';
import { ensureImage, stopBuildContainers } from '../electron/services/build/container';
import { median, timed } from './lib';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const TARGETS = ['bin/undionly.kpxe' as const];
const quiet = { progress: () => undefined, log: () => undefined };
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const runs = (xs: number[]) => xs.map((x) => (x / 1000).toFixed(2)).join(', ');

interface Series {
  cold: number;
  rebuild: number[];
  /** Rebuilds that ran make instead of replaying (should be 0). */
  notReplayed: number;
}

async function series(req: Omit<BuildRequest, 'embed' | 'cacheDir'>, cacheDir: string): Promise<Series> {
  const signal = new AbortController().signal;
  const cold = await buildIpxe({ ...req, cacheDir, embed: '#!ipxe\necho cold\n' }, { signal, ...quiet });
  const rebuild: number[] = [];
  let notReplayed = 0;
  for (let i = 0; i < RUNS; i++) {
    const r = await buildIpxe({ ...req, cacheDir, embed: `#!ipxe\necho rebuild ${i}\n` }, { signal, ...quiet });
    rebuild.push(r.durationMs);
    if (!r.replayed) notReplayed++;
  }
  return { cold: cold.durationMs, rebuild, notReplayed };
}

/** Plain make on a fresh copy of the tree (the copy is not timed: it is the user's checkout). */
async function plainMake(src: string): Promise<number> {
  const copy = mkdtempSync(path.join(os.tmpdir(), 'bc-bench-plain-'));
  try {
    cpSync(src, copy, { recursive: true, filter: (f) => !f.includes(`${path.sep}.git`) });
    const embed = path.join(copy, 'bench.ipxe');
    writeFileSync(embed, '#!ipxe\necho cold\n');
    const r = await timed('make', ['-s', '-C', path.join(copy, 'src'), '-j', String(os.availableParallelism()), ...TARGETS, `EMBED=${embed}`]);
    if (r.code !== 0) throw new Error(`plain make failed (${r.code})`);
    return r.ms;
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

export async function benchBuild(): Promise<boolean | undefined> {
  const src = process.env.IPXE_SRC;
  if (!src) {
    process.stdout.write('build: SKIPPED (IPXE_SRC is not set: iPXE source cannot be had here; point IPXE_SRC at a tree to measure)\n');
    return undefined;
  }
  const load0 = os.loadavg()[0]!;
  const base = { engine: 'local' as const, sourceDir: src, sourceVersion: 'IPXE_SRC', targets: TARGETS, options: {}, outDir: mkdtempSync(path.join(os.tmpdir(), 'bc-bench-out-')) };
  const localCache = mkdtempSync(path.join(os.tmpdir(), 'bc-bench-cache-'));
  const podCache = mkdtempSync(path.join(os.tmpdir(), 'bc-bench-cache-pod-'));
  try {
    const plain = await plainMake(src);
    const local = await series(base, localCache);
    const lr = median(local.rebuild);
    const coldRatio = local.cold / plain;
    const rebuildRatio = lr / local.cold;
    process.stdout.write(
      `build ${TARGETS.join(', ')} with EMBED, local toolchain, -j${os.availableParallelism()} (load average ${load0.toFixed(1)} at the start, ${os.loadavg()[0]!.toFixed(1)} after the local series)\n` +
        `  plain make -j${os.availableParallelism()} (cold, same tree): ${s(plain)}\n` +
        `  bootchain cold (cache preparation and the link-step recording included): ${s(local.cold)}\n` +
        `  ratio cold bootchain/make: ${coldRatio.toFixed(2)}x (goal <= 1.1x)\n` +
        `  script-only rebuild, local (replayed ${RUNS - local.notReplayed}/${RUNS}): median ${(lr / 1000).toFixed(2)} s (runs: ${runs(local.rebuild)})\n` +
        `  ratio rebuild/cold: ${(rebuildRatio * 100).toFixed(1)} % (goal <= 2 %)\n`,
    );
    let ok = coldRatio <= 1.1 && rebuildRatio <= 0.02 && local.notReplayed === 0;
    const skip = process.env.BENCH_PODMAN === '0' ? 'BENCH_PODMAN=0' : podmanSkipReason();
    if (skip) process.stdout.write(`  container: SKIPPED (${skip})\n`);
    else {
      const args = podmanArgs();
      const { tag } = await ensureImage('podman', args, { signal: new AbortController().signal, ...quiet }, { base: await ensureBaseImage(args) });
      const seeded = process.env.BENCH_PODMAN_COLD !== '1';
      if (seeded) cpSync(localCache, podCache, { recursive: true, preserveTimestamps: true });
      const pod = await series({ ...base, engine: 'podman', engineArgs: args, image: tag }, podCache);
      const pr = median(pod.rebuild);
      process.stdout.write(
        `build in the podman container (vfs storage, long-lived container driven by exec)\n` +
          `  first build: ${s(pod.cold)} (${seeded ? 'container start, relink and recording; objects from a copy of the local cache' : 'cold, compiled in the container'})\n` +
          `  script-only rebuild, podman (replayed ${RUNS - pod.notReplayed}/${RUNS}): median ${(pr / 1000).toFixed(2)} s (runs: ${runs(pod.rebuild)})\n` +
          `  ratio rebuild podman/local: ${(pr / lr).toFixed(2)}x (goal <= 1.5x); podman rebuild/local cold: ${((pr / local.cold) * 100).toFixed(1)} %\n`,
      );
      ok &&= pr / lr <= 1.5 && pod.notReplayed === 0;
    }
    process.stdout.write(`  load average at the end: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
    return ok;
  } finally {
    stopBuildContainers();
    rmSync(localCache, { recursive: true, force: true });
    rmSync(podCache, { recursive: true, force: true });
  }
}
