/**
 * Builds iPXE with the embedded script: one persistent, writable copy of each source tree is
 * the build cache (iPXE builds in its tree), so a new script only relinks. The build runs with a
 * local toolchain or in the bundled container (build/ipxe/Containerfile); outputs are staged
 * and moved into the output folder only on success, with a manifest and the read-back check.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, cpSync, existsSync, openSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { estimateRemainingMs, formatDuration } from '../../../shared/build';
import { appError, BootchainError, fail } from '../../../shared/errors';
import type { JobProgress } from '../../../shared/jobs';
import { sha256 } from '../bootfiles/hash';
import { MANIFEST_FILE, writeManifest, type BuildManifest, type ManifestArtifact } from '../bootfiles/manifest';
import { ensureBuildContainer, killInContainer, runInContainer, touchActive, type ContainerSpec } from './container';
import { countBuildWork } from './count';
import { carriesScript } from './readback';
import { loadRecording, makeRecording, patchArchiveMember, PATCH_MARK, RECORD_VARS, RECORDING_FILE, REPLY_FIFO, replayDecision, replayScript, saveRecording, SYMBOLS_MARK, treeFingerprint, type ReplayState } from './replay';

/** Targets Bootchain builds (iPXE make goals). */
export const BUILD_TARGETS = ['bin/undionly.kpxe', 'bin-x86_64-efi/snponly.efi', 'bin-x86_64-efi/ipxe.efi'] as const;
export type BuildTarget = (typeof BUILD_TARGETS)[number];

/** Build options written to config/local/*.h. */
export interface BuildOptions {
  /** Console on the serial port too (CONSOLE_SERIAL): read iPXE's screen from COM1. */
  serialConsole?: boolean;
  /** HTTPS downloads (DOWNLOAD_PROTO_HTTPS). */
  https?: boolean;
  /** Syslog console (CONSOLE_SYSLOG): on unless false (the live watch reads iPXE's lines through it). */
  syslog?: boolean;
}

export interface BuildRequest {
  engine: 'local' | 'podman' | 'docker';
  /** A folder holding iPXE's tree (with src/Makefile). */
  sourceDir: string;
  /** A label for the manifest, e.g. "v2.0.0" or "local". */
  sourceVersion: string;
  targets: BuildTarget[];
  embed: string;
  options: BuildOptions;
  outDir: string;
  cacheDir: string;
  /** Container image to use (engine podman/docker); built from the Containerfile when absent. */
  image?: string | undefined;
  /** Global engine options (e.g. podman --root/--storage-driver on unusual machines). */
  engineArgs?: string[] | undefined;
  jobs?: number | undefined;
}

export interface BuiltArtifact extends ManifestArtifact {
  target: BuildTarget;
  file: string;
  size: number;
  sha256: string;
  /** The script read back from the binary equals the one asked for. */
  embeddedVerified: boolean;
}

export interface BuildResult {
  artifacts: BuiltArtifact[];
  /** full: objects were compiled; relink: only the script changed. */
  kind: 'full' | 'relink';
  compiled: number;
  /** The recorded link steps were replayed (no make): only the script had changed. */
  replayed: boolean;
  durationMs: number;
  manifest: string;
}

export interface BuildReporter {
  signal: AbortSignal;
  progress(p: JobProgress): void;
  log(line: string, level?: 'info' | 'warn' | 'error'): void;
}

/** config/local headers for the options (iPXE: config/local overrides config/*.h). */
export function localConfig(o: BuildOptions): Record<string, string> {
  const head = '/* Written by Bootchain for this build cache. */\n';
  const general = [head, '#define SANBOOT_PROTO_ISCSI', '#define NET_PROTO_IPV6'];
  if (o.https) general.push('#define DOWNLOAD_PROTO_HTTPS');
  // The syslog console in every build (issue 19): upstream enables it for EFI builds only (since
  // January 2026) and config/console.h #undefs it for PLATFORM_pcbios; config/local/console.h is
  // read after that, so this turns it back on for undionly.kpxe too. It sends nothing until a
  // script sets ${syslog} (the project's boot.watch.syslog). `syslog: false` leaves it out.
  const console = [head];
  if (o.serialConsole) console.push('#define CONSOLE_SERIAL');
  if (o.syslog !== false) console.push('#define CONSOLE_SYSLOG');
  return { 'general.h': `${general.join('\n')}\n`, 'console.h': `${console.join('\n')}\n` };
}

