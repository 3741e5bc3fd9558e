/**
 * Build benchmark (needs IPXE_SRC: iPXE's source cannot be had on CI machines). Beside plain
 * `make -j$(nproc)` on a fresh copy of the same tree (the reference), a cold Bootchain build of
 * undionly.kpxe with the embedded script, cache preparation included; then script-only rebuilds
 * (median of BENCH_RUNS; they replay the recorded link steps) with the local toolchain and, where
 * podman runs, in the long-lived build container, the two taken in turns.
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

type Req = Omit<BuildRequest, 'embed' | 'cacheDir'>;
const signal = new AbortController().signal;

/** One script-only rebuild: its time, and whether it replayed (a make would not count as one). */
async function rebuild(req: Req, cacheDir: string, i: number): Promise<{ ms: number; replayed: boolean }> {
  const r = await buildIpxe({ ...req, cacheDir, embed: `#!ipxe\necho rebuild ${i}\n` }, { signal, ...quiet });
  return { ms: r.durationMs, replayed: r.replayed };
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
    const cold = (await buildIpxe({ ...base, cacheDir: localCache, embed: '#!ipxe\necho cold\n' }, { signal, ...quiet })).durationMs;
    const coldRatio = cold / plain;
    process.stdout.write(
      `build ${TARGETS.join(', ')} with EMBED, local toolchain, -j${os.availableParallelism()} (load average ${load0.toFixed(1)} at the start)\n` +
        `  plain make -j${os.availableParallelism()} (cold, same tree): ${s(plain)}\n` +
        `  bootchain cold (cache preparation and the link-step recording included): ${s(cold)}\n` +
        `  ratio cold bootchain/make: ${coldRatio.toFixed(2)}x (goal <= 1.1x)\n`,
    );
    const skip = process.env.BENCH_PODMAN === '0' ? 'BENCH_PODMAN=0' : podmanSkipReason();
    let pod: Req | undefined;
    let podFirst = 0;
    const seeded = process.env.BENCH_PODMAN_COLD !== '1';
    if (!skip) {
      const args = podmanArgs();
      const { tag } = await ensureImage('podman', args, { signal, ...quiet }, { base: await ensureBaseImage(args) });
      pod = { ...base, engine: 'podman', engineArgs: args, image: tag };
      if (seeded) cpSync(localCache, podCache, { recursive: true, preserveTimestamps: true });
      podFirst = (await buildIpxe({ ...pod, cacheDir: podCache, embed: '#!ipxe\necho cold\n' }, { signal, ...quiet })).durationMs;
    }
    // Local and podman rebuilds taken in turns, so both see the same load on a shared machine.
    const local: Array<{ ms: number; replayed: boolean }> = [];
    const inPod: Array<{ ms: number; replayed: boolean }> = [];
    for (let i = 0; i < RUNS; i++) {
      local.push(await rebuild(base, localCache, i));
      if (pod) inPod.push(await rebuild(pod, podCache, i));
    }
    const lr = median(local.map((x) => x.ms));
    const rebuildRatio = lr / cold;
    process.stdout.write(
      `  script-only rebuild, local (replayed ${local.filter((x) => x.replayed).length}/${RUNS}): median ${(lr / 1000).toFixed(2)} s (runs: ${runs(local.map((x) => x.ms))})\n` +
        `  ratio rebuild/cold: ${(rebuildRatio * 100).toFixed(1)} % (goal <= 2 %)\n`,
    );
    let ok = coldRatio <= 1.1 && rebuildRatio <= 0.02 && local.every((x) => x.replayed);
    if (skip || !pod) process.stdout.write(`  container: SKIPPED (${skip})\n`);
    else {
      const pr = median(inPod.map((x) => x.ms));
      process.stdout.write(
        `build in the podman container (vfs storage, long-lived container driven through an exec session; rebuilds in turns with the local ones)\n` +
          `  first build: ${s(podFirst)} (${seeded ? 'container start, relink and recording; objects from a copy of the local cache' : 'cold, compiled in the container'})\n` +
          `  script-only rebuild, podman (replayed ${inPod.filter((x) => x.replayed).length}/${RUNS}): median ${(pr / 1000).toFixed(2)} s (runs: ${runs(inPod.map((x) => x.ms))})\n` +
          `  ratio rebuild podman/local: ${(pr / lr).toFixed(2)}x (goal <= 1.5x); podman rebuild/local cold: ${((pr / cold) * 100).toFixed(1)} %\n`,
      );
      ok &&= pr / lr <= 1.5 && inPod.every((x) => x.replayed);
    }
    process.stdout.write(`  load average at the end: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
    return ok;
  } finally {
    stopBuildContainers();
    rmSync(localCache, { recursive: true, force: true });
    rmSync(podCache, { recursive: true, force: true });
  }
}
