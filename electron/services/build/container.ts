/**
 * The bundled build container (build/ipxe/Containerfile): built once per version of the file,
 * tagged with its hash, so a changed definition rebuilds and an unchanged one is reused.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { appError, BootchainError, fail } from '../../../shared/errors';
import type { BuildReporter } from './builder';

const pexec = promisify(execFile);

/** Where the Containerfile ships: build/ipxe in the repo, resources/ipxe when packaged. */
export function containerDir(): string {
  const candidates = [
    process.env.BOOTCHAIN_CONTAINER_DIR,
    path.resolve(__dirname, '../../build/ipxe'),
    path.resolve(__dirname, '../../../build/ipxe'),
    path.resolve(process.cwd(), 'build/ipxe'),
    (process as { resourcesPath?: string }).resourcesPath ? path.join((process as { resourcesPath?: string }).resourcesPath!, 'ipxe') : undefined,
  ].filter((x): x is string => !!x);
  const dir = candidates.find((d) => existsSync(path.join(d, 'Containerfile')));
  if (!dir) fail('TOOL_MISSING', 'The bundled Containerfile is missing', { hint: 'Reinstall Bootchain, or set BOOTCHAIN_CONTAINER_DIR to the folder holding build/ipxe/Containerfile.' });
  return dir;
}

/** The image tag for a Containerfile and base: changes when either changes. */
export function imageTag(dir: string, base: string | undefined): string {
  const h = createHash('sha256').update(readFileSync(path.join(dir, 'Containerfile'))).update(`\0${base ?? ''}`).digest('hex').slice(0, 12);
  return `localhost/bootchain-ipxe-build:${h}`;
}

/** Builds the image unless a current one exists; returns its tag and whether it was built now. */
export async function ensureImage(
  engine: 'podman' | 'docker',
  engineArgs: string[],
  rep: BuildReporter,
  opts: { base?: string | undefined; dir?: string } = {},
): Promise<{ tag: string; built: boolean }> {
  const dir = opts.dir ?? containerDir();
  const tag = imageTag(dir, opts.base);
  try {
    await pexec(engine, [...engineArgs, 'image', 'inspect', tag], { timeout: 30000 });
    return { tag, built: false };
  } catch {
    // not there yet
  }
  rep.progress({ phase: 'image', message: `building the build container ${tag}` });
  const args = [...engineArgs, 'build', ...(opts.base ? ['--build-arg', `BASE=${opts.base}`] : []), '-t', tag, '-f', path.join(dir, 'Containerfile'), dir];
  rep.log(`$ ${engine} ${args.join(' ')}`);
  await new Promise<void>((resolve, reject) => {
    const child = spawn(engine, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const feed = (d: Buffer) => {
      for (const l of d.toString().split('\n')) {
        if (!l.trim()) continue;
        tail.push(l);
        if (tail.length > 30) tail.shift();
        rep.log(l);
      }
    };
    child.stdout.on('data', feed);
    child.stderr.on('data', feed);
    const onAbort = () => child.kill('SIGTERM');
    rep.signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new BootchainError(appError('TOOL_MISSING', `${engine} is not installed`, { hint: 'Install podman (apt install podman), or use the local toolchain.' })) : e));
    child.on('close', (code) => {
      rep.signal.removeEventListener('abort', onAbort);
      if (rep.signal.aborted) return reject(new BootchainError(appError('CANCELLED', 'Image build cancelled')));
      if (code === 0) resolve();
      else reject(new BootchainError(appError('COMMAND_FAILED', `Building the build container failed (${engine} exited ${code})`, { detail: tail.join('\n'), hint: 'Check that the engine can pull the Debian base image (or give a local base), then retry.' })));
    });
  });
  return { tag, built: true };
}

/** What a long-lived build container is made of: a change in any of these restarts it. */
export interface ContainerSpec {
  engine: 'podman' | 'docker';
  engineArgs: string[];
  image: string;
  /** The build cache (mounted at /ipxe) and the folder of the script (mounted at /embed). */
  cache: string;
  embedDir: string;
}

/** Minutes without a build after which the container stops itself (and, started with --rm, is removed). */
export const IDLE_MINUTES = 15;
/** The stamp the container's loop checks: touched by the host when a build starts, runs and ends. */
export const ACTIVE_STAMP = '.bootchain-active';

/**
 * PID 1 of the build container: sleeps in a loop (TERM ends it at once: PID 1 has no default
 * handlers) and exits after IDLE_MINUTES without a touch of the stamp in the mounted cache.
 */