/** Files under a folder (what the cache copy will copy), .git left out. */
function countFiles(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === '.git') continue;
    n += e.isDirectory() ? countFiles(path.join(dir, e.name)) : 1;
  }
  return n;
}

/**
 * Makes (once) the writable copy of a source tree that serves as its build cache, counting the
 * files copied. It also creates src/.echocheck, the stamp iPXE's Makefile.housekeeping touches
 * once echo -e is found to work: it is in MAKEDEPS, so when the two BIN sub-makes of one build
 * each touch it, the dependency files the first one already generated are older than it and
 * are all generated again (measured on v2.0.0: 3,574 [DEPS] lines for 1,849 files).
 */
export function prepareCache(sourceDir: string, cacheDir: string, onCopy?: (done: number, total: number) => void): string {
  if (!existsSync(path.join(sourceDir, 'src', 'Makefile')) || !existsSync(path.join(sourceDir, 'src', 'include', 'ipxe'))) {
    fail('INVALID_INPUT', `${sourceDir} is not an iPXE source tree (no src/Makefile and src/include/ipxe)`, { field: 'source', hint: 'Choose the folder that holds iPXE\'s "src" folder, or let Bootchain download the pinned release.' });
  }
  const key = sha256(realpathSync(sourceDir)).slice(0, 16);
  const dir = path.join(cacheDir, `src-${key}`);
  if (!existsSync(path.join(dir, '.bootchain-cache-ready'))) {
    const tmp = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
    mkdirSync(cacheDir, { recursive: true });
    const total = onCopy ? countFiles(sourceDir) : 0;
    let done = 0;
    cpSync(sourceDir, tmp, {
      recursive: true,
      filter: (s) => {
        if (s.includes(`${path.sep}.git`)) return false;
        if (onCopy && ++done % 100 === 0) onCopy(Math.min(done, total), total);
        return true;
      },
    });
    onCopy?.(total, total);
    // GNU make and a shell whose echo takes -e are what iPXE builds with, here and in the container.
    if (!existsSync(path.join(tmp, 'src', '.echocheck'))) writeFileSync(path.join(tmp, 'src', '.echocheck'), '');
    writeFileSync(path.join(tmp, '.bootchain-cache-ready'), new Date().toISOString());
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  }
  return dir;
}

/** Writes a file only when its content changes (keeps make from rebuilding for nothing); true when written. */
function writeIfChanged(file: string, text: string): boolean {
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return false;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return true;
}

/**
 * Creates the empty config/local/<name>.h of every config/<name>.h that has none, as iPXE's own
 * rule does (Makefile.housekeeping: "$(CONFIG_LOCAL_HEADERS) : ; touch $@") — but before make
 * starts. Made by make, each one appears in the middle of the dependency pass, newer than the
 * dependency files already generated that name it, and after make restarts those are all
 * generated again.
 */
/** Makefile.housekeeping: the headers touched when their list changes (config/named.h : $(CONFIG_LIST) ...). */
const LIST_HEADERS = ['config/named.h', 'include/assert.h', 'include/ipxe/profile.h', 'include/compiler.h'];

