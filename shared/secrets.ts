/**
 * Remembered secrets: CHAP secrets of a project and SSH passwords / key passphrases. The app's
 * main process keeps them encrypted by the OS keychain (Electron's safeStorage); the browser
 * harness and the CLI keep them for the session only and read them from the environment.
 * Projects and exports hold references (`secretRef`), never the secrets.
 */
import { z } from 'zod';

const name = '[a-z0-9][a-z0-9._-]{0,63}';
const sshHost = '(?:[A-Za-z0-9.-]{1,253}|\\[[0-9A-Fa-f:.]{2,45}\\])';
const KEY_RE = new RegExp(`^(?:chap/${name}/${name}|ssh/[a-z_][a-z0-9_.-]{0,31}@${sshHost}:\\d{1,5}/(?:password|passphrase))$`);

/** A secret's key: `chap/<project>/<secretRef>` or `ssh/<user>@<host>:<port>/password|passphrase`. */
export const SecretKey = z.string().max(340).regex(KEY_RE, 'a secret key: chap/<project>/<ref> or ssh/<user>@<host>:<port>/password|passphrase');

/** The CHAP secret references a project's workstations use (initiator and mutual). */
export function chapRefs(workstations: ReadonlyArray<{ chap?: { secretRef: string; mutual?: { secretRef: string } | undefined } | undefined }> | undefined): string[] {
  return (workstations ?? []).flatMap((w) => (w.chap ? [w.chap.secretRef, ...(w.chap.mutual ? [w.chap.mutual.secretRef] : [])] : []));
}

/** The environment variable that gives a CHAP secret reference to the CLI and the harness. */
export const secretEnvName = (ref: string): string => `BOOTCHAIN_SECRET_${ref.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

/** The key of a project's CHAP secret. */
export const chapKey = (project: string, ref: string): string => `chap/${project}/${ref}`;

/** The key of an SSH login's password or key passphrase. */
export function sshKey(user: string, host: string, port: number, what: 'password' | 'passphrase'): string {
  return `ssh/${user}@${host.includes(':') ? `[${host}]` : host}:${port}/${what}`;
}

/** Where remembered secrets go. */
export type SecretBackend = 'keychain' | 'basic_text' | 'session';

export interface SecretsStatus {
  /**
   * keychain: encrypted with a key the OS keychain holds; basic_text: Electron on Linux found no
   * keyring and would use a fixed key (protects nothing); session: memory only (harness, CLI, or
   * no encryption available).
   */
  backend: SecretBackend;
  /** Whether "remember" writes secrets to disk (encrypted by the keychain). */
  persistent: boolean;
  /** What the user must know about where secrets go, when it is not the keychain. */
  warning?: string;
  /** Keys remembered on disk. */
  stored: string[];
  /** Keys held for this session only. */
  session: string[];
  /** Keys on disk that can no longer be decrypted (keychain changed): they must be typed again. */
  unreadable: string[];
}

export const SecretsGetInput = z.object({ keys: z.array(SecretKey).max(256) }).strict();
export const SecretsSetInput = z
  .object({
    key: SecretKey,
    value: z.string().min(1).max(1024),
    /** Keep it on disk, encrypted by the keychain (false: this session only). */
    remember: z.boolean().default(false),
    /** With the basic_text backend: the user accepted that the secret is stored unprotected. */
    allowPlainText: z.boolean().default(false),
  })
  .strict();
export const SecretsForgetInput = z.object({ key: SecretKey }).strict();
