import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const pexec = promisify(execFile);

/** A way to run the iPXE build. */
export type EngineKind = 'podman' | 'docker' | 'local';

/** What detection found for one engine. */
export interface EngineStatus {
  kind: EngineKind;
  available: boolean;
  version?: string | undefined;
  /** Why it cannot be used, and what to install or start. */
  problem?: string | undefined;
}

async function run(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await pexec(cmd, args, { timeout: 10000 });
    return stdout.trim();
  } catch {
    return undefined;
  }
}

/** Detects podman, docker (client and engine) and a local toolchain, in that order of preference. */
export async function detectEngines(): Promise<EngineStatus[]> {
  const out: EngineStatus[] = [];
  const podman = await run('podman', ['version', '--format', '{{.Client.Version}}']);
  out.push(podman ? { kind: 'podman', available: true, version: podman } : { kind: 'podman', available: false, problem: 'podman is not installed (Debian/Ubuntu: apt install podman)' });
  const dockerClient = await run('docker', ['--version']);
  if (!dockerClient) out.push({ kind: 'docker', available: false, problem: 'docker is not installed' });
  else {
    const server = await run('docker', ['version', '--format', '{{.Server.Version}}']);
    out.push(server ? { kind: 'docker', available: true, version: server } : { kind: 'docker', available: false, version: dockerClient, problem: 'the docker client is installed but no Docker engine answers: start it (systemctl start docker) or use podman' });
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