export function touchLocalHeaders(cache: string, targets: readonly string[] = []): void {
  const config = path.join(cache, 'src', 'config');
  if (!existsSync(config)) return;
  for (const name of readdirSync(config)) {
    if (!name.endsWith('.h')) continue;
    const local = path.join(config, 'local', name);
    if (!existsSync(local)) {
      mkdirSync(path.dirname(local), { recursive: true });
      writeFileSync(local, '');
    }
  }
  // Four headers are remade (touched) whenever a $(BIN)/.<x>.list is newer, and make writes those
  // lists when it first parses a BIN: on a cold tree they are touched mid-pass, and every
  // dependency file (all include them) is generated twice. The lists as make writes them
  // without CONFIG=, ASSERT=, PROFILE=, FNREC= (one empty line), then the headers after them.
  const written: string[] = [];
  for (const bin of new Set(targets.map((t) => t.split('/')[0]!))) {
    for (const list of ['.config.list', '.assert.list', '.profile.list', '.fnrec.list']) {
      const file = path.join(cache, 'src', bin, list);
      if (existsSync(file)) continue;
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, '\n');
      written.push(file);
    }
  }
  if (written.length === 0) return;
  // In the past, in make's order: the lists depend on the Makefiles and .echocheck (MAKEDEPS),
  // the headers on the lists; whatever make generates from now on is newer than all of them.
  const t = Date.now();
  const at = (file: string, ago: number) => existsSync(file) && utimesSync(file, new Date(t - ago), new Date(t - ago));
  const src = path.join(cache, 'src');
  for (const f of [...readdirSync(src).filter((n) => n.startsWith('Makefile')), '.echocheck']) at(path.join(src, f), 3000);
  for (const arch of existsSync(path.join(src, 'arch')) ? readdirSync(path.join(src, 'arch')) : []) {
    const dir = path.join(src, 'arch', arch);
    if (statSync(dir).isDirectory()) for (const f of readdirSync(dir).filter((n) => n.startsWith('Makefile'))) at(path.join(dir, f), 3000);
  }
  for (const f of written) at(f, 2000);
  for (const h of LIST_HEADERS) at(path.join(src, h), 1000);
}

/** What the build's progress counts against, known before make runs. */
export interface BuildPlan {
  /** Objects make will compile ([BUILD] lines); undefined when only a relink is expected. */
  objects?: number | undefined;
  /** Dependency files it will generate ([DEPS] lines). */
  deps?: number | undefined;
}

/** Files under a folder whose name passes the test (missing folder: 0). */
function countMatching(dir: string, test: (name: string) => boolean, deep: boolean): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) n += deep ? countMatching(path.join(dir, e.name), test, deep) : 0;
    else if (test(e.name)) n++;
  }
  return n;
}

/**
 * The plan for these targets in this cache: the objects and dependency files of each BIN folder
 * not there yet (a cold tree: all; an interrupted build: the rest); all of them after a
 * config/local header changed (every object includes config/). Nothing left: only a relink.
 */
export function buildPlan(cache: string, targets: readonly string[], configChanged: boolean): BuildPlan {
  const work = countBuildWork(cache, targets);
  let objects = 0;
  let deps = 0;
  for (const b of work.bins) {
    const bin = path.join(cache, 'src', b.bin);
    // version.<target>.o is rebuilt at every link ([VERSION], not [BUILD]).
    const haveObjs = configChanged ? 0 : countMatching(bin, (n) => n.endsWith('.o') && !n.startsWith('version.'), false);
    const haveDeps = configChanged ? 0 : countMatching(path.join(bin, 'deps'), (n) => n.endsWith('.d'), true);
    objects += Math.max(0, b.objects - haveObjs);
    deps += Math.max(0, b.deps - haveDeps);
  }
  return objects === 0 ? {} : { objects, deps };
}

/**
 * Relative cost of one [DEPS] line against one [BUILD] line (a preprocessor pass against a
 * compile), for the estimate before this machine has timed one; measured on v2.0.0 by the
 * previous build's stats otherwise.
 */
const DEPS_WEIGHT = 0.35;

/** Where a build's commands run: this computer, or the long-lived build container. */
interface Place {
  /** src/ of the cache and the script file as the commands see them. */
  src: string;
  embed: string;
  container?: { spec: ContainerSpec; name: string } | undefined;
}

