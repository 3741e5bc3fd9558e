import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
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
      const line = `script ${embed.length} bytes (mod 16 = ${rem}): undionly.kpxe ${kpxe.where} ${kpxe.matched === 0 ? 'read back exactly' : 'DIFFERS'}, snponly.efi ${efi.where} ${efi.matched === 0 ? 'read back exactly' : 'DIFFERS'}; ${r.kind} in ${r.durationMs} ms`;
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
    await buildIpxe(
      { engine: 'local', sourceDir: SRC!, sourceVersion: 'IPXE_SRC', targets: ['bin/undionly.kpxe'], embed: `#!ipxe\necho ${marker}\nshell\n`, options: { serialConsole: true }, outDir: dir, cacheDir },
      { signal: new AbortController().signal, progress: () => undefined, log: () => undefined },
    );
    const boot = await bootSlirp({ tftpDir: dir, bootfile: 'undionly.kpxe', until: new RegExp(marker), timeoutMs: 120000 });
    process.stdout.write(`QEMU: marker ${boot.found ? 'seen' : 'NOT seen'} after ${boot.ms} ms; last console lines:\n${boot.output.split(/\r?\n/).filter((l) => l.trim()).slice(-6).join('\n')}\n`);
    expect(boot.found).toBe(true);
  });
});
