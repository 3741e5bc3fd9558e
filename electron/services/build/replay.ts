/**
 * Script-only rebuilds without re-entering iPXE's Makefile: after a make build, the commands
 * make would run when only the embedded script is newer are recorded (`make -n -W <script>`),
 * with the tree's state; when only the script changed since, they are replayed as one shell
 * script (embedded.o, the archive, the link, objcopy/zbin/elf2efi), else make runs again.
 */
import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sha256 } from '../bootfiles/hash';

/** Placeholders make prints instead of values that belong to the moment of the link. */
const ID_OPEN = '@@BCID';
const ID_CLOSE = '@@';
const TIMESTAMP = '@@BCTS@@';
/** Recording format; a recording of another version is stale. */
const FORMAT = 1;
export const RECORDING_FILE = '.bootchain-replay.json';

/**
 * Variables given to the recording `make -n`: iPXE computes the build ID as a checksum of the
 * link's inputs ($^) and the timestamp with `date` (Makefile.housekeeping, BUILD_ID_CMD and
 * BUILD_TIMESTAMP) while it parses; recorded as placeholders, both are computed at replay.
 */
export const RECORD_VARS = [`BUILD_ID_CMD=echo ${ID_OPEN} $^ ${ID_CLOSE}`, `BUILD_TIMESTAMP=${TIMESTAMP}`];

/** One sub-make's commands (iPXE runs one per BIN folder; a flat Makefile has one, bin ''). */
export interface RecordedBlock {
  bin: string;
  commands: string[];
}

/** What was recorded, and the state of the build cache it is valid for. */
export interface Recording {
  format: number;
  engine: string;
  image: string;
  targets: string[];
  embed: string;
  fingerprint: string;
  blocks: RecordedBlock[];
}

/** The build the decision is asked about. */
export interface ReplayState {
  engine: string;
  image: string;
  targets: readonly string[];
  embed: string;
  fingerprint: string;
}

export type ReplayDecision = { replay: true } | { replay: false; reason: string };

/**
 * Parses `make -n` output into commands per sub-make: continuation lines joined, the output of
 * what make really ran while remaking its dependency files ([DEPS] lines) and make's own
 * messages left out.
 */
export function parseDryRun(text: string): RecordedBlock[] {
  const blocks: RecordedBlock[] = [{ bin: '', commands: [] }];
  let cur: string | undefined;
  for (const line of text.split('\n')) {
    if (cur !== undefined) {
      cur += `\n${line}`;
      if (line.endsWith('\\')) continue;
    } else if (line.endsWith('\\')) {
      cur = line;
      continue;
    } else cur = line;
    const cmd = cur;
    cur = undefined;
    if (!cmd.trim() || /^\s+\[[A-Z]+\] /.test(cmd) || /^make(\[\d+\])?: /.test(cmd)) continue;
    const sub = /--no-print-directory BIN=(\S+)/.exec(cmd);
    if (sub) blocks.push({ bin: sub[1]!, commands: [] });
    else blocks[blocks.length - 1]!.commands.push(cmd);
  }
  return blocks.filter((b) => b.commands.length > 0);
}

/** Why a recording cannot stand for these targets and this script (undefined: it can). */
export function recordingProblem(blocks: RecordedBlock[], targets: readonly string[], embed: string): string | undefined {
  const all = blocks.flatMap((b) => b.commands);
  if (all.length === 0) return 'make printed no commands for a newer script';
  if (!all.some((c) => c.includes(embed))) return 'no recorded command reads the script';
  const missing = targets.find((t) => !all.some((c) => c.includes(t)));
  if (missing) return `no recorded command writes ${missing}`;
  for (const c of all) {
    for (const m of c.matchAll(new RegExp(`${ID_OPEN} (.*?) ${ID_CLOSE}`, 'g'))) if (!/^[\w./+-]+( [\w./+-]+)*$/.test(m[1]!)) return `unexpected build-ID inputs: ${m[1]}`;
  }
  return undefined;
}