/** SOURCE_DATE_EPOCH, when set, fixes iPXE's build timestamp (Makefile.housekeeping); the container gets it too. */
function dateEnv(): Record<string, string> {
  const v = process.env.SOURCE_DATE_EPOCH;
  return v && /^\d+$/.test(v) ? { SOURCE_DATE_EPOCH: v } : {};
}

/** make's argv (extra: more arguments, e.g. the dry run's), run in src/ here or in the container. */
export function makeArgv(req: BuildRequest, place: Place, extra: string[] = []): string[] {
  const jobs = String(req.jobs ?? os.availableParallelism());
  return ['make', ...(extra.includes('-n') ? [] : ['-j', jobs]), ...extra, ...req.targets, `EMBED=${place.embed}`];
}

interface RunOptions {
  /** Whole lines of the command's stdout and stderr. */
  onLine: (line: string) => void;
  what: string;
}

/**
 * Runs one command (make, its dry run, the replay script) in src/: here in its own process
 * group, or through the container's exec session. Cancel sends TERM to the group, or to what
 * the exec left running in the container, and the promise settles only after that. Resolves
 * with the exit code and the last lines.
 */
function runChild(req: BuildRequest, rep: BuildReporter, place: Place, argv: string[], opts: RunOptions): Promise<{ code: number | null; tail: string[] }> {
  const c = place.container;
  rep.log(`$ ${c ? `${req.engine} exec ${c.name} ` : ''}${argv.join(' ')}`);
  const tail: string[] = [];
  const onLine = (line: string) => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
    opts.onLine(line);
  };
  const cancelled = () => new BootchainError(appError('CANCELLED', `Build cancelled (${opts.what}); the output folder was not touched`));
  if (c) {
    // The container's idle check: touched while a command runs there.
    touchActive(c.spec);
    const keepAlive = setInterval(() => touchActive(c.spec), 60000);
    let stopping: Promise<void> | undefined;
    const onAbort = () => (stopping = killInContainer(c.spec, c.name));
    rep.signal.addEventListener('abort', onAbort, { once: true });
    return runInContainer(c.spec, c.name, argv, dateEnv(), onLine).then(async (code) => {
      rep.signal.removeEventListener('abort', onAbort);
      clearInterval(keepAlive);
      touchActive(c.spec);
      await stopping;
      if (rep.signal.aborted) throw cancelled();
      if (code === null) throw new BootchainError(appError('COMMAND_FAILED', `The build container's exec session ended during ${opts.what}`, { detail: tail.slice(-20).join('\n'), hint: 'Retry: the container is started again when needed.' }));
      return { code, tail };
    });
  }
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true, cwd: place.src });
    let buf = '';
    const feed = (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      lines.forEach(onLine);
    };
    child.stdout.on('data', feed);
    child.stderr.on('data', feed);
    const onAbort = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    };
    rep.signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e: NodeJS.ErrnoException) => {
      rep.signal.removeEventListener('abort', onAbort);
      reject(e.code === 'ENOENT' ? new BootchainError(appError('TOOL_MISSING', `${argv[0]} is not installed`, { hint: 'Install gcc make binutils perl liblzma-dev, or build in the container (podman).' })) : e);
    });
    child.on('close', (code) => {
      rep.signal.removeEventListener('abort', onAbort);
      if (buf) onLine(buf);
      if (rep.signal.aborted) reject(cancelled());
      else resolve({ code, tail });
    });
  });
}

/**
 * Answers the replay through its FIFO (in the cache, so also across the container's mount):
 * opened without blocking, retried until the script has it open for reading.
 */
