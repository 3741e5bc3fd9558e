import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDryRun, patchArchiveMember, recordingProblem, replayDecision, replayScript, type Recording, type ReplayState } from './replay';

const state: ReplayState = { engine: 'local', image: '', targets: ['bin/undionly.kpxe'], embed: '/c/embed/e.ipxe', fingerprint: 'f1' };
const rec = (over: Partial<Recording> = {}): Recording => ({ format: 1, engine: 'local', image: '', targets: ['bin/undionly.kpxe'], embed: '/c/embed/e.ipxe', fingerprint: 'f1', blocks: [], ...over });

describe('replay decision: only a script change replays', () => {
  it('replays when engine, image, targets, script file and cache state are those recorded', () => {
    expect(replayDecision(rec(), state)).toEqual({ replay: true });
  });
  it.each([
    ['no recording', undefined, /no recorded link steps/],
    ['another format', rec({ format: 0 }), /another Bootchain version/],
    ['another engine', rec({ engine: 'podman', image: 'localhost/x:1' }), /recorded with podman \(localhost\/x:1\)/],
    ['another image', rec({ image: 'localhost/x:2' }), /recorded with local/],
    ['other targets', rec({ targets: ['bin/undionly.kpxe', 'bin-x86_64-efi/snponly.efi'] }), /recorded for bin\/undionly.kpxe, bin-x86_64-efi\/snponly.efi/],
    ['the script file moved', rec({ embed: '/elsewhere.ipxe' }), /script file moved/],
    ['a stale recording (the cache changed)', rec({ fingerprint: 'f0' }), /build cache changed/],
  ])('%s: make', (_what, r, reason) => {
    const d = replayDecision(r, state);
    expect(d.replay).toBe(false);
    expect(!d.replay && d.reason).toMatch(reason);
  });
});

// make -n output shaped as iPXE v2.0.0 prints it (one sub-make per BIN, continuation lines,
// the [DEPS] output of a dependency file make regenerated while parsing, its own messages).
const DRY = [
  "make: Entering directory '/c/src'",
  'make -W /c/embed/e.ipxe --no-print-directory BIN=bin \\',
  '    bin/undionly.kpxe',
  '  [DEPS] image/embedded.c',
  'echo "  [BUILD] bin/embedded.o"',
  'gcc -DEMBED_ALL="EMBED ( 1, \\"/c/embed/e.ipxe\\", \\"e.ipxe\\" )" -c image/embedded.c -o bin/embedded.o',
  'rm -f bin/blib.a',
  'echo "  [AR] bin/blib.a"',
  'ar rcD bin/blib.a bin/a.o bin/embedded.o bin/z.o',
  'objcopy --enable-deterministic-archives \\',
  '\t       --prefix-symbols= bin/blib.a',
  'ranlib -D bin/blib.a',
  'ld -T x.lds bin/version.undionly.kpxe.o bin/blib.a -o bin/undionly.kpxe.tmp \\',
  '\t--defsym _build_id=@@BCID bin/version.undionly.kpxe.o bin/blib.a Makefile @@ \\',
  '\t--defsym _build_timestamp=@@BCTS@@',
  'cp bin/undionly.kpxe.zbin bin/undionly.kpxe',
  "make: Leaving directory '/c/src'",
  '',
].join('\n');

