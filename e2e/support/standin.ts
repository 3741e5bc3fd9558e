/**
 * A STAND-IN iPXE source tree for tests where iPXE's own source cannot be had (CI): its
 * Makefile prints iPXE-style [BUILD]/[LD] lines, rebuilds objects only when sources change, and
 * links the EMBED file into each target the way iPXE does (read back as plain text).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function standInTree(opts: { objects?: number; slowSeconds?: number; broken?: boolean; compiler?: string } = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-standin-'));
  mkdirSync(path.join(dir, 'src/include/ipxe'), { recursive: true });
  for (let i = 0; i < (opts.objects ?? 8); i++) writeFileSync(path.join(dir, `src/core${i}.c`), `int f${i} = ${i};\n`);
  const link = (t: string) =>
    [`${t}: $(OBJS) $(EMBED)`, '\t@mkdir -p $(dir $@)', '\t@echo "  [LD] $@"', "\t@printf 'STAND-IN iPXE http://ipxe.org/ \\000' > $@", '\t@cat $(EMBED) >> $@', "\t@printf '\\000' >> $@", ''].join('\n');
  writeFileSync(
    path.join(dir, 'src/Makefile'),
    [
      'OBJS := $(patsubst %.c,bin/%.o,$(wildcard *.c))',
      'bin/%.o: %.c',
      '\t@mkdir -p bin',
      opts.slowSeconds ? `\t@sleep ${opts.slowSeconds}` : '\t@true',
      opts.broken ? '\t@echo "core0.c:1: error: stand-in failure"; exit 1' : '\t@true',
      '\t@echo "  [BUILD] $@"',
      opts.compiler ? `\t@${opts.compiler} -c $< -o $@` : '\t@cp $< $@',
      link('bin/undionly.kpxe'),
      link('bin-x86_64-efi/snponly.efi'),
      link('bin-x86_64-efi/ipxe.efi'),
    ].join('\n'),
  );
  return dir;
}
