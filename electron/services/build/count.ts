/**
 * How much work a build of iPXE is, known from its source tree before the first build: iPXE's
 * Makefile compiles every .c/.S file of its SRCDIRS (Makefile.housekeeping: SRCS, AUTO_SRCS =
 * SRCS minus NON_AUTO_SRCS, one "[BUILD] $(BIN)/<name>.o" each) and generates one dependency file
 * per AUTO_SRC plus core/version.c ("[DEPS]", AUTO_DEPS), and one "[BUILD] $(BIN)/<name>.ids.o"
 * per driver that declares a ROM (BOBJS += $(DRIVERS).ids.o; DRIVERS is what util/parserom.pl
 * finds: a source under drivers/<class>/ with a PCI_ROM/ISA_ROM/... line). SRCDIRS come from src/Makefile and
 * the arch Makefiles it includes for the BIN folder's arch and platform (bin = i386 pcbios,
 * bin-x86_64-efi = x86_64 efi). Read statically, without running make: a dry run of iPXE's
 * Makefile first regenerates those dependency files, which is most of the cold time itself.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Arch and platform of a BIN folder (Makefile.housekeeping: BIN_ARCH, BIN_PLATFORM). */
export function binArchPlatform(bin: string): { arch: string; platform: string } {
  const parts = bin.split('-').slice(1);
  if (parts[parts.length - 1] === 'sb') parts.pop();
  if (parts.length === 1 && parts[0] === 'efi') return { arch: 'i386', platform: 'efi' };
  const arch = parts[0] ?? 'i386';
  return { arch, platform: parts[1] ?? (arch === 'i386' || arch === 'x86_64' ? 'pcbios' : arch.startsWith('riscv') ? 'sbi' : 'none') };
}

/** SRCDIRS and NON_AUTO_SRCS as the Makefiles add them, following `include` for this arch. */
export function makefileSources(srcDir: string, arch: string, platform: string): { srcdirs: string[]; nonAuto: string[] } {
  const srcdirs: string[] = [];
  const nonAuto: string[] = [];
  const seen = new Set<string>();
  const visit = (rel: string) => {
    const file = path.join(srcDir, rel);
    if (seen.has(rel) || !existsSync(file)) return;
    seen.add(rel);
    const text = readFileSync(file, 'utf8').replace(/\\\r?\n/g, ' ');
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.replace(/#.*/, '').trim();
      const add = /^(SRCDIRS|NON_AUTO_SRCS)\s*(\+|:)?=\s*(.*)$/.exec(line);
      if (add) {
        const words = add[3]!.split(/\s+/).filter(Boolean);
        const list = add[1] === 'SRCDIRS' ? srcdirs : nonAuto;
        if (add[2] !== '+') list.length = 0;
        list.push(...words);
        continue;
      }
      const inc = /^-?include\s+(.+)$/.exec(line);
      if (!inc) continue;
      for (const w of inc[1]!.split(/\s+/)) {
        const name = w.replace(/\$\(ARCH\)/g, arch).replace(/\$\(PLATFORM\)/g, platform);
        // Includes of generated files ($(BIN)/deps/..., $(BIN)/.rom.list) are not sources.
        if (!name.includes('$')) visit(name);
      }
    }
  };
  visit('Makefile');
  return { srcdirs: [...new Set(srcdirs)], nonAuto };
}

/** util/parserom.pl's find_rom_line: a ROM declaration at the start of a line. */
const ROM_LINE = /^\s*((PCI|ISA|USB|DT|EFI|LINUX|XEN|VMBUS)_ROM\s*\(\s*(.*?)\s*\)\s*)[,;]/ms;

/** The work of one BIN folder: objects compiled ([BUILD] lines) and dependency files ([DEPS]). */
export interface BinWork {
  bin: string;
  objects: number;
  deps: number;
}

/** AUTO_SRCS of one BIN folder (paths relative to src/) and the drivers parserom.pl finds in them. */
export function binSources(src: string, bin: string): { autoSrcs: string[]; drivers: string[] } {
  const { arch, platform } = binArchPlatform(bin);
  const { srcdirs, nonAuto } = makefileSources(src, arch, platform);
  const skip = new Set(nonAuto);
  const autoSrcs: string[] = [];
  const drivers = new Set<string>();
  // Makefile.housekeeping: SRCS is every dir's *.c, then every dir's *.S.
  for (const ext of ['c', 'S']) {
    for (const d of srcdirs) {
      let names: string[];
      try {
        names = readdirSync(path.join(src, d)).sort();
      } catch {
        continue;
      }
      for (const n of names) {
        const rel = `${d}/${n}`;
        if (!n.endsWith(`.${ext}`) || skip.has(rel)) continue;
        autoSrcs.push(rel);
        // parserom.pl reads only ROM_SRCS (AUTO_SRCS under drivers/) with a driver class.
        if (/drivers\/\w+?\//.test(rel) && ROM_LINE.test(readFileSync(path.join(src, rel), 'latin1'))) drivers.add(n.replace(/\.[^.]+$/, ''));
      }
    }
  }
  return { autoSrcs, drivers: [...drivers] };
}

/** Objects and dependency files a cold build of these targets makes, per BIN folder. */
export function countBuildWork(sourceDir: string, targets: readonly string[]): { bins: BinWork[]; objects: number; deps: number } {
  const src = path.join(sourceDir, 'src');
  const bins = [...new Set(targets.map((t) => t.split('/')[0]!))];
  const out: BinWork[] = bins.map((bin) => {
    const { autoSrcs, drivers } = binSources(src, bin);
    return { bin, objects: autoSrcs.length + drivers.length, deps: autoSrcs.length + 1 };
  });
  return { bins: out, objects: out.reduce((a, b) => a + b.objects, 0), deps: out.reduce((a, b) => a + b.deps, 0) };
}
