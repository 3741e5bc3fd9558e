/**
 * The secret vault: CHAP secrets and SSH passwords/passphrases by key. Memory holds what this
 * session was given; "remember" writes the secret to <dataDir>/secrets.json encrypted by a
 * cipher that the host supplies — Electron's safeStorage (the OS keychain) in the app, none in
 * the harness and the CLI, which read secrets from the environment instead. The file never
 * holds a secret in clear unless the user accepted the basic_text backend, which is said loudly.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fail } from '../../../shared/errors';
import { secretEnvName, type SecretBackend, type SecretsStatus } from '../../../shared/secrets';

/** How secrets are protected on disk; the host process provides it. */
export interface SecretCipher {
  backend: SecretBackend;
  /** Shown to the user whenever secrets are not protected by the keychain. */
  warning?: string;
  encrypt?(plain: string): Buffer;
  decrypt?(data: Buffer): string;
}

/** No encryption at hand: the session keeps secrets in memory only. */
export const sessionCipher = (warning: string): SecretCipher => ({ backend: 'session', warning });

/** Environment variables that stand in for remembered secrets (harness and CLI). */
export function envSecret(key: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (key.startsWith('chap/')) {
    const ref = key.split('/')[2] ?? '';
    return env[secretEnvName(ref)] || undefined;
  }
  if (key.endsWith('/password')) return env.BOOTCHAIN_SSH_PASSWORD || undefined;
  if (key.endsWith('/passphrase')) return env.BOOTCHAIN_SSH_PASSPHRASE || undefined;
  return undefined;
}

interface VaultFile {
  version: 1;
  backend: SecretBackend;
  entries: Record<string, string>;
}

export class SecretVault {
  private readonly session = new Map<string, string>();
  private entries: Record<string, string> = {};
  private loadWarning: string | undefined;
  readonly file: string;

  constructor(
    dataDir: string,
    private readonly cipher: SecretCipher,
    private readonly env?: NodeJS.ProcessEnv,
  ) {
    this.file = path.join(dataDir, 'secrets.json');
    this.load();
  }

  private load(): void {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return; // nothing remembered yet
    }
    try {
      const f = JSON.parse(text) as Partial<VaultFile>;
      if (f.version !== 1 || typeof f.entries !== 'object' || f.entries === null) throw new Error('not a vault');
      for (const [k, v] of Object.entries(f.entries)) if (typeof v === 'string') this.entries[k] = v;
    } catch {
      // Keep the damaged file for the user; start an empty one beside it.
      const aside = `${this.file}.damaged-${Date.now()}`;
      renameSync(this.file, aside);
      this.loadWarning = `The remembered secrets file was damaged; it was kept as ${path.basename(aside)} and the secrets must be typed again.`;
    }
  }

  private save(): void {
    mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    const body: VaultFile = { version: 1, backend: this.cipher.backend, entries: this.entries };
    writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.file);
  }

  private decrypt(key: string): string | undefined {
    const stored = this.entries[key];
    if (stored === undefined || !this.cipher.decrypt) return undefined;
    try {
      return this.cipher.decrypt(Buffer.from(stored, 'base64'));
    } catch {
      return undefined;
    }
  }

  status(): SecretsStatus {
    const stored = Object.keys(this.entries).sort();
    const unreadable = stored.filter((k) => this.decrypt(k) === undefined);
    const warning = [this.cipher.warning, this.loadWarning].filter(Boolean).join(' ');
    return {
      backend: this.cipher.backend,
      persistent: this.cipher.backend === 'keychain',
      ...(warning ? { warning } : {}),
      stored: stored.filter((k) => !unreadable.includes(k)),
      session: [...this.session.keys()].filter((k) => this.entries[k] === undefined).sort(),
      unreadable,
    };
  }

  /** The secrets known for these keys: this session's, then remembered ones, then the environment. */
  get(keys: readonly string[]): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of keys) {
      const v = this.session.get(k) ?? this.decrypt(k) ?? (this.env ? envSecret(k, this.env) : undefined);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }

  /**
   * Keeps a secret for the session and, when asked and possible, on disk encrypted. With the
   * basic_text backend it is written only when the user accepted that it is unprotected.
   */
  set(key: string, value: string, opts: { remember: boolean; allowPlainText?: boolean }): { kept: 'disk' | 'session' } {
    this.session.set(key, value);
    const canWrite = this.cipher.encrypt && (this.cipher.backend === 'keychain' || (this.cipher.backend === 'basic_text' && opts.allowPlainText));
    if (opts.remember && this.cipher.backend === 'basic_text' && !opts.allowPlainText) {
      fail('NEEDS_CONFIRMATION', 'This system has no keyring: the secret would be stored unprotected (basic_text)', {
        hint: 'Keep it for this session only, or confirm that storing it unprotected is acceptable; installing and unlocking a keyring (GNOME Keyring, KWallet) protects it.',
      });
    }
    if (!opts.remember || !canWrite) {
      // Not remembered (any more): a stale copy on disk must not come back.
      if (this.entries[key] !== undefined) {
        delete this.entries[key];
        this.save();
      }
      return { kept: 'session' };
    }
    this.entries[key] = this.cipher.encrypt!(value).toString('base64');
    this.save();
    return { kept: 'disk' };
  }

  /** Forgets a secret everywhere (session and disk). */
  forget(key: string): { forgotten: boolean } {
    const had = this.session.delete(key) || this.entries[key] !== undefined;
    if (this.entries[key] !== undefined) {
      delete this.entries[key];
      this.save();
    }
    return { forgotten: had };
  }
}