const LOOP = `trap 'exit 0' TERM INT; while :; do sleep 60 & wait $!; find /ipxe/${ACTIVE_STAMP} -mmin -${IDLE_MINUTES} 2>/dev/null | grep -q . || exit 0; done`;

/** One container per build cache (a cache is one source tree), so its name follows from the cache. */
export function containerName(spec: ContainerSpec): string {
  return `bootchain-build-${createHash('sha256').update(spec.cache).digest('hex').slice(0, 12)}`;
}

/** The image, mounts and engine options the container was started with, as its label. */
export function containerKey(spec: ContainerSpec): string {
  return createHash('sha256').update([spec.image, spec.cache, spec.embedDir, ...spec.engineArgs].join('\0')).digest('hex').slice(0, 16);
}

/** Containers this process started or found (name -> key and last use), stopped when it exits. */
const started = new Map<string, { spec: ContainerSpec; key: string; usedAt: number }>();

/** Marks the container in use now (the stamp its idle check reads). */
export function touchActive(spec: ContainerSpec): void {
  const f = path.join(spec.cache, ACTIVE_STAMP);
  closeSync(openSync(f, 'a'));
  const now = new Date();
  utimesSync(f, now, now);
  const known = started.get(containerName(spec));
  if (known) known.usedAt = Date.now();
}

let exitHook = false;

/**
 * Stops the build containers this process used: on app quit (process exit, below) and on
 * request. The spawn outlives the process: an exiting app does not wait for the engine.
 */
export function stopBuildContainers(): void {
  for (const session of sessions.values()) session.end();
  sessions.clear();
  for (const [name, { spec }] of started) spawn(spec.engine, [...spec.engineArgs, 'rm', '-f', name], { stdio: 'ignore', detached: true }).on('error', () => undefined).unref();
  started.clear();
}

/**
 * The running build container for this cache and image: reused when its label says it was
 * started with the same image and mounts, else (re)started. Within one process a container
 * used less than IDLE_MINUTES - 5 ago is taken as running without asking the engine.
 */
export async function ensureBuildContainer(spec: ContainerSpec, rep: Pick<BuildReporter, 'log' | 'progress'>): Promise<string> {
  const name = containerName(spec);
  const key = containerKey(spec);
  const known = started.get(name);
  if (known && known.key === key && Date.now() - known.usedAt < (IDLE_MINUTES - 5) * 60000) return name;
  touchActive(spec);
  let state: string | undefined;
  try {
    state = (await pexec(spec.engine, [...spec.engineArgs, 'inspect', '--format', '{{index .Config.Labels "bootchain.key"}}|{{.State.Running}}', name], { timeout: 30000 })).stdout.trim();
  } catch {
    // no such container
  }
  if (state !== `${key}|true`) {
    // A session into the container being replaced would take the next command and die with it.
    sessions.get(name)?.end();
    sessions.delete(name);
    if (state !== undefined) {
      rep.log(`restarting the build container ${name} (${state.startsWith(`${key}|`) ? 'it had stopped' : 'the image or the mounts changed'})`);
      await pexec(spec.engine, [...spec.engineArgs, 'rm', '-f', name], { timeout: 60000 }).catch(() => undefined);
    }
    rep.progress({ phase: 'prepare', message: `starting the build container ${name} (once; reused by later builds)` });
    const args = [...spec.engineArgs, 'run', '-d', '--rm', '--name', name, '--label', `bootchain.key=${key}`, '--network=none', '--pull=never', '-v', `${spec.cache}:/ipxe:rw`, '-v', `${spec.embedDir}:/embed:ro`, '-w', '/ipxe/src', spec.image, 'sh', '-c', LOOP];
    rep.log(`$ ${spec.engine} ${args.join(' ')}`);
    try {
      await pexec(spec.engine, args, { timeout: 300000 });
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { stderr?: string };
      if (err.code === 'ENOENT') throw new BootchainError(appError('TOOL_MISSING', `${spec.engine} is not installed`, { hint: 'Install podman (apt install podman), or use the local toolchain.' }));
      throw new BootchainError(appError('COMMAND_FAILED', `The build container did not start (${spec.engine} run)`, { detail: err.stderr ?? String(e), hint: 'Check that the build image exists and the engine works (podman run --rm IMAGE true).' }));
    }
  } else rep.log(`reusing the build container ${name}`);
  started.set(name, { spec, key, usedAt: Date.now() });
  if (!exitHook) {
    exitHook = true;
    process.once('exit', stopBuildContainers);
  }
  return name;
}

