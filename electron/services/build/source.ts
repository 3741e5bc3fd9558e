/**
 * iPXE source for the build: the pinned upstream release (downloaded on the host with progress,
 * verified, cached; the container needs no network), or a folder / tarball the user chose.
 * The release is pinned by a digest of its file tree (sha256 of a `sha256sum`-style listing),
 * so any archive of that release verifies, whatever its compression.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { appError, BootchainError, fail } from '../../../shared/errors';
import type { BuildReporter } from './builder';

const pexec = promisify(execFile);

/** The upstream release Bootchain builds by default. */
export interface PinnedRelease {
  version: string;
  url: string;
  /** treeDigest() of the release's files (top folder stripped). */
  treeDigest: string;
}

/** iPXE v2.0.0, pinned by the digest of `git archive v2.0.0`'s files. */
export const IPXE_RELEASE: PinnedRelease = {
  version: 'v2.0.0',
  url: 'https://github.com/ipxe/ipxe/archive/refs/tags/v2.0.0.tar.gz',
  treeDigest: 'a8b848810a7334fa3c457714d9fbea1a192ca37637b341e5a8d706fa50bc041f',
};

/** Where the source comes from. */
export type SourceSpec = { kind: 'release'; release?: PinnedRelease } | { kind: 'dir'; path: string } | { kind: 'tarball'; path: string; treeDigest?: string | undefined };

/** sha256 over "<sha256 of content>  <relative path>\n" lines, sorted by path (links: their target). */
export function treeDigest(dir: string): string {
  const lines: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const full = path.join(dir, r);
      const st = lstatSync(full);
      if (st.isDirectory()) walk(r);
      else if (st.isSymbolicLink()) lines.push(`${createHash('sha256').update(`link:${readlinkSync(full)}`).digest('hex')}  ${r}`);
      else if (st.isFile()) lines.push(`${createHash('sha256').update(readFileSync(full)).digest('hex')}  ${r}`);
    }
  };
  walk('');
  lines.sort((a, b) => (a.slice(66) < b.slice(66) ? -1 : 1));
  return createHash('sha256').update(`${lines.join('\n')}\n`).digest('hex');
}

/** Extracts a tarball (gz/xz/plain, detected by tar) into a new folder, dropping the top folder. */
async function extract(tarball: string, into: string): Promise<void> {
  mkdirSync(into, { recursive: true });
  try {
    await pexec('tar', ['-xf', tarball, '-C', into, '--strip-components=1', '--no-same-owner'], { maxBuffer: 1 << 20 });
  } catch (e) {
    fail('INVALID_INPUT', `${tarball} is not a readable tar archive`, { detail: (e as { stderr?: string }).stderr ?? String(e), field: 'source' });
  }
}

/** Downloads with progress and cancel into `file`. */
async function download(url: string, file: string, rep: BuildReporter): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { signal: rep.signal, redirect: 'follow' });
  } catch (e) {
    if (rep.signal.aborted) fail('CANCELLED', 'Download cancelled');
    throw new BootchainError(appError('UNREACHABLE', `Cannot download ${url}`, { detail: String(e), hint: 'Check the internet connection, or choose a local iPXE source folder or tarball (offline use).' }));
  }
  if (!res.ok || !res.body) fail('UNREACHABLE', `Download of ${url} failed: HTTP ${res.status}`, { hint: 'Try again later, or choose a local iPXE source folder or tarball.' });
  const total = Number(res.headers.get('content-length') ?? 0) || undefined;
  let done = 0;
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  body.on('data', (c: Buffer) => {
    done += c.length;
    rep.progress({ phase: 'download', done, ...(total ? { total } : {}), message: url });
  });
  await pipeline(body, createWriteStream(file));
}

/** A verified, cached source tree ready to build, and its version label. */
export async function resolveSource(spec: SourceSpec, cacheDir: string, rep: BuildReporter): Promise<{ dir: string; version: string; treeDigest?: string }> {
  if (spec.kind === 'dir') {
    if (!existsSync(path.join(spec.path, 'src', 'Makefile'))) fail('INVALID_INPUT', `${spec.path} is not an iPXE source tree (no src/Makefile)`, { field: 'source' });
    return { dir: spec.path, version: `local folder ${spec.path}` };
  }
  const sources = path.join(cacheDir, 'sources');
  mkdirSync(sources, { recursive: true });
  const tmp = path.join(sources, `.tmp-${randomBytes(4).toString('hex')}`);
  try {
    if (spec.kind === 'tarball') {
      const key = createHash('sha256').update(readFileSync(spec.path)).digest('hex').slice(0, 16);
      const dir = path.join(sources, `tarball-${key}`);
      if (existsSync(path.join(dir, '.verified'))) return { dir, version: `tarball ${path.basename(spec.path)}` };
      await extract(spec.path, path.join(tmp, 'tree'));
      const digest = treeDigest(path.join(tmp, 'tree'));
      if (spec.treeDigest && digest !== spec.treeDigest) fail('INVALID_INPUT', `${spec.path} does not hold the expected files (tree digest ${digest.slice(0, 12)}…, expected ${spec.treeDigest.slice(0, 12)}…)`, { field: 'source' });
      if (!existsSync(path.join(tmp, 'tree', 'src', 'Makefile'))) fail('INVALID_INPUT', `${spec.path} does not hold an iPXE source tree`, { field: 'source' });
      writeFileSync(path.join(tmp, 'tree', '.verified'), digest);
      rmSync(dir, { recursive: true, force: true });
      renameSync(path.join(tmp, 'tree'), dir);
      return { dir, version: `tarball ${path.basename(spec.path)}`, treeDigest: digest };
    }
    const rel = spec.release ?? IPXE_RELEASE;
    const dir = path.join(sources, `release-${rel.version}-${rel.treeDigest.slice(0, 16)}`);
    if (existsSync(path.join(dir, '.verified'))) {
      rep.log(`iPXE ${rel.version}: using the verified copy in the cache`);
      return { dir, version: rel.version, treeDigest: rel.treeDigest };
    }
    mkdirSync(tmp, { recursive: true });
    const archive = path.join(tmp, 'release.tar');
    rep.log(`downloading iPXE ${rel.version} from ${rel.url}`);
    await download(rel.url, archive, rep);
    rep.progress({ phase: 'verify', message: 'checking the download' });
    await extract(archive, path.join(tmp, 'tree'));
    const digest = treeDigest(path.join(tmp, 'tree'));
    if (digest !== rel.treeDigest) {
      fail('INVALID_INPUT', `The download of iPXE ${rel.version} does not match its pinned checksum`, {
        detail: `tree digest ${digest}, expected ${rel.treeDigest}`,
        hint: 'The file was corrupted or the server sent something else: nothing was kept. Try again, or use a local source.',
      });
    }
    writeFileSync(path.join(tmp, 'tree', '.verified'), digest);
    rmSync(dir, { recursive: true, force: true });
    renameSync(path.join(tmp, 'tree'), dir);
    return { dir, version: rel.version, treeDigest: digest };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
