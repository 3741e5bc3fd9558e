import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JobProgress } from '../../../shared/jobs';
import { standInTree } from '../../../e2e/support/standin';
import { buildIpxe, type BuildRequest } from './builder';
import { readEmbeddedScript } from './readback';
import { RECORDING_FILE } from './replay';

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

describe('script-only rebuilds replay the recorded link steps (stand-in tree)', () => {
  const cacheOf = (r: BuildRequest) => path.join(r.cacheDir, readdirSync(r.cacheDir).find((d) => d.startsWith('src-'))!);
  const said = (logs: string[], re: RegExp) => logs.some((l) => re.test(l));

  it('replays after a make build; the bytes are those make gives for the same script', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'bc-out-'));
    const r = req(standIn(), out, '#!ipxe\necho A\n');
    const a = reporter();
    expect((await buildIpxe(r, a.rep)).replayed).toBe(false);
    expect(said(a.logs, /running make: no recorded link steps/)).toBe(true);
    expect(said(a.logs, /recorded \d+ link steps/)).toBe(true);
    const b = reporter();
    const replayed = await buildIpxe({ ...r, embed: '#!ipxe\necho B, a longer script\n' }, b.rep);
    expect(replayed).toMatchObject({ kind: 'relink', replayed: true, compiled: 0 });
    expect(said(b.logs, /replaying the recorded link steps instead of running make/)).toBe(true);
    expect(b.logs.filter((l) => l.includes('[LD]'))).toHaveLength(2);
    expect(replayed.artifacts.map((x) => x.embeddedVerified)).toEqual([true, true]);
    const byReplay = r.targets.map((t) => readFileSync(path.join(out, path.basename(t))));
    // The same script through make: without the recording, the script newer than the outputs.
    rmSync(path.join(cacheOf(r), RECORDING_FILE));
    const embed = path.join(r.cacheDir, 'embed', `embed-${path.basename(cacheOf(r))}.ipxe`);
    utimesSync(embed, new Date(Date.now() + 5000), new Date(Date.now() + 5000));
    const c = reporter();
    expect((await buildIpxe({ ...r, embed: '#!ipxe\necho B, a longer script\n' }, c.rep)).replayed).toBe(false);
    expect(c.logs.filter((l) => l.includes('[LD]'))).toHaveLength(2);
    r.targets.forEach((t, i) => expect(readFileSync(path.join(out, path.basename(t))).equals(byReplay[i]!)).toBe(true));
  });

  it('runs make when anything but the script changed: options, an object, the targets, a broken recording', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'bc-out-'));
    const r = req(standIn(), out, '#!ipxe\necho 1\n');
    await buildIpxe(r, reporter().rep);
    const step = async (change: Partial<BuildRequest>, embed: string) => {
      const x = reporter();
      const res = await buildIpxe({ ...r, ...change, embed }, x.rep);
      return { replayed: res.replayed, why: x.logs.find((l) => l.startsWith('running make:')) };
    };
    expect(await step({ options: { serialConsole: false } }, '#!ipxe\necho 2\n')).toEqual({ replayed: false, why: 'running make: the build options changed' });
    expect((await step({ options: { serialConsole: false } }, '#!ipxe\necho 3\n')).replayed).toBe(true);
    // An object rebuilt behind the recording's back (a newer mtime): stale recording, make.
    const obj = path.join(cacheOf(r), 'src/bin/core1.o');
    utimesSync(obj, new Date(), new Date(Date.now() + 10000));
    expect(await step({ options: { serialConsole: false } }, '#!ipxe\necho 4\n')).toMatchObject({ replayed: false, why: expect.stringMatching(/build cache changed since the link steps were recorded/) });
    expect(await step({ options: { serialConsole: false }, targets: ['bin/undionly.kpxe'] }, '#!ipxe\necho 5\n')).toMatchObject({ replayed: false, why: expect.stringMatching(/recorded for bin\/undionly.kpxe, bin-x86_64-efi\/snponly.efi/) });
    writeFileSync(path.join(cacheOf(r), RECORDING_FILE), '{ not json');
    expect(await step({ options: { serialConsole: false }, targets: ['bin/undionly.kpxe'] }, '#!ipxe\necho 6\n')).toMatchObject({ replayed: false, why: expect.stringMatching(/no recorded link steps/) });
    expect((await step({ options: { serialConsole: false }, targets: ['bin/undionly.kpxe'] }, '#!ipxe\necho 7\n')).replayed).toBe(true);
    expect(readEmbeddedScript(readFileSync(path.join(out, 'undionly.kpxe'))).script).toBe('#!ipxe\necho 7\n');
  });

  it('cancel during a replay stops the script and its children; the output folder keeps the last build', async () => {
    // The stand-in's link made slow by a flag file outside the tree (the tree's state, which the
    // recording checks, stays as recorded): the replay then runs that sleep.
    const flag = path.join(mkdtempSync(path.join(os.tmpdir(), 'bc-flag-')), 'slow');
    const tree = standIn();
    const mk = path.join(tree, 'src/Makefile');
    writeFileSync(mk, readFileSync(mk, 'utf8').replaceAll('\t@echo "  [LD] $@"', `\t@if [ -f ${flag} ]; then sleep 37; fi\n\t@echo "  [LD] $@"`));
    const out = mkdtempSync(path.join(os.tmpdir(), 'bc-out-'));
    const r = req(tree, out, '#!ipxe\necho before\n');
    await buildIpxe(r, reporter().rep);
    const before = readFileSync(path.join(out, 'undionly.kpxe'));
    writeFileSync(flag, '');
    const ac = new AbortController();
    const x = reporter(ac.signal);
    const p = buildIpxe({ ...r, embed: '#!ipxe\necho after\n' }, x.rep);
    setTimeout(() => ac.abort(), 500);
    await expect(p).rejects.toMatchObject({ appError: { code: 'CANCELLED', message: expect.stringContaining('replaying the link steps') } });
    expect(said(x.logs, /replaying the recorded link steps/)).toBe(true);
    // No sleep of the replay is left running (the whole process group got TERM).
    expect(execFileSync('ps', ['-eo', 'args']).toString()).not.toMatch(/^sleep 37$/m);
    expect(readFileSync(path.join(out, 'undionly.kpxe')).equals(before)).toBe(true);
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