/** `engine exec` of a command in the build container, in /ipxe/src, with stdin kept open when asked. */
export function execArgs(spec: ContainerSpec, name: string, argv: string[], opts: { stdin?: boolean; env?: Record<string, string> } = {}): string[] {
  const env = Object.entries(opts.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  return [...spec.engineArgs, 'exec', ...(opts.stdin ? ['-i'] : []), '-w', '/ipxe/src', ...env, name, ...argv];
}

/**
 * Stops what a cancelled build left running in the container: killing the exec client does
 * not reach its processes there, so every process but PID 1 (the sleep loop) gets TERM. One
 * container serves one cache, and a cache builds one thing at a time.
 */
export function killInContainer(spec: ContainerSpec, name: string): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(spec.engine, [...spec.engineArgs, 'exec', name, 'sh', '-c', 'kill -TERM -1'], { stdio: 'ignore' });
    child.on('error', () => resolve());
    child.on('close', () => resolve());
  });
}

/** A command for the container's shell: argv quoted, or a script file's path run by sh. */
const shQuote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/**
 * One `exec -i <container> sh` kept open per container and fed one command at a time on its
 * stdin: an exec costs ~0.3 s (more on a loaded machine), as much as a whole script-only
 * rebuild, so builds after the first pay none. Each command's output comes back on the
 * session's stdout, ended by a line with a per-session random marker and the exit code. While
 * idle the session does not keep this process alive (unref).
 */
class ExecSession {
  readonly child: ChildProcess;
  private readonly mark = `@@BC-EXIT-${randomBytes(6).toString('hex')}`;
  private buf = '';
  private job: { onLine: (l: string) => void; done: (code: number | null) => void } | undefined;
  dead = false;

  constructor(spec: ContainerSpec, name: string) {
    this.child = spawn(spec.engine, execArgs(spec, name, ['sh'], { stdin: true }), { stdio: ['pipe', 'pipe', 'pipe'] });
    const feed = (d: Buffer) => {
      this.buf += d.toString();
      const lines = this.buf.split('\n');
      this.buf = lines.pop() ?? '';
      for (const l of lines) {
        // The marker ends the command's output (after a last line without a line break, on it).
        const at = l.indexOf(`${this.mark} `);
        if (at < 0) {
          this.job?.onLine(l);
          continue;
        }
        if (at > 0) this.job?.onLine(l.slice(0, at));
        const job = this.job;
        this.job = undefined;
        this.idle();
        job?.done(Number(l.slice(at + this.mark.length + 1)));
      }
    };
    this.child.stdout!.on('data', feed);
    this.child.stderr!.on('data', feed);
    this.child.stdin!.on('error', () => undefined);
    const gone = () => {
      this.dead = true;
      const job = this.job;
      this.job = undefined;
      if (this.buf) job?.onLine(this.buf);
      job?.done(null);
    };
    this.child.on('error', gone);
    this.child.on('close', gone);
  }

  /** Idle: let the process exit without waiting for the session. */
  private idle(): void {
    this.child.unref();
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  }

  private busy(): void {
    this.child.ref();
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr]) (s as unknown as { ref?: () => void } | null)?.ref?.();
  }

  get free(): boolean {
    return !this.dead && !this.job;
  }

  /** Runs argv in /ipxe/src with no stdin; resolves with its exit code (null: the session ended, e.g. killed). */
  run(argv: string[], env: Record<string, string>, onLine: (l: string) => void): Promise<number | null> {
    return new Promise((done) => {
      this.job = { onLine, done };
      this.busy();
      const prefix = Object.entries(env).map(([k, v]) => `${k}=${shQuote(v)} `).join('');
      this.child.stdin!.write(`cd /ipxe/src && ${prefix}${argv.map(shQuote).join(' ')} </dev/null 2>&1; echo "${this.mark} $?"\n`);
    });
  }

  end(): void {
    this.dead = true;
    this.child.stdin!.end();
    this.child.kill('SIGTERM');
  }
}

const sessions = new Map<string, ExecSession>();

/**
 * Runs a command in the build container through its session (one started when there is none
 * or it ended); resolves with the exit code, null when the session ended under it (cancel
 * kills every process in the container but PID 1, the session's shell too).
 */
export function runInContainer(spec: ContainerSpec, name: string, argv: string[], env: Record<string, string>, onLine: (l: string) => void): Promise<number | null> {
  let s = sessions.get(name);
  if (!s || !s.free) {
    if (s && !s.dead) {
      // Busy (two builds of one cache at once): a one-off session for this command.
      const extra = new ExecSession(spec, name);
      return extra.run(argv, env, onLine).finally(() => extra.end());
    }
    s = new ExecSession(spec, name);
    sessions.set(name, s);
  }
  return s.run(argv, env, onLine);
}
