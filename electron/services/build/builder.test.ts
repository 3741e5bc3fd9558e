import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JobProgress } from '../../../shared/jobs';
import { standInTree } from '../../../e2e/support/standin';
import { buildIpxe, type BuildRequest } from './builder';
import { readEmbeddedScript } from './readback';

// A STAND-IN source tree (e2e/support/standin.ts): iPXE itself cannot be had on CI machines
// (see the README); the real compile runs in ipxe.real.test.ts when IPXE_SRC points at a tree.
const standIn = (kind: 'ok' | 'slow' | 'broken' = 'ok') => standInTree(kind === 'slow' ? { slowSeconds: 30 } : kind === 'broken' ? { broken: true } : {});

function reporter(signal = new AbortController().signal) {
  const progress: JobProgress[] = [];
  const logs: string[] = [];
  return { rep: { signal, progress: (p: JobProgress) => progress.push(p), log: (l: string) => logs.push(l) }, progress, logs };
}

const req = (source: string, out: string, embed: string): BuildRequest => ({
  engine: 'local',
  sourceDir: source,
  sourceVersion: 'stand-in',
  targets: ['bin/undionly.kpxe', 'bin-x86_64-efi/snponly.efi'],
  embed,
  options: { serialConsole: true },
  outDir: out,
  cacheDir: mkdtempSync(path.join(os.tmpdir(), 'bc-cache-')),
});

describe('builder with a stand-in source tree', () => {
  it('compiles once, then only relinks when the script changes; manifest and read-back', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'bc-out-'));
    const r1 = req(standIn(), out, '#!ipxe\necho one\n');
    const a = reporter();
    const first = await buildIpxe(r1, a.rep);
    expect(first.kind).toBe('full');
    expect(first.compiled).toBe(8);
    expect(a.progress.filter((p) => p.phase === 'compile').length).toBe(8);
    expect(first.artifacts.map((x) => [x.file, x.embeddedVerified])).toEqual([
      ['undionly.kpxe', true],
      ['snponly.efi', true],
    ]);
    const manifest = JSON.parse(readFileSync(first.manifest, 'utf8'));
    expect(manifest).toMatchObject({ ipxe: { version: 'stand-in' }, embed: '#!ipxe\necho one\n', options: { serialConsole: true } });
    expect(manifest.artifacts[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    // The options went into config/local.
    const cacheSrc = readdirSync(r1.cacheDir).find((d) => d.startsWith('src-'))!;
    expect(readFileSync(path.join(r1.cacheDir, cacheSrc, 'src/config/local/console.h'), 'utf8')).toContain('#define CONSOLE_SERIAL');

    const b = reporter();
    const second = await buildIpxe({ ...r1, embed: '#!ipxe\necho two\n' }, b.rep);
    expect(second.kind).toBe('relink');
    expect(second.compiled).toBe(0);
    const kpxe = readEmbeddedScript(readFileSync(path.join(out, 'undionly.kpxe')), ['#!ipxe\necho one\n', '#!ipxe\necho two\n']);
    expect(kpxe).toMatchObject({ matched: 1, script: '#!ipxe\necho two\n', where: existsSync('/usr/bin/xz') ? 'lzma' : 'plain' });
    // Unknown to the reader, the script is still read up to where the data after it starts.
    expect(readEmbeddedScript(readFileSync(path.join(out, 'snponly.efi'))).script).toBe('#!ipxe\necho two\n');
    expect(readdirSync(out).sort()).toEqual(['manifest.json', 'snponly.efi', 'undionly.kpxe']);
  });

  it('cancel stops make and its children and leaves the output folder untouched', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'bc-out-'));
    writeFileSync(path.join(out, 'undionly.kpxe'), 'previous build');
    const ac = new AbortController();
    const { rep } = reporter(ac.signal);
    const p = buildIpxe(req(standIn('slow'), out, '#!ipxe\necho x\n'), rep);
    setTimeout(() => ac.abort(), 500);
    await expect(p).rejects.toMatchObject({ appError: { code: 'CANCELLED' } });
    expect(readdirSync(out)).toEqual(['undionly.kpxe']);
    expect(readFileSync(path.join(out, 'undionly.kpxe'), 'utf8')).toBe('previous build');
  });

  it('a failing build shows the failing lines; a folder that is not iPXE is refused', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'bc-out-'));
    const { rep } = reporter();
    await expect(buildIpxe(req(standIn('broken'), out, '#!ipxe\n'), rep)).rejects.toMatchObject({
      appError: { code: 'COMMAND_FAILED', detail: expect.stringContaining('error: stand-in failure') },
    });
    expect(readdirSync(out)).toEqual([]);
    await expect(buildIpxe(req(mkdtempSync(path.join(os.tmpdir(), 'bc-empty-')), out, '#!ipxe\n'), rep)).rejects.toMatchObject({ appError: { code: 'INVALID_INPUT' } });
    await expect(buildIpxe(req(standIn(), out, 'echo no magic\n'), rep)).rejects.toMatchObject({ appError: { code: 'INVALID_INPUT', field: 'embed' } });
  });
});

describe("read-back on Debian's prebuilt iPXE (no embedded script)", () => {
  const files = ['undionly.kpxe', 'ipxe.pxe', 'snponly.efi', 'ipxe.efi'].map((f) => `/usr/lib/ipxe/${f}`);
  const have = files.every((f) => existsSync(f));
  if (!have) process.stdout.write('SKIP read-back of Debian iPXE: package ipxe is not installed (.ci/run installs it)\n');
  it.skipIf(!have).each(files)('%s is iPXE without a script', (f) => {
    const r = readEmbeddedScript(readFileSync(f));
    expect(r).toMatchObject({ ipxe: true, where: 'none' });
    expect(r.script).toBeUndefined();
  });
});
