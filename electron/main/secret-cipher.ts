/**
 * The vault's cipher in the Electron app: Electron's safeStorage, which encrypts with a key the
 * OS keychain holds (Keychain on macOS, DPAPI on Windows, libsecret or KWallet on Linux). On Linux
 * without a keyring Electron falls back to `basic_text`, a fixed key that protects nothing: the
 * user is told, and secrets stay in the session unless they accept that.
 * Takes safeStorage as a parameter (no `electron` import) so it is tested in plain Node.
 */
import type { SecretCipher } from '../services/secrets/vault';

/** The part of Electron's safeStorage used here. */
export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(plain: string): Buffer;
  decryptString(data: Buffer): string;
  /** Linux only. */
  getSelectedStorageBackend?(): string;
}

export const BASIC_TEXT_WARNING =
  'This system has no keyring (Electron chose the basic_text backend): a remembered secret would be stored with a fixed key, which protects nothing. Secrets stay in this session unless you accept that; install and unlock GNOME Keyring or KWallet to protect them.';
export const NO_ENCRYPTION_WARNING = 'No OS keychain is available: secrets stay in this session only and must be typed again next time.';

export function safeStorageCipher(ss: SafeStorageLike, platform: NodeJS.Platform): SecretCipher {
  let available = false;
  try {
    available = ss.isEncryptionAvailable();
  } catch {
    available = false;
  }
  const backend = platform === 'linux' ? ss.getSelectedStorageBackend?.() : undefined;
  const encrypt = (s: string) => ss.encryptString(s);
  const decrypt = (b: Buffer) => ss.decryptString(b);
  if (backend === 'basic_text') return available ? { backend: 'basic_text', warning: BASIC_TEXT_WARNING, encrypt, decrypt } : { backend: 'basic_text', warning: BASIC_TEXT_WARNING };
  if (!available || backend === 'unknown') return { backend: 'session', warning: NO_ENCRYPTION_WARNING };
  return { backend: 'keychain', encrypt, decrypt };
}
