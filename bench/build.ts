/**
 * Build benchmark (needs IPXE_SRC: iPXE's source cannot be had on CI machines). Beside plain
 * `make -j$(nproc)` on a fresh copy of the same tree (the reference), a cold Bootchain build of
 * undionly.kpxe with the embedded script, cache preparation included; then script-only rebuilds
 * (median of BENCH_RUNS); with the local toolchain and, where podman runs, in the container.
 * Goals (issue 17): cold <= 1.1x plain make, rebuild <= 2 % of cold, podman rebuild <= 1.5x local.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBaseImage, podmanArgs, podmanSkipReason } from '../e2e/support/podman';
import { buildIpxe, type BuildRequest } from '../electron/services/build/builder';
import { ensureImage } from '../electron/services/build/container';
import { median, timed } from './lib';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const TARGETS = ['bin/undionly.kpxe' as const];
const quiet = { progress: () => undefined, log: () => undefined };
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

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

/** Plain make on a fresh copy of the tree (the copy is not timed: it is the user's checkout). */
async function plainMake(src: string): Promise<number> {
  const copy = mkdtempSync(path.join(os.tmpdir(), 'bc-bench-plain-'));
  try {
    cpSync(src, copy, { recursive: true, filter: (f) => !f.includes(`${path.sep}.git`) });
    const embed = path.join(copy, 'bench.ipxe');
    const { writeFileSync } = await import('node:fs');
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
  const base = { engine: 'local' as const, sourceDir: src, sourceVersion: 'IPXE_SRC', targets: TARGETS, options: {}, outDir: mkdtempSync(path.join(os.tmpdir(), 'bc-bench-out-')) };
  const plain = await plainMake(src);
  const local = await series(base);
  const lr = median(local.rebuild);
  const coldRatio = local.cold / plain;
  const rebuildRatio = lr / local.cold;
  process.stdout.write(
    `build ${TARGETS.join(', ')} with EMBED, local toolchain, -j${os.availableParallelism()} (load average ${os.loadavg()[0]!.toFixed(1)} at the end)\n` +
      `  plain make -j${os.availableParallelism()} (cold, same tree): ${s(plain)}\n` +
      `  bootchain cold (cache preparation included): ${s(local.cold)}\n` +
      `  ratio cold bootchain/make: ${coldRatio.toFixed(2)}x (goal <= 1.1x)\n` +
      `  script-only rebuild: median ${(lr / 1000).toFixed(2)} s (runs: ${local.rebuild.map((x) => (x / 1000).toFixed(2)).join(', ')})\n` +
      `  ratio rebuild/cold: ${(rebuildRatio * 100).toFixed(1)} % (goal <= 2 %)\n`,
  );
  let ok = coldRatio <= 1.1 && rebuildRatio <= 0.02;
  const skip = process.env.BENCH_PODMAN === '0' ? 'BENCH_PODMAN=0' : podmanSkipReason();
  if (skip) process.stdout.write(`  container: SKIPPED (${skip})\n`);
  else {
    const args = podmanArgs();
    const { tag } = await ensureImage('podman', args, { signal: new AbortController().signal, ...quiet }, { base: await ensureBaseImage(args) });
    const pod = await series({ ...base, engine: 'podman', engineArgs: args, image: tag });
    const pr = median(pod.rebuild);
    process.stdout.write(`build in the podman container (vfs storage)\n  cold: ${s(pod.cold)}, rebuild median ${(pr / 1000).toFixed(2)} s\n  container/local: cold ${(pod.cold / local.cold).toFixed(2)}x, rebuild ${(pr / lr).toFixed(2)}x (goal <= 1.5x)\n`);
    ok &&= pr / lr <= 1.5;
  }
  return ok;
}
