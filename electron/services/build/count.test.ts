import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { standInTree } from '../../../e2e/support/standin';
import { estimateRemainingMs, formatDuration } from '../../../shared/build';
import { binArchPlatform, binSources, countBuildWork } from './count';
import { buildIpxe, buildPlan, prepareCache, touchLocalHeaders } from './builder';

/** A tree shaped like iPXE's Makefiles: SRCDIRS in src/Makefile and in an included arch Makefile. */
function miniTree(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-count-'));
  const w = (rel: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, 'src', rel)), { recursive: true });
    writeFileSync(path.join(dir, 'src', rel), text);
  };
  w('Makefile', ['SRCDIRS :=', 'SRCDIRS += core \\', '\t   net', 'SRCDIRS += drivers/net # NICs', 'NON_AUTO_SRCS += core/version.c', 'include Makefile.housekeeping', ''].join('\n'));
  w('Makefile.housekeeping', ['ifdef ARCH', 'include arch/$(ARCH)/Makefile', 'endif', '-include $(BIN)/deps/core/main.c.d', ''].join('\n'));
  w('arch/x86_64/Makefile', 'SRCDIRS += arch/x86_64/core\ninclude arch/x86_64/Makefile.$(PLATFORM)\n');
  w('arch/x86_64/Makefile.efi', 'SRCDIRS += arch/x86_64/efi\n');
  w('arch/i386/Makefile', 'SRCDIRS += arch/i386/core\n');
  for (const f of ['core/main.c', 'core/version.c', 'net/tcp.c', 'net/udp.S', 'net/notes.txt', 'arch/x86_64/core/a.c', 'arch/x86_64/efi/b.c', 'arch/i386/core/c.S']) w(f, 'int x;\n');
  w('drivers/net/nic.c', 'static struct pci_device_id ids[] = {\n\tPCI_ROM ( 0x8086, 0x100e, "e1000", "E1000", 0 ),\n};\n');
  w('drivers/net/helper.c', '/* mentions PCI_ROM ( in a comment, not at a line start */ int y;\n');
  return dir;
}

describe('object count from the source tree, before any build', () => {
  it('reads BIN folders as iPXE does', () => {
    expect(binArchPlatform('bin')).toEqual({ arch: 'i386', platform: 'pcbios' });
    expect(binArchPlatform('bin-x86_64-efi')).toEqual({ arch: 'x86_64', platform: 'efi' });
    expect(binArchPlatform('bin-efi')).toEqual({ arch: 'i386', platform: 'efi' });
    expect(binArchPlatform('bin-x86_64-efi-sb')).toEqual({ arch: 'x86_64', platform: 'efi' });
  });

  it('counts SRCDIRS sources minus NON_AUTO_SRCS, per arch, plus one ids object per ROM driver', () => {
    const tree = miniTree();
    const efi = binSources(path.join(tree, 'src'), 'bin-x86_64-efi');
    expect(efi.autoSrcs.sort()).toEqual(['arch/x86_64/core/a.c', 'arch/x86_64/efi/b.c', 'core/main.c', 'drivers/net/helper.c', 'drivers/net/nic.c', 'net/tcp.c', 'net/udp.S']);
    expect(efi.drivers).toEqual(['nic']);
    expect(countBuildWork(tree, ['bin/undionly.kpxe', 'bin-x86_64-efi/snponly.efi', 'bin-x86_64-efi/ipxe.efi'])).toEqual({
      bins: [
        { bin: 'bin', objects: 7, deps: 7 },
        { bin: 'bin-x86_64-efi', objects: 8, deps: 8 },
      ],
      objects: 15,
      deps: 15,
    });
  });

  it('the stand-in tree (CI): the count equals the objects its make compiles, and the first build shows n/total', async () => {
    const tree = standInTree({ objects: 5 });
    expect(countBuildWork(tree, ['bin/undionly.kpxe']).objects).toBe(5);
    const progress: Array<{ phase: string; done?: number; total?: number }> = [];
    const logs: string[] = [];
    const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'bc-count-cache-'));
    const r = await buildIpxe(
      { engine: 'local', sourceDir: tree, sourceVersion: 'stand-in', targets: ['bin/undionly.kpxe'], embed: '#!ipxe\n', options: {}, outDir: mkdtempSync(path.join(os.tmpdir(), 'bc-count-out-')), cacheDir },
      { signal: new AbortController().signal, progress: (p) => progress.push(p), log: (l) => logs.push(l) },
    );
    expect(r.compiled).toBe(5);
    const compile = progress.filter((p) => p.phase === 'compile');
    expect(compile.map((p) => `${p.done}/${p.total}`)).toEqual(['1/5', '2/5', '3/5', '4/5', '5/5']);
    // The cache copy counts its files too (the stand-in: Makefile and 5 sources).
    expect(progress.filter((p) => p.phase === 'prepare' && p.total).at(-1)).toMatchObject({ done: 6, total: 6 });
    expect(logs.filter((l) => l.includes('[BUILD]'))).toHaveLength(5);
    expect(logs.some((l) => l.includes('5 objects to compile'))).toBe(true);
    // Built once: a script-only rebuild expects no compile; a changed option recompiles all.
    const cache = prepareCache(tree, cacheDir);
    expect(buildPlan(cache, ['bin/undionly.kpxe'], false)).toEqual({});
    expect(buildPlan(cache, ['bin/undionly.kpxe'], true)).toEqual({ objects: 5, deps: 6 });
  });
});

