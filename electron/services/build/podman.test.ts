import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBaseImage, podmanArgs, podmanSkipReason } from '../../../e2e/support/podman';
import { standInTree } from '../../../e2e/support/standin';
import { buildIpxe, type BuildRequest } from './builder';
import { ensureImage } from './container';
import { readEmbeddedScript } from './readback';

// The container path for real, with podman: the image from the bundled Containerfile on an
// offline Debian base, then `make` in it with the cache mounted. The source tree is a STAND-IN
// (e2e/support/standin.ts; iPXE's source cannot be had on CI machines), compiled with the
// container's gcc.
const skip = podmanSkipReason();
if (skip) process.stdout.write(`SKIP podman.test.ts: ${skip}\n`);

const standIn = (slow = false) => standInTree({ objects: 4, compiler: 'gcc', ...(slow ? { slowSeconds: 60 } : {}) });

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

  it('runs make in the container with the cache mounted; relinks only after a script change', { timeout: 600000 }, async () => {
    const { tag } = await ensureImage('podman', args, rep(), { base });
    const out = mkdtempSync(path.join(os.tmpdir(), 'bc-out-'));
    const req: BuildRequest = { engine: 'podman', engineArgs: args, image: tag, sourceDir: standIn(), sourceVersion: 'stand-in', targets: ['bin/undionly.kpxe'], embed: '#!ipxe\necho in-container\n', options: {}, outDir: out, cacheDir: mkdtempSync(path.join(os.tmpdir(), 'bc-cache-')) };
    const first = await buildIpxe(req, rep());
    expect(first).toMatchObject({ kind: 'full', compiled: 4 });
    expect(first.artifacts[0]!.embeddedVerified).toBe(true);
    const second = await buildIpxe({ ...req, embed: '#!ipxe\necho again\n' }, rep());
    expect(second).toMatchObject({ kind: 'relink', compiled: 0 });
    expect(readEmbeddedScript(readFileSync(path.join(out, 'undionly.kpxe'))).script).toBe('#!ipxe\necho again\n');
  });

  it('cancel stops the container and leaves the output folder untouched', { timeout: 600000 }, async () => {
    const { tag } = await ensureImage('podman', args, rep(), { base });
    const out = mkdtempSync(path.join(os.tmpdir(), 'bc-out-'));
    writeFileSync(path.join(out, 'undionly.kpxe'), 'previous');
    const ac = new AbortController();
    const p = buildIpxe({ engine: 'podman', engineArgs: args, image: tag, sourceDir: standIn(true), sourceVersion: 'stand-in', targets: ['bin/undionly.kpxe'], embed: '#!ipxe\n', options: {}, outDir: out, cacheDir: mkdtempSync(path.join(os.tmpdir(), 'bc-cache-')) }, rep(ac.signal));
    setTimeout(() => ac.abort(), 4000);
    await expect(p).rejects.toMatchObject({ appError: { code: 'CANCELLED' } });
    expect(readdirSync(out)).toEqual(['undionly.kpxe']);
    expect(readFileSync(path.join(out, 'undionly.kpxe'), 'utf8')).toBe('previous');
    // No build container is left running.
    await new Promise((r) => setTimeout(r, 1000));
    expect(execFileSync('podman', [...args, 'ps', '-q', '--filter', 'name=bootchain-build']).toString().trim()).toBe('');
  });
});
