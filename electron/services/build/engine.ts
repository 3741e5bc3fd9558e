import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { DEFAULT_BUILD_BASE, normalizeImage } from '../../../shared/build';
import { containerDir, imageTag } from './container';

const pexec = promisify(execFile);

/** A way to run the iPXE build. */
export type EngineKind = 'podman' | 'docker' | 'local';

/** What detection found for one engine (shared/build.ts EngineInfo). */
export interface EngineStatus {
  kind: EngineKind;
  available: boolean;
  version?: string | undefined;
  /** Why it cannot be used, and what to install or start. */
  problem?: string | undefined;
  base?: string | undefined;
  imageReady?: boolean | undefined;
  imageProblem?: string | undefined;
  images?: string[] | undefined;
}

async function run(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await pexec(cmd, args, { timeout: 10000 });
    return stdout.trim();
  } catch {
    return undefined;
  }
}

/** The build tag for this base, or undefined when the Containerfile is not found. */
function buildTag(base: string): string | undefined {
  try {
    return imageTag(containerDir(), base === DEFAULT_BUILD_BASE ? undefined : base);
  } catch {
    return undefined;
  }
}

/**
 * Whether a container engine can build now: its build image for this base exists, or the base
 * image is here to build it from (pulling needs a registry, which an offline machine lacks).
 */
async function imageStatus(engine: 'podman' | 'docker', engineArgs: string[], base: string): Promise<Pick<EngineStatus, 'base' | 'imageReady' | 'imageProblem' | 'images'>> {
  const listed = await run(engine, [...engineArgs, 'images', '--format', '{{.Repository}}:{{.Tag}}']);
  const images = [...new Set((listed ?? '').split('\n').map((l) => l.trim()).filter((l) => l && !l.includes('<none>')))];
  const tag = buildTag(base);
  const have = new Set(images.map(normalizeImage));
  const ready = (tag !== undefined && have.has(normalizeImage(tag))) || have.has(normalizeImage(base));
  return {
    base,
    imageReady: ready,
    images: images.filter((i) => !i.startsWith('localhost/bootchain-ipxe-build:')),
    ...(ready ? {} : { imageProblem: `no base image ${base} on this computer: pull it (${engine} pull ${base}) or choose one this engine has` }),
  };
}

/**
 * Detects podman, docker (client and engine) and a local toolchain, in that order of preference;
 * for container engines also whether a build could start now with this base image.
 */
export async function detectEngines(opts: { base?: string | undefined; engineArgs?: string[] | undefined } = {}): Promise<EngineStatus[]> {
  const base = opts.base ?? process.env.BOOTCHAIN_BUILD_BASE ?? DEFAULT_BUILD_BASE;
  const engineArgs = opts.engineArgs ?? process.env.BOOTCHAIN_ENGINE_ARGS?.split(' ').filter(Boolean) ?? [];
  const out: EngineStatus[] = [];
  const podman = await run('podman', [...engineArgs, 'version', '--format', '{{.Client.Version}}']);
  out.push(podman ? { kind: 'podman', available: true, version: podman, ...(await imageStatus('podman', engineArgs, base)) } : { kind: 'podman', available: false, problem: 'podman is not installed (Debian/Ubuntu: apt install podman)' });
  const dockerClient = await run('docker', ['--version']);
  if (!dockerClient) out.push({ kind: 'docker', available: false, problem: 'docker is not installed' });
  else {
    const server = await run('docker', ['version', '--format', '{{.Server.Version}}']);
    out.push(server ? { kind: 'docker', available: true, version: server, ...(await imageStatus('docker', [], base)) } : { kind: 'docker', available: false, version: dockerClient, problem: 'the docker client is installed but no Docker engine answers: start it (systemctl start docker) or use podman' });
  }
  const missing = [
    ['make', '/usr/bin/make'],
    ['gcc', '/usr/bin/gcc'],
    ['perl', '/usr/bin/perl'],
    ['liblzma-dev', '/usr/include/lzma.h'],
  ].filter(([, f]) => !existsSync(f!));
  out.push(missing.length === 0 ? { kind: 'local', available: true, version: (await run('gcc', ['-dumpversion'])) ?? '' } : { kind: 'local', available: false, problem: `missing ${missing.map(([n]) => n).join(', ')} (Debian/Ubuntu: apt install gcc make binutils perl liblzma-dev)` });
  return out;
}