describe('one dependency pass on a cold tree', () => {
  it("makes iPXE's config/local headers and .config.list before make, named.h after the list", () => {
    const tree = miniTree();
    mkdirSync(path.join(tree, 'src/config/local'), { recursive: true });
    for (const h of ['general.h', 'console.h', 'named.h']) writeFileSync(path.join(tree, 'src/config', h), '/* */\n');
    writeFileSync(path.join(tree, 'src/config/local/general.h'), '#define X\n');
    touchLocalHeaders(tree, ['bin/undionly.kpxe', 'bin-x86_64-efi/snponly.efi']);
    expect(readFileSync(path.join(tree, 'src/config/local/general.h'), 'utf8')).toBe('#define X\n');
    expect(readFileSync(path.join(tree, 'src/config/local/console.h'), 'utf8')).toBe('');
    for (const bin of ['bin', 'bin-x86_64-efi']) {
      const list = path.join(tree, 'src', bin, '.config.list');
      expect(readFileSync(list, 'utf8')).toBe('\n');
      expect(statSync(path.join(tree, 'src/config/named.h')).mtimeMs).toBeGreaterThan(statSync(list).mtimeMs);
    }
  });
});

describe('estimate', () => {
  it('extrapolates the rate once it means something, in rough words', () => {
    expect(estimateRemainingMs(0, 100, 10000)).toBeUndefined();
    expect(estimateRemainingMs(50, 100, 1000)).toBeUndefined();
    expect(estimateRemainingMs(2, 100, 10000)).toBeUndefined();
    expect(estimateRemainingMs(25, 100, 30000)).toBe(90000);
    expect(estimateRemainingMs(120, 100, 30000)).toBe(0);
    expect([formatDuration(4000), formatDuration(47000), formatDuration(90000), formatDuration(200000)]).toEqual(['a few s', '45 s', '2 min', '3 min']);
  });
});

// Input from outside our generators: iPXE's own tree and its own make. Runs where IPXE_SRC
// points at a tree (iPXE's source cannot be had on CI machines).
const SRC = process.env.IPXE_SRC;
const why = !SRC ? 'IPXE_SRC is not set (point it at an iPXE source tree to check the count against its make)' : !existsSync(path.join(SRC, 'src/Makefile')) ? `IPXE_SRC=${SRC} has no src/Makefile` : undefined;
if (why) process.stdout.write(`SKIP count.test.ts real tree: ${why}\n`);

describe.skipIf(!!why)('object count on the real iPXE tree (IPXE_SRC)', () => {
  it("equals make's own AUTO_SRCS and parserom.pl's DRIVERS for bin and bin-x86_64-efi", { timeout: 120000 }, () => {
    // A copy: make creates $(BIN) and stamps in the tree it runs in.
    const copy = mkdtempSync(path.join(os.tmpdir(), 'bc-count-real-'));
    cpSync(SRC!, copy, { recursive: true, filter: (s) => !s.includes(`${path.sep}.git`) });
    try {
      const src = path.join(copy, 'src');
      for (const bin of ['bin', 'bin-x86_64-efi']) {
        const ours = binSources(src, bin);
        // NEED_DEPS= keeps make from generating the dependency files (the slow part of a dry run).
        const theirs = execFileSync('make', ['-s', '-C', src, `BIN=${bin}`, 'NEED_DEPS=', 'autosrcs'], { encoding: 'utf8' }).trim().split(/\s+/);
        expect([...ours.autoSrcs].sort()).toEqual([...theirs].sort());
        const romSrcs = theirs.filter((s) => s.includes('drivers/'));
        const defs = execFileSync('perl', [path.join(src, 'util/parserom.pl'), ...romSrcs], { cwd: src, encoding: 'utf8', maxBuffer: 64 << 20 });
        const drivers = [...new Set([...defs.matchAll(/^DRIVERS \+= (\S+)$/gm)].map((m) => m[1]))];
        expect([...ours.drivers].sort()).toEqual(drivers.sort());
        process.stdout.write(`real tree ${bin}: ${ours.autoSrcs.length} sources + ${ours.drivers.length} driver id objects = ${ours.autoSrcs.length + ours.drivers.length} objects (make and parserom.pl agree)\n`);
      }
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
