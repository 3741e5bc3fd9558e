/**
 * A STAND-IN iPXE source tree for tests where iPXE's own source cannot be had (CI): its
 * Makefile prints iPXE-style [BUILD]/[LD] lines, rebuilds objects only when sources change, and
 * links the EMBED file into each target the way iPXE does (no terminator, data right after it;
 * LZMA-packed in undionly.kpxe when xz is installed).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * `dropEmbed`: link without the script, like an iPXE tree whose EMBED handling changed (the
 * build succeeds, the read-back finds nothing).
 */
export function standInTree(opts: { objects?: number; slowSeconds?: number; broken?: boolean; compiler?: string; dropEmbed?: boolean } = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-standin-'));
  mkdirSync(path.join(dir, 'src/include/ipxe'), { recursive: true });
  for (let i = 0; i < (opts.objects ?? 8); i++) writeFileSync(path.join(dir, `src/core${i}.c`), `int f${i} = ${i};\n`);
  // The body as iPXE links it: strings, then the script with no terminator and data right after
  // it (src/image/embedded.c: .incbin into .data). The BIOS image packs its body the way zbin
  // does (raw LZMA1, lc=2 lp=0 pb=0) when xz is there; EFI images hold it plain.
  const body = `printf 'STAND-IN iPXE 2.0.0+ http://ipxe.org/ \\000'; ${opts.dropEmbed ? 'true' : 'cat $(EMBED)'}; printf '\\214\\037\\001\\200'; head -c 4096 /dev/zero`;
  const link = (t: string, packed: boolean) =>
    [
      `${t}: $(OBJS) $(EMBED)`,
      '\t@mkdir -p $(dir $@)',
      '\t@echo "  [LD] $@"',
      packed ? `\t@if command -v xz >/dev/null; then printf 'STAND-IN prefix\\353\\074' > $@; (${body}) | xz --format=raw --lzma1=preset=6,lc=2,lp=0,pb=0 -c >> $@; else (${body}) > $@; fi` : `\t@(${body}) > $@`,
      '',
    ].join('\n');
  writeFileSync(
    path.join(dir, 'src/Makefile'),
    [
      // SRCDIRS as iPXE's Makefile lists them, so the build's object count reads this tree too.
      'SRCDIRS := .',
      'OBJS := $(patsubst ./%.c,bin/%.o,$(wildcard $(patsubst %,%/*.c,$(SRCDIRS))))',
      'bin/%.o: %.c',
      '\t@mkdir -p bin',
      opts.slowSeconds ? `\t@sleep ${opts.slowSeconds}` : '\t@true',
      opts.broken ? '\t@echo "core0.c:1: error: stand-in failure"; exit 1' : '\t@true',
      '\t@echo "  [BUILD] $@"',
      opts.compiler ? `\t@${opts.compiler} -c $< -o $@` : '\t@cp $< $@',
      link('bin/undionly.kpxe', true),
      link('bin-x86_64-efi/snponly.efi', false),
      link('bin-x86_64-efi/ipxe.efi', false),
    ].join('\n'),
  );
  return dir;
}