async function answer(fifo: string, text: string, signal: AbortSignal): Promise<void> {
  for (let i = 0; i < 1000 && !signal.aborted; i++) {
    try {
      const fd = openSync(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
      try {
        writeSync(fd, text);
      } finally {
        closeSync(fd);
      }
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENXIO') throw e;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

/** Runs the build; on success moves the artifacts into outDir and writes manifest.json. */
export async function buildIpxe(req: BuildRequest, rep: BuildReporter): Promise<BuildResult> {
  if (req.targets.length === 0) fail('INVALID_INPUT', 'Choose at least one target', { field: 'targets' });
  if (!req.embed.startsWith('#!ipxe\n') || req.embed.includes('\0')) fail('INVALID_INPUT', 'The embedded script must start with "#!ipxe" and a line break', { field: 'embed' });
  const t0 = Date.now();
  rep.progress({ phase: 'prepare', message: 'preparing the build cache' });
  const cache = prepareCache(req.sourceDir, req.cacheDir, (done, total) => rep.progress({ phase: 'prepare', done, total, message: 'copying the source into the build cache (once per source tree)' }));
  let configChanged = false;
  for (const [name, text] of Object.entries(localConfig(req.options))) configChanged = writeIfChanged(path.join(cache, 'src', 'config', 'local', name), text) || configChanged;
  touchLocalHeaders(cache, req.targets);
  const embedDir = path.join(req.cacheDir, 'embed');
  const embedFile = path.join(embedDir, `embed-${path.basename(cache)}.ipxe`);
  writeIfChanged(embedFile, req.embed);
  let place: Place = { src: path.join(cache, 'src'), embed: embedFile };
  if (req.engine !== 'local') {
    const spec: ContainerSpec = { engine: req.engine, engineArgs: req.engineArgs ?? [], image: req.image ?? 'localhost/bootchain-ipxe-build', cache, embedDir };
    place = { src: '/ipxe/src', embed: `/embed/${path.basename(embedFile)}`, container: { spec, name: await ensureBuildContainer(spec, rep) } };
    if (rep.signal.aborted) throw new BootchainError(appError('CANCELLED', 'Build cancelled; the output folder was not touched'));
  }

  const state = (): ReplayState => ({ engine: req.engine, image: place.container?.spec.image ?? '', targets: req.targets, embed: place.embed, fingerprint: treeFingerprint(cache, req.targets) });
  const recorded = loadRecording(cache);
  const decision = recorded && configChanged ? { replay: false as const, reason: 'the build options changed' } : replayDecision(recorded, state());
  if (decision.replay) {
    rep.log('only the embedded script changed: replaying the recorded link steps instead of running make');
    const r = await replay(req, rep, place, cache);
    if (r === true) return finish(req, rep, cache, { kind: 'relink', compiled: 0, replayed: true, t0 });
    rep.log(`the replay failed (${r}): running make instead`, 'warn');
    rmSync(path.join(cache, RECORDING_FILE), { force: true });
  } else rep.log(`running make: ${decision.reason}`);
  const made = await runMake(req, rep, place, cache, configChanged);
  await record(req, rep, place, cache, state);
  return finish(req, rep, cache, { kind: made.compiled > 2 ? 'full' : 'relink', compiled: made.compiled, replayed: false, t0 });
}

/**
 * Replays the recording (replay.ts): one shell script, halfway the archive members replaced by
 * the host. True when it succeeded; else why not (the caller runs make).
 */
async function replay(req: BuildRequest, rep: BuildReporter, place: Place, cache: string): Promise<true | string> {
  const rec = loadRecording(cache)!;
  const now = process.env.SOURCE_DATE_EPOCH && /^\d+$/.test(process.env.SOURCE_DATE_EPOCH) ? Number(process.env.SOURCE_DATE_EPOCH) : Math.floor(Date.now() / 1000);
  const { script, archives } = replayScript(rec, now);
  const file = path.join(cache, '.bootchain-replay.sh');
  writeFileSync(file, script);
  const inPlace = place.container ? '/ipxe/.bootchain-replay.sh' : file;
  const symbols = new Map<string, string[]>();
  let answered: Promise<void> | undefined;
  const run = runChild(req, rep, place, ['sh', inPlace], {
    what: 'replaying the link steps',
    onLine: (line) => {
      if (line.startsWith(`${SYMBOLS_MARK} `)) {
        const [, archive, , , name] = line.split(' ');
        if (archive && name) symbols.set(archive, [...(symbols.get(archive) ?? []), name]);
        return;
      }
      if (line === PATCH_MARK) {
        // The processed members are there: put each into its archive, or let the script rebuild it.
        const full: string[] = [];
        for (const a of archives) {
          try {
            patchArchiveMember(path.join(cache, 'src', a.archive), path.posix.basename(a.object), readFileSync(path.join(cache, 'src', a.processed)), symbols.get(a.archive) ?? []);
          } catch (e) {
            rep.log(`${a.archive}: rebuilt with ar (${(e as Error).message})`, 'warn');
            full.push(a.archive);
          }
        }
        answered = answer(path.join(cache, REPLY_FIFO), `${full.join(' ')}\n`, rep.signal);
        return;
      }
      if (/\[(LD|ZBIN|FINISH)\]/.test(line)) rep.progress({ phase: 'link', message: line.trim() });
      if (line.trim()) rep.log(line, /(^|\s)error:|\*\*\*/i.test(line) ? 'error' : 'info');
    },
  });
  const { code, tail } = await run;
  await answered;
  if (code === 0) return true;
  return `exit ${code}: ${tail.slice(-3).join(' / ')}`;
}

/**
 * Records what make would run for a newer script (make -n -W, one sub-make after another) with
 * the state of the cache; a build that cannot be recorded is said in the log, and the next
 * script-only change runs make again.
 */
async function record(req: BuildRequest, rep: BuildReporter, place: Place, cache: string, state: () => ReplayState): Promise<void> {
  // -W is not passed down to sub-makes (GNU make leaves it out of MAKEFLAGS): iPXE's per-BIN
  // sub-makes get it through $(MAKE).
  const lines: string[] = [];
  const { code, tail } = await runChild(req, rep, place, makeArgv(req, place, ['-n', '-W', place.embed, `MAKE=make -W ${place.embed}`, ...RECORD_VARS]), { what: 'recording the link steps', onLine: (l) => lines.push(l) });
  const rec = code === 0 ? makeRecording(lines.join('\n'), state()) : `make -n exited ${code}: ${tail.slice(-2).join(' / ')}`;
  if (typeof rec === 'string') {
    rmSync(path.join(cache, RECORDING_FILE), { force: true });
    rep.log(`script-only rebuilds will run make: the link steps could not be recorded (${rec})`, 'warn');
    return;
  }
  saveRecording(cache, rec);
  rep.log(`recorded ${rec.blocks.reduce((n, b) => n + b.commands.length, 0)} link steps for script-only rebuilds`);
}

/** make itself, its lines counted into progress against the plan. */
async function runMake(req: BuildRequest, rep: BuildReporter, place: Place, cache: string, configChanged: boolean): Promise<{ compiled: number }> {
  const statsFile = path.join(cache, '.bootchain-stats.json');
  const stats = existsSync(statsFile) ? (JSON.parse(readFileSync(statsFile, 'utf8')) as { compiled?: number; depsWeight?: number }) : {};
  const plan = buildPlan(cache, req.targets, configChanged);
  const depsWeight = stats.depsWeight ?? DEPS_WEIGHT;
  const totalUnits = (plan.objects ?? 0) + (plan.deps ?? 0) * depsWeight;
  if (plan.objects) rep.log(`${plan.objects} objects to compile and ${plan.deps} dependency files to generate (counted from iPXE's Makefiles for ${req.targets.join(', ')})`);

  let compiled = 0;
  let depsSeen = 0;
  const makeStart = Date.now();
  let firstBuildAt: number | undefined;
  const eta = (): string => {
    if (!totalUnits) return '';
    const ms = estimateRemainingMs(compiled + Math.min(depsSeen, plan.deps ?? 0) * depsWeight, totalUnits, Date.now() - makeStart);
    return ms === undefined ? '' : ` — about ${formatDuration(ms)} left`;
  };
  const onLine = (line: string) => {
    const isError = /(^|\s)error:|\*\*\*/i.test(line);
    if (line.includes('[DEPS]')) {
      depsSeen++;
      const total = plan.deps && plan.deps >= depsSeen ? plan.deps : undefined;
      rep.progress({ phase: 'dependencies', done: depsSeen, ...(total ? { total } : {}), message: `${line.trim()}${eta()}` });
      // One line in 100: the count moves in the progress bar, the log stays readable.
      if (depsSeen % 100 === 0) rep.log(`${line.trim()} (${depsSeen}${total ? `/${total}` : ''} dependency files)`);
      return;
    }
    if (line.includes('[BUILD]')) {
      compiled++;
      firstBuildAt ??= Date.now();
      const total = plan.objects && plan.objects >= compiled ? plan.objects : undefined;
      rep.progress({ phase: 'compile', done: compiled, ...(total ? { total } : {}), message: `${line.trim()}${eta()}` });
    } else if (/\[(LD|ZBIN|FINISH)\]/.test(line)) rep.progress({ phase: 'link', message: line.trim() });
    if (line.trim()) rep.log(line, isError ? 'error' : 'info');
  };
  const { code, tail } = await runChild(req, rep, place, makeArgv(req, place), { what: 'make', onLine });
  if (code !== 0) throw new BootchainError(appError('COMMAND_FAILED', `The iPXE build failed (make exited ${code})`, { detail: tail.slice(-20).join('\n'), hint: 'Read the failing lines below; a changed source tree or missing build dependency is the usual cause.' }));
  // This machine's cost of a [DEPS] line against a [BUILD] line, for the next estimate.
  const measured = firstBuildAt && depsSeen > 100 && compiled > 100 ? (firstBuildAt - makeStart) / depsSeen / ((Date.now() - firstBuildAt) / compiled) : undefined;
  writeFileSync(statsFile, JSON.stringify({ compiled: Math.max(compiled, stats.compiled ?? 0), depsWeight: measured ?? stats.depsWeight, deps: depsSeen, makeMs: Date.now() - makeStart }));

  return { compiled };
}

/** Stages the targets, reads the script back from each, then moves them and the manifest into outDir. */
function finish(req: BuildRequest, rep: BuildReporter, cache: string, how: { kind: BuildResult['kind']; compiled: number; replayed: boolean; t0: number }): BuildResult {
  // Stage, check, then move into place: the output folder never holds half a build.
  rep.progress({ phase: 'verify', message: 'reading the embedded script back' });
  mkdirSync(req.outDir, { recursive: true });
  const stage = path.join(req.outDir, `.bootchain-build-${randomBytes(4).toString('hex')}`);
  mkdirSync(stage);
  try {
    const artifacts: BuiltArtifact[] = [];
    for (const t of req.targets) {
      const src = path.join(cache, 'src', t);
      const bin = readFileSync(src);
      const verified = carriesScript(bin, req.embed);
      const file = path.basename(t);
      writeFileSync(path.join(stage, file), bin);
      artifacts.push({ target: t, file, size: statSync(src).size, sha256: sha256(bin), embeddedVerified: verified });
      if (!verified) rep.log(`${file}: the script asked for is not embedded in it byte for byte (read back ${t.startsWith('bin/') ? 'from the LZMA-compressed body' : 'as plain text'})`, 'error');
    }
    const manifest: BuildManifest = {
      builtAt: new Date().toISOString(),
      engine: req.engine,
      ipxe: { version: req.sourceVersion, source: req.sourceDir },
      options: req.options,
      embed: req.embed,
      artifacts,
    };
    writeManifest(stage, manifest);
    for (const a of artifacts) renameSync(path.join(stage, a.file), path.join(req.outDir, a.file));
    renameSync(path.join(stage, MANIFEST_FILE), path.join(req.outDir, MANIFEST_FILE));
    return { artifacts, kind: how.kind, compiled: how.compiled, replayed: how.replayed, durationMs: Date.now() - how.t0, manifest: path.join(req.outDir, MANIFEST_FILE) };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
