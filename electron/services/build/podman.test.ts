import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBaseImage, podmanArgs, podmanSkipReason } from '../../../e2e/support/podman';
import { standInTree } from '../../../e2e/support/standin';
import { buildIpxe, type BuildRequest } from './builder';
import { containerName, ensureImage, stopBuildContainers } from './container';
import { readEmbeddedScript } from './readback';

// The container path for real, with podman: the image from the bundled Containerfile on an
// offline Debian base, then `make` in it with the cache mounted. The source tree is a STAND-IN
// (e2e/support/standin.ts; iPXE's source cannot be had on CI machines), compiled with the
// container's gcc.
const skip = podmanSkipReason();
if (skip) process.stdout.write(`SKIP podman.test.ts: ${skip}\n`);

const standIn = () => standInTree({ objects: 4, compiler: 'gcc' });

describe.skipIf(!!skip)('build in the bundled container (podman)', () => {
  let args: string[];
  let base: string;
  beforeAll(async () => {
    args = podmanArgs();
    base = await ensureBaseImage(args);
  }, 600000);
  const rep = (signal = new AbortController().signal) => ({ signal, progress: () => undefined, log: () => undefined });

  it('builds the image once per Containerfile, reuses it, rebuilds when the file changes', { timeout: 600000 }, async () => {
    const a = await ensureImage('podman', args, rep(), { base });
    const b = await ensureImage('podman', args, rep(), { base });
    expect(b).toEqual({ tag: a.tag, built: false });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-cf-'));
    cpSync(path.resolve(import.meta.dirname, '../../../build/ipxe/Containerfile'), path.join(dir, 'Containerfile'));
    writeFileSync(path.join(dir, "Containerfile"), `${readFileSync(path.join(dir, "Containerfile"), "utf8")}\n# changed ${Date.now()}\n`);
    const c = await ensureImage('podman', args, rep(), { base, dir });
    expect(c.tag).not.toBe(a.tag);
    expect(c.built).toBe(true);
    // vfs copies whole layers: drop the throwaway image.
    execFileSync('podman', [...args, 'rmi', '-f', c.tag], { stdio: 'ignore' });
  });

  const cacheOf = (cacheDir: string) => path.join(cacheDir, readdirSync(cacheDir).find((d) => d.startsWith('src-'))!);
  const running = (name: string) => execFileSync('podman', [...args, 'ps', '-q', '--filter', `name=^${name}$`]).toString().trim() !== '';
  const inside = (name: string) => execFileSync('podman', [...args, 'top', name, 'args']).toString();
  afterAll(() => stopBuildContainers());

  it('runs make by exec in one long-lived container per cache; script-only rebuilds replay there; a new image restarts it', { timeout: 600000 }, async () => {
    const { tag } = await ensureImage('podman', args, rep(), { base });
    const out = mkdtempSync(path.join(os.tmpdir(), 'bc-out-'));
    const req: BuildRequest = { engine: 'podman', engineArgs: args, image: tag, sourceDir: standIn(), sourceVersion: 'stand-in', targets: ['bin/undionly.kpxe'], embed: '#!ipxe\necho in-container\n', options: {}, outDir: out, cacheDir: mkdtempSync(path.join(os.tmpdir(), 'bc-cache-')) };
    const logs: string[] = [];
    const first = await buildIpxe(req, { ...rep(), log: (l) => logs.push(l) });
    expect(first).toMatchObject({ kind: 'full', compiled: 4, replayed: false });
    expect(first.artifacts[0]!.embeddedVerified).toBe(true);
    const name = containerName({ engine: 'podman', engineArgs: args, image: tag, cache: cacheOf(req.cacheDir), embedDir: path.join(req.cacheDir, 'embed') });
    expect(logs.some((l) => l.includes(`run -d --rm --name ${name}`))).toBe(true);
    expect(logs.some((l) => l.includes(`$ podman exec ${name} make -j`))).toBe(true);
    expect(running(name)).toBe(true);
    logs.length = 0;
    const second = await buildIpxe({ ...req, embed: '#!ipxe\necho again\n' }, { ...rep(), log: (l) => logs.push(l) });
    expect(second).toMatchObject({ kind: 'relink', compiled: 0, replayed: true });
    expect(logs.some((l) => l.includes(`$ podman exec ${name} sh /ipxe/.bootchain-replay.sh`))).toBe(true);
    expect(logs.some((l) => l.includes('starting the build container') || l.includes(' run -d '))).toBe(false);
    expect(readEmbeddedScript(readFileSync(path.join(out, 'undionly.kpxe'))).script).toBe('#!ipxe\necho again\n');
    // The same image under another tag counts as another image: the container is restarted, the
    // recording (made with the other image) is not replayed.
    const other = `${tag.split(':')[0]}:other-${Date.now()}`;
    execFileSync('podman', [...args, 'tag', tag, other]);
    try {
      logs.length = 0;
      const third = await buildIpxe({ ...req, image: other, embed: '#!ipxe\necho third\n' }, { ...rep(), log: (l) => logs.push(l) });
      expect(third.replayed).toBe(false);
      expect(logs.some((l) => /restarting the build container .* \(the image or the mounts changed\)/.test(l))).toBe(true);
      expect(logs.some((l) => /running make: the link steps were recorded with podman/.test(l))).toBe(true);
      expect(running(name)).toBe(true);
    } finally {
      stopBuildContainers();
      execFileSync('podman', [...args, 'rm', '-f', name], { stdio: 'ignore' });
      execFileSync('podman', [...args, 'untag', other], { stdio: 'ignore' });
    }
  });

  it('cancel during make in the container, and during a replay there, stops what the exec started; the container stays for the next build', { timeout: 600000 }, async () => {
    const { tag } = await ensureImage('podman', args, rep(), { base });
    const out = mkdtempSync(path.join(os.tmpdir(), 'bc-out-'));
    writeFileSync(path.join(out, 'undionly.kpxe'), 'previous');
    // Compiles take 20 s; the link sleeps 45 s when /embed/slow exists (a flag outside the tree,
    // which the recording checks, in the folder mounted at /embed).
    const tree = standInTree({ objects: 4, compiler: 'gcc', slowSeconds: 20 });
    const mk = path.join(tree, 'src/Makefile');
    writeFileSync(mk, readFileSync(mk, 'utf8').replaceAll('\t@echo "  [LD] $@"', '\t@if [ -f /embed/slow ]; then sleep 45; fi\n\t@echo "  [LD] $@"'));
    const req: BuildRequest = { engine: 'podman', engineArgs: args, image: tag, sourceDir: tree, sourceVersion: 'stand-in', targets: ['bin/undionly.kpxe'], embed: '#!ipxe\n', options: {}, outDir: out, cacheDir: mkdtempSync(path.join(os.tmpdir(), 'bc-cache-')) };
    const cancelAfter = async (r: BuildRequest, ms: number) => {
      const ac = new AbortController();
      const p = buildIpxe(r, rep(ac.signal));
      setTimeout(() => ac.abort(), ms);
      await expect(p).rejects.toMatchObject({ appError: { code: 'CANCELLED' } });
    };
    await cancelAfter(req, 12000);
    const name = containerName({ engine: 'podman', engineArgs: args, image: tag, cache: cacheOf(req.cacheDir), embedDir: path.join(req.cacheDir, 'embed') });
    // Settled only after the kill in the container: nothing of make is left there, the loop is.
    expect(inside(name)).not.toMatch(/sleep 20|make/);
    expect(running(name)).toBe(true);
    expect(readFileSync(path.join(out, 'undionly.kpxe'), 'utf8')).toBe('previous');

    // Let make finish once (compiles are slow, the link is not yet), then cancel a replay.
    const done = await buildIpxe({ ...req, embed: '#!ipxe\necho made\n' }, rep());
    expect(done.replayed).toBe(false);
    writeFileSync(path.join(req.cacheDir, 'embed', 'slow'), '');
    await cancelAfter({ ...req, embed: '#!ipxe\necho replayed\n' }, 3000);
    expect(inside(name)).not.toMatch(/sleep 45|replay/);
    expect(readEmbeddedScript(readFileSync(path.join(out, 'undionly.kpxe'))).script).toBe('#!ipxe\necho made\n');
  });
});
