/**
 * Build benchmark (needs IPXE_SRC: iPXE's source cannot be had on CI machines): a cold build of
 * undionly.kpxe with the embedded script, then script-only rebuilds (median of several), with the
 * local toolchain and in the podman container; rebuild/cold and container/local ratios.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBaseImage, podmanArgs, podmanSkipReason } from '../e2e/support/podman';
import { buildIpxe, type BuildRequest } from '../electron/services/build/builder';
import { ensureImage } from '../electron/services/build/container';
import { median } from './lib';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const quiet = { progress: () => undefined, log: () => undefined };

async function series(req: Omit<BuildRequest, 'embed' | 'cacheDir'>): Promise<{ cold: number; rebuild: number[] }> {
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'bc-bench-cache-'));
  try {
    const signal = new AbortController().signal;
    const cold = await buildIpxe({ ...req, cacheDir, embed: '#!ipxe\necho cold\n' }, { signal, ...quiet });
    const rebuild: number[] = [];
    for (let i = 0; i < RUNS; i++) rebuild.push((await buildIpxe({ ...req, cacheDir, embed: `#!ipxe\necho rebuild ${i}\n` }, { signal, ...quiet })).durationMs);
    return { cold: cold.durationMs, rebuild };
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

export async function benchBuild(): Promise<boolean | undefined> {
  const src = process.env.IPXE_SRC;
  if (!src) {
    process.stdout.write('build: SKIPPED (IPXE_SRC is not set: iPXE source cannot be had here; point IPXE_SRC at a tree to measure)\n');
    return undefined;
  }
  const base = { engine: 'local' as const, sourceDir: src, sourceVersion: 'IPXE_SRC', targets: ['bin/undionly.kpxe' as const], options: {}, outDir: mkdtempSync(path.join(os.tmpdir(), 'bc-bench-out-')) };
  const local = await series(base);
  const lr = median(local.rebuild);
  process.stdout.write(`build undionly.kpxe with EMBED, local toolchain\n  cold: ${(local.cold / 1000).toFixed(1)} s\n  script-only rebuild: median ${(lr / 1000).toFixed(2)} s (runs: ${local.rebuild.map((x) => (x / 1000).toFixed(2)).join(', ')})\n  ratio rebuild/cold: ${((lr / local.cold) * 100).toFixed(1)} % (goal <= 5 %)\n`);
  let ok = lr / local.cold <= 0.05;
  const skip = podmanSkipReason();
  if (skip) process.stdout.write(`  container: SKIPPED (${skip})\n`);
  else {
    const args = podmanArgs();
    const { tag } = await ensureImage('podman', args, { signal: new AbortController().signal, ...quiet }, { base: await ensureBaseImage(args) });
    const pod = await series({ ...base, engine: 'podman', engineArgs: args, image: tag });
    const pr = median(pod.rebuild);
    process.stdout.write(`build in the podman container (vfs storage)\n  cold: ${(pod.cold / 1000).toFixed(1)} s, rebuild median ${(pr / 1000).toFixed(2)} s\n  container/local: cold ${(pod.cold / local.cold).toFixed(2)}x, rebuild ${(pr / lr).toFixed(2)}x\n`);
    ok &&= pr / pod.cold <= 0.05;
  }
  return ok;
}
