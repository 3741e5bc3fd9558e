/**
 * The bundled build container (build/ipxe/Containerfile): built once per version of the file,
 * tagged with its hash, so a changed definition rebuilds and an unchanged one is reused.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
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
