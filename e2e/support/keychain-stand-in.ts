import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { SecretCipher } from '../../electron/services/secrets/vault';

/**
 * A stand-in for the OS keychain behind Electron's safeStorage, which cannot run here (no
 * Electron binary, no keyring): AES-256-GCM with a key held in memory, as safeStorage holds its
 * key in the keychain. Pass the same `key` to read what another instance wrote.
 */
export function keychainStandIn(key: Buffer = randomBytes(32), backend: SecretCipher['backend'] = 'keychain'): SecretCipher & { key: Buffer } {
  return {
    key,
    backend,
    encrypt: (plain) => {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
      return Buffer.concat([iv, c.getAuthTag(), body]);
    },
    decrypt: (data) => {
      const d = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
      d.setAuthTag(data.subarray(12, 28));
      return Buffer.concat([d.update(data.subarray(28)), d.final()]).toString('utf8');
    },
  };
}
