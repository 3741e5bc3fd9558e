/**
 * Podman for tests on this kind of machine (lab notes): vfs storage, runc, cgroupfs, file events,
 * ulimits the sandbox allows, its own --root/--runroot; no registry is reachable, so the base
 * image is made offline with debootstrap (cached) and `podman import`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const pexec = promisify(execFile);
const ROOT = '/tmp/bootchain-podman';
const CACHE = '/var/cache/bootchain-test';
export const BASE_IMAGE = 'localhost/bootchain-debian-base';

/** Why podman tests cannot run here, or undefined. */
export function podmanSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'podman tests run as root here (rootless needs subuid setup)';
  if (!existsSync('/usr/bin/podman')) return 'podman is not installed (.ci/run installs it)';
  if (!existsSync('/usr/sbin/debootstrap')) return 'debootstrap is not installed (.ci/run installs it)';
  return undefined;
}

/** Global podman options for the test store; also sets CONTAINERS_CONF for this process. */
export function podmanArgs(): string[] {
  mkdirSync(ROOT, { recursive: true });
  const conf = path.join(ROOT, 'containers.conf');
  writeFileSync(conf, '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n');
  process.env.CONTAINERS_CONF = conf;
  return ['--root', path.join(ROOT, 'root'), '--runroot', path.join(ROOT, 'run'), '--storage-driver', 'vfs'];
}

/** Makes the offline Debian base image (debootstrap once, cached as a tarball). */
export async function ensureBaseImage(args: string[]): Promise<string> {
  try {
    await pexec('podman', [...args, 'image', 'inspect', BASE_IMAGE]);
    return BASE_IMAGE;
  } catch {
    // build it
  }
  const tar = path.join(CACHE, 'debian-bookworm-build.tar');
  if (!existsSync(tar)) {
    mkdirSync(CACHE, { recursive: true });
    const rootfs = path.join(CACHE, 'rootfs');
    execFileSync('rm', ['-rf', rootfs]);
    await pexec('debootstrap', ['--variant=minbase', '--include=gcc,make,binutils,perl,liblzma-dev,libc6-dev', 'bookworm', rootfs, 'http://deb.debian.org/debian'], { maxBuffer: 64 << 20 });
    execFileSync('tar', ['-C', rootfs, '-cf', `${tar}.tmp`, '.']);
    execFileSync('mv', [`${tar}.tmp`, tar]);
    execFileSync('rm', ['-rf', rootfs]);
  }
  await pexec('sh', ['-c', `podman ${args.map((a) => `'${a}'`).join(' ')} import - ${BASE_IMAGE} < '${tar}'`], { maxBuffer: 16 << 20 });
  return BASE_IMAGE;
}
