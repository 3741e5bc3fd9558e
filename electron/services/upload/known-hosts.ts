/**
 * Bootchain's own known-hosts file (OpenSSH format, so `ssh-keygen -F`/`-R` work on it): one line
 * per server, `host keytype base64` for port 22 and `[host]:port keytype base64` otherwise.
 * Trust on first use: an unknown key is shown to the user (SHA256 fingerprint, as
 * `ssh-keygen -lf` prints it) and remembered only when they accept it; a changed key is refused.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { HostKeyStatus } from '../../../shared/upload';

/** "SHA256:…" of a public key blob, as OpenSSH prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type written at the start of a public key blob ("ssh-ed25519", ...). */
export function keyType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const n = blob.readUInt32BE(0);
  return n > 0 && n < 64 && blob.length >= 4 + n ? blob.subarray(4, 4 + n).toString('latin1') : 'unknown';
}

/** The host field of a known-hosts line. */
export const hostField = (host: string, port: number): string => (port === 22 ? host : `[${host}]:${port}`);

export class KnownHosts {
  constructor(readonly file: string) {}

  private async lines(): Promise<string[]> {
    try {
      return (await readFile(this.file, 'utf8')).split('\n');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  /** The key blobs remembered for host:port. */
  async keys(host: string, port: number): Promise<Buffer[]> {
    const want = hostField(host, port);
    const out: Buffer[] = [];
    for (const line of await this.lines()) {
      const [hosts, , b64] = line.trim().split(/\s+/);
      if (!hosts || !b64 || hosts.startsWith('#') || hosts.startsWith('|')) continue;
      if (hosts.split(',').includes(want)) out.push(Buffer.from(b64, 'base64'));
    }
    return out;
  }

  /** How `blob` compares with what is remembered for host:port. */
  async check(host: string, port: number, blob: Buffer): Promise<HostKeyStatus> {
    const base = { host, port, keyType: keyType(blob), fingerprint: fingerprint(blob) };
    const known = await this.keys(host, port);
    if (known.some((k) => k.equals(blob))) return { ...base, status: 'trusted' };
    // A different key of the same type is a changed key; another type is a new key (OpenSSH alike).
    const sameType = known.find((k) => keyType(k) === base.keyType) ?? known[0];
    if (sameType) return { ...base, status: 'changed', knownFingerprint: fingerprint(sameType) };
    return { ...base, status: 'unknown' };
  }

  /** Remembers `blob` for host:port (atomic rewrite of the file). */
  async add(host: string, port: number, blob: Buffer): Promise<void> {
    const lines = (await this.lines()).filter((l) => l.trim() !== '');
    lines.push(`${hostField(host, port)} ${keyType(blob)} ${blob.toString('base64')}`);
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp-${process.pid}`;
    await writeFile(tmp, `${lines.join('\n')}\n`, { mode: 0o600 });
    await rename(tmp, this.file);
  }
}