/** Files a script-only rebuild rewrites (make's and the replay's), left out of the fingerprint. */
function rewritten(rel: string, targets: readonly string[]): boolean {
  return targets.some((t) => {
    const bin = path.posix.dirname(t);
    const name = path.posix.basename(t);
    return (
      rel === t ||
      rel.startsWith(`${t}.`) ||
      rel === `${bin}/version.${name}.o` ||
      rel === `${bin}/embedded.o` ||
      rel === `${bin}/.bootchain-embedded.o` ||
      rel.startsWith(`${bin}/blib.a`) ||
      rel === `${bin}/deps/image/embedded.c.d`
    );
  });
}

/**
 * The state of everything under the cache's src/ except what a script-only rebuild rewrites:
 * path, size and modification time of each file. Options (config/local), sources, objects,
 * Makefiles and tools all count; a change in any of them sends the build to make.
 */
export function treeFingerprint(cache: string, targets: readonly string[]): string {
  const src = path.join(cache, 'src');
  const rows: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(dir, e.name), r);
      else if (!rewritten(r, targets)) {
        const st = statSync(path.join(dir, e.name));
        rows.push(`${r}\0${st.size}\0${st.mtimeMs}`);
      }
    }
  };
  walk(src, '');
  return sha256(rows.sort().join('\n'));
}

/** Reads the cache's recording (undefined when missing or unreadable). */
export function loadRecording(cache: string): Recording | undefined {
  const file = path.join(cache, RECORDING_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Recording;
  } catch {
    return undefined;
  }
}

/** Writes the recording (after a make build and its dry run). */
export function saveRecording(cache: string, rec: Recording): void {
  const file = path.join(cache, RECORDING_FILE);
  writeFileSync(`${file}.tmp`, JSON.stringify(rec));
  renameSync(`${file}.tmp`, file);
}

/** Replay only when nothing but the script changed since the recording; else why not. */
export function replayDecision(rec: Recording | undefined, now: ReplayState): ReplayDecision {
  if (!rec) return { replay: false, reason: 'no recorded link steps for this build cache yet' };
  if (rec.format !== FORMAT) return { replay: false, reason: 'the recorded link steps are from another Bootchain version' };
  if (rec.engine !== now.engine || rec.image !== now.image) return { replay: false, reason: `the link steps were recorded with ${rec.engine}${rec.image ? ` (${rec.image})` : ''}` };
  if (rec.targets.join(' ') !== now.targets.join(' ')) return { replay: false, reason: `the link steps were recorded for ${rec.targets.join(', ')}` };
  if (rec.embed !== now.embed) return { replay: false, reason: 'the script file moved' };
  if (rec.fingerprint !== now.fingerprint) return { replay: false, reason: 'the build cache changed since the link steps were recorded (options, sources or objects)' };
  return { replay: true };
}

/** Makes a recording from make's dry-run output, or says why it cannot be one. */
export function makeRecording(dryRun: string, state: ReplayState): Recording | string {
  const blocks = parseDryRun(dryRun);
  const problem = recordingProblem(blocks, state.targets, state.embed);
  if (problem) return problem;
  return { format: FORMAT, engine: state.engine, image: state.image, targets: [...state.targets], embed: state.embed, fingerprint: state.fingerprint, blocks };
}

/** A recorded archive step the replay can do by replacing one member (see patchArchiveMember). */
export interface ArchiveStep {
  /** The archive, relative to src/ (e.g. bin/blib.a). */
  archive: string;
  /** The object whose new copy replaces its member (bin/embedded.o). */
  object: string;
  /** The member processed as make's objcopy processes the archive (bin/.bootchain-embedded.o). */
  processed: string;
}

/** The shell script of a replay, and the archive members the host patches halfway. */
export interface ReplayScript {
  script: string;
  archives: ArchiveStep[];
}

