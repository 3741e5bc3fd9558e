import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bootSlirp, haveQemu } from '../../../e2e/support/qemu';
import { sampleProject } from '../../../shared/gen/fixtures';
import { embedScript } from '../../../shared/gen/ipxe';
import { loadProject } from '../../../shared/model/project';
import { ensureBaseImage, podmanArgs, podmanSkipReason } from '../../../e2e/support/podman';
import { buildIpxe } from './builder';
import { ensureImage } from './container';
import { readEmbeddedScript } from './readback';
import { RECORDING_FILE } from './replay';

// The real iPXE compile. iPXE's source cannot be installed on CI machines, so this runs only
// where IPXE_SRC points at an iPXE tree (bring it with the search tool's fetch, outside the repo).
const SRC = process.env.IPXE_SRC;
const why = !SRC ? 'IPXE_SRC is not set (point it at an iPXE source tree to compile for real)' : !existsSync(path.join(SRC, 'src/Makefile')) ? `IPXE_SRC=${SRC} has no src/Makefile` : undefined;
if (why) process.stdout.write(`SKIP ipxe.real.test.ts: ${why}\n`);

describe.skipIf(!!why)('real iPXE build (IPXE_SRC)', () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'bc-real-out-'));
  const cacheDir = path.join(os.tmpdir(), 'bootchain-ipxe-cache');

  it('builds undionly.kpxe and snponly.efi with the generated embed script and reads it back', { timeout: 600000 }, async () => {
    const p = loadProject(sampleProject());
    if (!p.ok) throw new Error('sample project');
    const embed = embedScript(p.value);
    const logs: string[] = [];
    const r = await buildIpxe(
      { engine: 'local', sourceDir: SRC!, sourceVersion: 'IPXE_SRC', targets: ['bin/undionly.kpxe', 'bin-x86_64-efi/snponly.efi'], embed, options: { serialConsole: true }, outDir: out, cacheDir },
      { signal: new AbortController().signal, progress: () => undefined, log: (l) => logs.push(l) },
    );
    process.stdout.write(`real build: ${r.kind}, ${r.compiled} objects compiled, ${r.durationMs} ms\n`);
    expect(r.artifacts.map((a) => [a.file, a.embeddedVerified])).toEqual([
      ['undionly.kpxe', true],
      ['snponly.efi', true],
    ]);
    const kpxe = readEmbeddedScript(readFileSync(path.join(out, 'undionly.kpxe')));
    expect(kpxe.where).toBe('lzma');
    expect(kpxe.script).toBe(embed);
  });

  it('reads back scripts of every length mod 16 from undionly.kpxe (LZMA) and snponly.efi (plain)', { timeout: 1200000 }, async () => {
    const p = loadProject(sampleProject());
    if (!p.ok) throw new Error('sample project');
    const base = embedScript(p.value);
    const lines: string[] = [];
    for (let rem = 0; rem < 16; rem++) {
      // The project's script with a comment padding it to this remainder (iPXE aligns what
      // follows the .incbin: only some lengths got a zero byte after them).
      const pad = (rem - ((base.length + 3) % 16) + 16) % 16;
      const embed = `${base}# ${'x'.repeat(pad)}\n`;
      expect(embed.length % 16).toBe(rem);
      const r = await buildIpxe(
        { engine: 'local', sourceDir: SRC!, sourceVersion: 'IPXE_SRC', targets: ['bin/undionly.kpxe', 'bin-x86_64-efi/snponly.efi'], embed, options: { serialConsole: true }, outDir: out, cacheDir },
        { signal: new AbortController().signal, progress: () => undefined, log: () => undefined },
      );
      const kpxe = readEmbeddedScript(readFileSync(path.join(out, 'undionly.kpxe')), [embed]);
      const efi = readEmbeddedScript(readFileSync(path.join(out, 'snponly.efi')), [embed]);
      const line = `script ${embed.length} bytes (mod 16 = ${rem}): undionly.kpxe ${kpxe.where} ${kpxe.matched === 0 ? 'read back exactly' : 'DIFFERS'}, snponly.efi ${efi.where} ${efi.matched === 0 ? 'read back exactly' : 'DIFFERS'}; ${r.replayed ? 'replayed' : r.kind} in ${r.durationMs} ms`;
      lines.push(line);
      process.stdout.write(`${line}\n`);
      expect(r.artifacts.map((a) => [a.file, a.embeddedVerified])).toEqual([
        ['undionly.kpxe', true],
        ['snponly.efi', true],
      ]);
      expect([kpxe.where, kpxe.matched, efi.where, efi.matched]).toEqual(['lzma', 0, 'plain', 0]);
    }
    expect(lines).toHaveLength(16);
  });

  it('a script-only rebuild by replay gives the bytes make gives for that script (undionly.kpxe, snponly.efi, blib.a)', { timeout: 1200000 }, async () => {
    // iPXE's build timestamp is `date +%s` unless SOURCE_DATE_EPOCH is set: fixed here so make and
    // the replay can be compared byte for byte. The reference is make in the same cache: the
    // build ID is a checksum of blib.a, whose debug info carries the tree's absolute path, so a
    // copy of the tree elsewhere would differ in those 4 bytes alone.
    const saved = process.env.SOURCE_DATE_EPOCH;
    process.env.SOURCE_DATE_EPOCH = '1700000000';
    try {
      const targets = ['bin/undionly.kpxe', 'bin-x86_64-efi/snponly.efi'] as const;
      const rq = { engine: 'local' as const, sourceDir: SRC!, sourceVersion: 'IPXE_SRC', targets: [...targets], options: { serialConsole: true }, outDir: out, cacheDir };
      const logs: string[] = [];
      const rep = { signal: new AbortController().signal, progress: () => undefined, log: (l: string) => logs.push(l) };
      const cache = () => path.join(cacheDir, readdirSync(cacheDir).find((d) => d.startsWith('src-') && !d.includes('.tmp'))!);
      // Script A by make (no recording: make runs and records).
      await buildIpxe({ ...rq, embed: '#!ipxe\necho script A\n' }, rep).catch(() => undefined);
      rmSync(path.join(cache(), RECORDING_FILE), { force: true });
      const a = await buildIpxe({ ...rq, embed: '#!ipxe\necho script A, by make\n' }, rep);
      expect(a.replayed).toBe(false);
      const scriptB = '#!ipxe\necho script B: replayed, then made\ndhcp\n';
      const b = await buildIpxe({ ...rq, embed: scriptB }, rep);
      expect(b.replayed).toBe(true);
      expect(b.artifacts.map((x) => [x.file, x.embeddedVerified])).toEqual([['undionly.kpxe', true], ['snponly.efi', true]]);
      const keep = mkdtempSync(path.join(os.tmpdir(), 'bc-real-replayed-'));
      for (const f of ['bin/undionly.kpxe', 'bin-x86_64-efi/snponly.efi', 'bin/blib.a', 'bin-x86_64-efi/blib.a']) copyFileSync(path.join(cache(), 'src', f), path.join(keep, f.replace('/', '_')));
      // Script B again, by make: no recording, and the script newer than everything built from it.
      rmSync(path.join(cache(), RECORDING_FILE));
      const embed = path.join(cacheDir, 'embed', `embed-${path.basename(cache())}.ipxe`);
      utimesSync(embed, new Date(Date.now() + 2000), new Date(Date.now() + 2000));
      const m = await buildIpxe({ ...rq, embed: scriptB }, rep);
      expect(m.replayed).toBe(false);
      const lines: string[] = [];
      for (const f of ['bin/undionly.kpxe', 'bin-x86_64-efi/snponly.efi', 'bin/blib.a', 'bin-x86_64-efi/blib.a']) {
        const same = readFileSync(path.join(cache(), 'src', f)).equals(readFileSync(path.join(keep, f.replace('/', '_'))));
        lines.push(`${f}: ${same ? 'identical' : 'DIFFERS'}`);
        expect(same, f).toBe(true);
      }
      process.stdout.write(`replay vs make for the same script (SOURCE_DATE_EPOCH=1700000000): ${lines.join(', ')}; replay ${b.durationMs} ms, make ${m.durationMs} ms\n`);
      rmSync(keep, { recursive: true, force: true });
    } finally {
      if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
      else process.env.SOURCE_DATE_EPOCH = saved;
    }
  });

  const podmanWhy = podmanSkipReason();
  it.skipIf(!!podmanWhy)('builds the same in the podman container and reads the script back', { timeout: 900000 }, async () => {
    const args = podmanArgs();
    const { tag } = await ensureImage('podman', args, { signal: new AbortController().signal, progress: () => undefined, log: () => undefined }, { base: await ensureBaseImage(args) });
    const p = loadProject(sampleProject());
    if (!p.ok) throw new Error('sample project');
    const embed = embedScript(p.value);
    const podOut = mkdtempSync(path.join(os.tmpdir(), 'bc-real-pod-'));
    const r = await buildIpxe(
      { engine: 'podman', engineArgs: args, image: tag, sourceDir: SRC!, sourceVersion: 'IPXE_SRC', targets: ['bin/undionly.kpxe', 'bin-x86_64-efi/snponly.efi'], embed, options: { serialConsole: true }, outDir: podOut, cacheDir: path.join(os.tmpdir(), 'bootchain-ipxe-cache-podman') },
      { signal: new AbortController().signal, progress: () => undefined, log: () => undefined },
    );
    process.stdout.write(`real build in podman: ${r.kind}, ${r.compiled} objects, ${r.durationMs} ms\n`);
    expect(r.artifacts.every((a) => a.embeddedVerified)).toBe(true);
  });

  it.skipIf(!haveQemu())('the built undionly.kpxe boots in QEMU and runs its embedded script', { timeout: 600000 }, async () => {
    const marker = `BOOTCHAIN-EMBED-${Date.now()}`;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-qemu-tftp-'));
    const built = await buildIpxe(
      { engine: 'local', sourceDir: SRC!, sourceVersion: 'IPXE_SRC', targets: ['bin/undionly.kpxe'], embed: `#!ipxe\necho ${marker}\nshell\n`, options: { serialConsole: true }, outDir: dir, cacheDir },
      { signal: new AbortController().signal, progress: () => undefined, log: () => undefined },
    );
    const boot = await bootSlirp({ tftpDir: dir, bootfile: 'undionly.kpxe', until: new RegExp(marker), timeoutMs: 120000 });
    process.stdout.write(`booted a build ${built.replayed ? 'made by replaying the recorded link steps' : 'made by make'}\n`);
    process.stdout.write(`QEMU: marker ${boot.found ? 'seen' : 'NOT seen'} after ${boot.ms} ms; last console lines:\n${boot.output.split(/\r?\n/).filter((l) => l.trim()).slice(-6).join('\n')}\n`);
    expect(boot.found).toBe(true);
  });
});
