/**
 * "Export to a folder": the upload target for users who copy files by hand (or whose TFTP root
 * is mounted on this computer). The engine's guarantees hold the same as over SFTP: plan,
 * backups, atomic writes (fsync, then rename), rollback.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { link, lstat, mkdir, open, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fail } from '../../../shared/errors';
import type { Entry, TargetFs } from './engine';

/** A local folder as an upload target. */
export class FolderTarget implements TargetFs {
  readonly label: string;
  constructor(private readonly root: string) {
    this.label = root;
  }

  /** Checks the folder exists; call before use. */
  async open(): Promise<this> {
    const s = await stat(this.root).catch(() => undefined);
    if (!s?.isDirectory()) fail('NOT_FOUND', `The folder ${this.root} does not exist`, { hint: 'Create it or choose an existing folder.' });
    return this;
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : path.join(this.root, ...rel.split('/'));
  }

  async lstat(rel: string): Promise<Entry | undefined> {
    const s = await lstat(this.abs(rel)).catch(() => undefined);
    if (!s) return undefined;
    return { type: s.isSymbolicLink() ? 'link' : s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other', size: s.size, mtime: Math.floor(s.mtimeMs / 1000) };
  }

  read(rel: string): Promise<Buffer> {
    return readFile(this.abs(rel));
  }

  async flush(rel: string): Promise<void> {
    const fh = await open(this.abs(rel), 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async write(rel: string, data: Buffer, opts: { signal?: AbortSignal | undefined; onBytes?: ((n: number) => void) | undefined; noFlush?: boolean } = {}): Promise<void> {
    const fh = await open(this.abs(rel), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    try {
      const chunk = 1 << 20;
      for (let off = 0; off < data.length; off += chunk) {
        opts.signal?.throwIfAborted();
        const { bytesWritten } = await fh.write(data, off, Math.min(chunk, data.length - off));
        opts.onBytes?.(bytesWritten);
      }
      await fh.chmod(0o644);
      if (!opts.noFlush) await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async link(from: string, to: string): Promise<boolean> {
    await link(this.abs(from), this.abs(to));
    return true;
  }

  async replace(from: string, to: string): Promise<'atomic'> {
    await rename(this.abs(from), this.abs(to));
    return 'atomic';
  }

  async rename(from: string, to: string): Promise<void> {
    if (await this.lstat(to)) fail('INTERNAL', `${to} exists`);
    await rename(this.abs(from), this.abs(to));
  }

  remove(rel: string): Promise<void> {
    return rm(this.abs(rel), { force: true });
  }

  rmdir(rel: string): Promise<void> {
    return rmdir(this.abs(rel));
  }

  list(rel: string): Promise<string[]> {
    return readdir(this.abs(rel)).catch(() => []);
  }

  async mkdir(rel: string): Promise<void> {
    await mkdir(this.abs(rel), { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }

  async hash(rels: string[]): Promise<{ hashes: Record<string, string | undefined>; method: 'local' }> {
    const hashes: Record<string, string | undefined> = {};
    for (const rel of rels) {
      const b = await readFile(this.abs(rel)).catch(() => undefined);
      hashes[rel] = b ? createHash('sha256').update(b).digest('hex') : undefined;
    }
    return { hashes, method: 'local' };
  }
}