/** Line the script prints when the processed members are ready; it then waits for a reply. */
export const PATCH_MARK = '@@BC-PATCH';
/** The FIFO in the cache (beside src/) the script reads the reply from. */
export const REPLY_FIFO = '.bootchain-reply';
/** Prefix of the lines carrying a processed member's symbols (nm -g --defined-only). */
export const SYMBOLS_MARK = '@@BCNM';

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The replay as one POSIX shell script, run in src/ (make runs each recipe line with /bin/sh the
 * same way; the lines are make's own, printed by the dry run). Timestamp and build ID are
 * filled in as make computes them. iPXE rebuilds blib.a from every object when embedded.o
 * changes (ar, objcopy, ranlib: ~1.8 s of a ~2.2 s relink): the script instead makes the one
 * member as make's objcopy would, prints PATCH_MARK and reads a line from REPLY_FIFO; the host replaces the
 * member in place (patchArchiveMember) and answers with the archives it could not patch,
 * which the script then rebuilds with make's own lines. The sub-makes' links run in parallel.
 */
export function replayScript(rec: Recording, timestamp: number): ReplayScript {
  const fill = (c: string) =>
    c.replaceAll(TIMESTAMP, String(timestamp)).replace(new RegExp(`${ID_OPEN} (.*?) ${ID_CLOSE}`, 'g'), (_m, files: string) => `$(cat ${files} | cksum | awk '{print $1}')`);
  const archives: ArchiveStep[] = [];
  const first: string[] = [];
  const second: string[] = [];
  rec.blocks.forEach((b, i) => {
    const cmds = b.commands.map(fill);
    const arAt = cmds.findIndex((c) => /^ar\s+\S*\s+(\S+\.a)\s/.test(c));
    const archive = arAt >= 0 ? /^ar\s+\S*\s+(\S+\.a)\s/.exec(cmds[arAt]!)![1]! : undefined;
    const object = archive ? `${path.posix.dirname(archive)}/embedded.o` : undefined;
    // The group: the contiguous commands around `ar` naming the archive (rm, echo [AR], ar, objcopy, ranlib).
    let from = arAt;
    let to = arAt;
    if (archive) {
      while (from > 0 && cmds[from - 1]!.includes(archive)) from--;
      while (to + 1 < cmds.length && cmds[to + 1]!.includes(archive)) to++;
    }
    const objcopy = archive ? cmds.slice(from, to + 1).find((c) => /^\S*objcopy\s/.test(c) && c.trimEnd().endsWith(archive)) : undefined;
    if (!archive || !object || !objcopy || !cmds[arAt]!.split(/\s+/).includes(object) || !cmds.slice(0, from).some((c) => c.includes(`-o ${object}`))) {
      // Nothing to patch: the block replays as recorded.
      second.push(`( set -e\n${cmds.join('\n')}\n) & bc_${i}=$!`);
      return;
    }
    const processed = `${path.posix.dirname(archive)}/.bootchain-embedded.o`;
    archives.push({ archive, object, processed });
    const echo = cmds.slice(from, to + 1).filter((c) => c.startsWith('echo '));
    first.push(...cmds.slice(0, from), ...echo, `${objcopy.trimEnd().slice(0, -archive.length)}${object} ${processed}`, `nm -g --defined-only ${processed} | sed 's|^|${SYMBOLS_MARK} ${archive} |'`);
    const full = cmds.slice(from, to + 1).filter((c) => !c.startsWith('echo '));
    second.push(`( set -e\ncase " $bc_full " in *${quote(` ${archive} `)}*)\n${full.join('\n')}\n;; esac\n${cmds.slice(to + 1).join('\n')}\n) & bc_${i}=$!`);
  });
  const waits = rec.blocks.map((_b, i) => `[ -z "$bc_${i}" ] || wait $bc_${i} || bc_rc=$?`).join('\n');
  const script = [
    'set -e',
    ...first,
    ...(archives.length ? [`rm -f ../${REPLY_FIFO}`, `mkfifo ../${REPLY_FIFO}`, `echo ${PATCH_MARK}`, `read -r bc_full < ../${REPLY_FIFO} || exit 1`, `rm -f ../${REPLY_FIFO}`] : ['bc_full=']),
    ...second,
    'bc_rc=0',
    waits,
    'exit $bc_rc',
    '',
  ].join('\n');
  return { script, archives };
}

/** One member of an ar archive: where its header starts, its data and its name field. */
interface Member {
  header: number;
  data: number;
  size: number;
  name: string;
}

function members(buf: Buffer): Member[] {
  if (buf.toString('latin1', 0, 8) !== '!<arch>\n') throw new Error('not an ar archive');
  const out: Member[] = [];
  let at = 8;
  while (at + 60 <= buf.length) {
    if (buf.toString('latin1', at + 58, at + 60) !== '`\n') throw new Error(`bad ar member header at ${at}`);
    const size = Number(buf.toString('latin1', at + 48, at + 58).trim());
    out.push({ header: at, data: at + 60, size, name: buf.toString('latin1', at, at + 16).trimEnd() });
    at += 60 + size + (size % 2);
  }
  return out;
}

/**
 * Replaces one member of a GNU ar archive with new contents, as `ar` would leave it after a
 * full rebuild with the same member order: same header fields but the size, the data padded to
 * an even length (the ar format), and the symbol index ("/" or "/SYM64/") offsets of the
 * members after it moved by the size difference. Returns the symbol names the index lists for
 * that member: the caller checks they are the new object's (else the index would be wrong).
 */
export function patchArchiveMember(archive: string, member: string, data: Buffer, expectSymbols: readonly string[]): void {
  const buf = readFileSync(archive);
  const list = members(buf);
  const m = list.find((x) => x.name === `${member}/`);
  if (!m) throw new Error(`${member} is not a member of ${archive}`);
  if (list.filter((x) => x.name === `${member}/`).length > 1) throw new Error(`${member} appears twice in ${archive}`);
  const index = list[0]?.name === '/' || list[0]?.name === '/SYM64/' ? list[0] : undefined;
  if (!index) throw new Error(`${archive} has no symbol index`);
  const wide = index.name === '/SYM64/' ? 8 : 4;
  const read = (o: number) => (wide === 8 ? Number(buf.readBigUInt64BE(o)) : buf.readUInt32BE(o));
  const count = read(index.data);
  const names: string[] = [];
  let p = index.data + wide * (count + 1);
  for (let i = 0; i < count; i++) {
    const end = buf.indexOf(0, p);
    names.push(buf.toString('latin1', p, end));
    p = end + 1;
  }
  const mine = names.filter((_n, i) => read(index.data + wide * (i + 1)) === m.header).sort();
  const want = [...expectSymbols].sort();
  if (mine.join('\n') !== want.join('\n')) throw new Error(`the symbols of the new ${member} (${want.join(', ')}) are not those indexed (${mine.join(', ')})`);
  const oldSpan = m.size + (m.size % 2);
  const newSpan = data.length + (data.length % 2);
  const delta = newSpan - oldSpan;
  const header = Buffer.from(buf.subarray(m.header, m.data));
  header.write(String(data.length).padEnd(10, ' '), 48, 'latin1');
  const out = Buffer.concat([buf.subarray(0, m.header), header, data, data.length % 2 ? Buffer.from('\n') : Buffer.alloc(0), buf.subarray(m.data + oldSpan)]);
  for (let i = 0; i < count; i++) {
    const o = index.data + wide * (i + 1);
    const v = read(o);
    if (v > m.header) {
      if (wide === 8) out.writeBigUInt64BE(BigInt(v + delta), o);
      else out.writeUInt32BE(v + delta, o);
    }
  }
  writeFileSync(`${archive}.bootchain-tmp`, out);
  renameSync(`${archive}.bootchain-tmp`, archive);
}