describe('recording', () => {
  it('parses the dry run into sub-makes with joined lines, without make’s own output', () => {
    const blocks = parseDryRun(DRY);
    expect(blocks.map((b) => [b.bin, b.commands.length])).toEqual([['bin', 9]]);
    expect(blocks[0]!.commands[5]).toBe('objcopy --enable-deterministic-archives \\\n\t       --prefix-symbols= bin/blib.a');
    expect(recordingProblem(blocks, ['bin/undionly.kpxe'], '/c/embed/e.ipxe')).toBeUndefined();
    expect(recordingProblem(blocks, ['bin/undionly.kpxe', 'bin-x86_64-efi/snponly.efi'], '/c/embed/e.ipxe')).toMatch(/no recorded command writes bin-x86_64-efi\/snponly.efi/);
    expect(recordingProblem(blocks, ['bin/undionly.kpxe'], '/other.ipxe')).toMatch(/no recorded command reads the script/);
    expect(recordingProblem(parseDryRun("make[1]: 'bin/undionly.kpxe' is up to date.\n"), ['bin/undionly.kpxe'], '/c/embed/e.ipxe')).toMatch(/no commands/);
  });

  it('the replay fills in timestamp and build ID as make does and patches the archive halfway', () => {
    const { script, archives } = replayScript(rec({ blocks: parseDryRun(DRY) }), 1700000000);
    expect(archives).toEqual([{ archive: 'bin/blib.a', object: 'bin/embedded.o', processed: 'bin/.bootchain-embedded.o' }]);
    expect(script).toContain("--defsym _build_id=$(cat bin/version.undionly.kpxe.o bin/blib.a Makefile | cksum | awk '{print $1}')");
    expect(script).toContain('_build_timestamp=1700000000');
    expect(script).not.toMatch(/@@BCID|@@BCTS/);
    // Before the answer: embedded.o and its processed copy; ar and ranlib only for an archive the host could not patch.
    const [before, after] = script.split('echo @@BC-PATCH');
    expect(before).toContain('-o bin/embedded.o');
    expect(before).toContain('objcopy --enable-deterministic-archives \\\n\t       --prefix-symbols= bin/embedded.o bin/.bootchain-embedded.o');
    expect(before).not.toContain('ar rcD');
    expect(after).toMatch(/case " \$bc_full " in \*' bin\/blib\.a '\*\)\nrm -f bin\/blib\.a\nar rcD/);
  });
});

// Real binutils: an archive as iPXE makes blib.a (ar rcD, objcopy over the archive, ranlib -D),
// then one member replaced by patchArchiveMember, against the archive ar makes from scratch.
const tools = ['gcc', 'ar', 'ranlib', 'objcopy', 'nm'].every((t) => existsSync(`/usr/bin/${t}`));
if (!tools) process.stdout.write('SKIP archive patch test: gcc/binutils are not installed (.ci/run installs them)\n');

describe.skipIf(!tools)('archive member patch (binutils)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-ar-'));
  const sh = (args: string[]) => execFileSync(args[0]!, args.slice(1), { cwd: dir });
  const compile = (name: string, body: string) => {
    writeFileSync(path.join(dir, `${name}.c`), body);
    sh(['gcc', '-c', `${name}.c`, '-o', `${name}.o`]);
  };
  const archive = (file: string) => {
    sh(['ar', 'rcD', file, 'a.o', 'embedded.o', 'z.o']);
    sh(['objcopy', '--enable-deterministic-archives', '--prefix-symbols=', file]);
    sh(['ranlib', '-D', file]);
  };
  const symbols = (obj: string) => sh(['nm', '-g', '--defined-only', obj]).toString().trim().split('\n').map((l) => l.split(' ')[2]!);

  it.each([
    ['a longer script (odd size)', 'char embedded_data[] = "a longer script, of odd length!!";\nint obj_embedded;\n'],
    ['a shorter one', 'char embedded_data[] = "s";\nint obj_embedded;\n'],
  ])('%s: the same bytes as ar from scratch', (_what, body) => {
    compile('a', 'int a_fn(void) { return 1; }\nint obj_a;\n');
    compile('z', 'int z_fn(void) { return 2; }\nint obj_z;\n');
    compile('embedded', 'char embedded_data[] = "#!ipxe\\necho one\\n";\nint obj_embedded;\n');
    archive('old.a');
    compile('embedded', body);
    sh(['objcopy', '--prefix-symbols=', 'embedded.o', 'processed.o']);
    sh(['cp', 'old.a', 'patched.a']);
    patchArchiveMember(path.join(dir, 'patched.a'), 'embedded.o', readFileSync(path.join(dir, 'processed.o')), symbols('processed.o'));
    archive('fresh.a');
    expect(readFileSync(path.join(dir, 'patched.a')).equals(readFileSync(path.join(dir, 'fresh.a')))).toBe(true);
  });

  it('refuses a member whose symbols differ from the index (the index would be wrong)', () => {
    compile('a', 'int a_fn(void) { return 1; }\n');
    compile('z', 'int z_fn(void) { return 2; }\n');
    compile('embedded', 'char embedded_data[] = "x";\n');
    archive('old.a');
    compile('embedded', 'char embedded_data[] = "x";\nint extra_symbol;\n');
    expect(() => patchArchiveMember(path.join(dir, 'old.a'), 'embedded.o', readFileSync(path.join(dir, 'embedded.o')), symbols('embedded.o'))).toThrow(/not those indexed/);
    expect(() => patchArchiveMember(path.join(dir, 'old.a'), 'missing.o', Buffer.alloc(1), [])).toThrow(/not a member/);
  });
});
