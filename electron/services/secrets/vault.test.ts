import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { keychainStandIn } from '../../../e2e/support/keychain-stand-in';
import { BootchainError } from '../../../shared/errors';
import { chapKey, SecretKey, sshKey } from '../../../shared/secrets';
import { BASIC_TEXT_WARNING, NO_ENCRYPTION_WARNING, safeStorageCipher, type SafeStorageLike } from '../../main/secret-cipher';
import { sessionCipher, SecretVault } from './vault';

// The OS keychain cannot run here (no Electron, no keyring): keychainStandIn encrypts with an
// in-memory key instead, which is what the vault sees of safeStorage.
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'bc-vault-'));
const SECRET = 'Kx7pQ2mWz9Ra';
const key = chapKey('lab', 'ws1.chap');

describe('secret vault', () => {
  it('remembers a secret encrypted: never in clear on disk, 0600, readable by the next start', () => {
    const dir = tmp();
    const cipher = keychainStandIn();
    const v = new SecretVault(dir, cipher);
    expect(v.set(key, SECRET, { remember: true })).toEqual({ kept: 'disk' });
    const text = readFileSync(v.file, 'utf8');
    expect(text).not.toContain(SECRET);
    expect(text).toContain(key);
    expect(statSync(v.file).mode & 0o777).toBe(0o600);
    const again = new SecretVault(dir, keychainStandIn(cipher.key));
    expect(again.get([key, chapKey('lab', 'other')])).toEqual({ [key]: SECRET });
    expect(again.status()).toMatchObject({ backend: 'keychain', persistent: true, stored: [key], session: [], unreadable: [] });
  });

  it('keeps a secret for the session only when not remembered, and drops an older remembered copy', () => {
    const dir = tmp();
    const cipher = keychainStandIn();
    const v = new SecretVault(dir, cipher);
    v.set(key, SECRET, { remember: true });
    expect(v.set(key, 'NewSecret1234', { remember: false })).toEqual({ kept: 'session' });
    expect(v.get([key])).toEqual({ [key]: 'NewSecret1234' });
    expect(v.status().session).toEqual([key]);
    expect(new SecretVault(dir, keychainStandIn(cipher.key)).get([key])).toEqual({});
  });

  it('basic_text: refuses to write unless the user accepts it, and says why', () => {
    const dir = tmp();
    const v = new SecretVault(dir, { ...keychainStandIn(undefined, 'basic_text'), warning: BASIC_TEXT_WARNING });
    expect(v.status()).toMatchObject({ backend: 'basic_text', persistent: false, warning: BASIC_TEXT_WARNING });
    let code = '';
    try {
      v.set(key, SECRET, { remember: true });
    } catch (e) {
      code = (e as BootchainError).appError.code;
    }
    expect(code).toBe('NEEDS_CONFIRMATION');
    expect(readdirSync(dir)).toEqual([]);
    expect(v.get([key])).toEqual({ [key]: SECRET }); // still usable in this session
    expect(v.set(key, SECRET, { remember: true, allowPlainText: true })).toEqual({ kept: 'disk' });
  });

  it('without encryption secrets stay in the session', () => {
    const dir = tmp();
    const v = new SecretVault(dir, sessionCipher(NO_ENCRYPTION_WARNING));
    expect(v.set(key, SECRET, { remember: true })).toEqual({ kept: 'session' });
    expect(readdirSync(dir)).toEqual([]);
    expect(v.status()).toMatchObject({ backend: 'session', persistent: false, warning: NO_ENCRYPTION_WARNING, session: [key] });
  });

  it('a changed keychain makes entries unreadable (listed, never returned); forget removes them', () => {
    const dir = tmp();
    new SecretVault(dir, keychainStandIn()).set(key, SECRET, { remember: true });
    const v = new SecretVault(dir, keychainStandIn());
    expect(v.get([key])).toEqual({});
    expect(v.status()).toMatchObject({ stored: [], unreadable: [key] });
    expect(v.forget(key)).toEqual({ forgotten: true });
    expect(v.status().unreadable).toEqual([]);
    expect(JSON.parse(readFileSync(v.file, 'utf8')).entries).toEqual({});
  });

  it('a damaged file is kept aside, not lost, and the user is told', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'secrets.json'), '{"version":1,"entries":');
    const v = new SecretVault(dir, keychainStandIn());
    expect(v.status().warning).toMatch(/damaged.*kept as secrets\.json\.damaged-\d+/);
    expect(readdirSync(dir).filter((f) => f.startsWith('secrets.json.damaged-'))).toHaveLength(1);
  });

  it('the harness and CLI read secrets from the environment', () => {
    const env = { BOOTCHAIN_SECRET_WS1_CHAP: 'FromEnv12345', BOOTCHAIN_SSH_PASSWORD: 'pw-env', BOOTCHAIN_SSH_PASSPHRASE: 'pp-env' };
    const v = new SecretVault(tmp(), sessionCipher('session'), env);
    const pw = sshKey('root', '10.0.0.2', 22, 'password');
    const pp = sshKey('root', 'fe80::1', 2222, 'passphrase');
    expect(pp).toBe('ssh/root@[fe80::1]:2222/passphrase');
    expect(v.get([key, pw, pp])).toEqual({ [key]: 'FromEnv12345', [pw]: 'pw-env', [pp]: 'pp-env' });
    v.set(key, 'Typed1234567', { remember: false });
    expect(v.get([key])[key]).toBe('Typed1234567');
  });

  it('keys are validated: nothing else can name a secret', () => {
    for (const good of [key, sshKey('bc_user', 'nas.lan', 22, 'password'), sshKey('root', '::1', 22, 'passphrase')]) expect(SecretKey.safeParse(good).success, good).toBe(true);
    for (const bad of ['chap/../x', 'chap/Lab/ws', 'ssh/root@nas;rm:22/password', 'ssh/root@nas:22/token', '/etc/passwd', 'chap/lab/ws1.chap/extra']) expect(SecretKey.safeParse(bad).success, bad).toBe(false);
  });
});

describe('safeStorage cipher', () => {
  // A stand-in object for Electron's safeStorage (no Electron here), answering as it documents.
  const fake = (available: boolean, backend?: string): SafeStorageLike => ({
    isEncryptionAvailable: () => available,
    encryptString: (s) => Buffer.from(`enc:${s}`),
    decryptString: (b) => b.toString().slice(4),
    ...(backend ? { getSelectedStorageBackend: () => backend } : {}),
  });
  it('gnome_libsecret / kwallet on Linux, Keychain on macOS, DPAPI on Windows: the keychain', () => {
    for (const [ss, platform] of [
      [fake(true, 'gnome_libsecret'), 'linux'],
      [fake(true, 'kwallet6'), 'linux'],
      [fake(true), 'darwin'],
      [fake(true), 'win32'],
    ] as const) {
      const c = safeStorageCipher(ss, platform);
      expect(c.backend).toBe('keychain');
      expect(c.warning).toBeUndefined();
      expect(c.decrypt!(c.encrypt!('x'))).toBe('x');
    }
  });
  it('basic_text on Linux warns that it protects nothing; no encryption at all keeps the session', () => {
    expect(safeStorageCipher(fake(true, 'basic_text'), 'linux')).toMatchObject({ backend: 'basic_text', warning: BASIC_TEXT_WARNING });
    expect(safeStorageCipher(fake(false, 'basic_text'), 'linux').backend).toBe('basic_text');
    expect(safeStorageCipher(fake(false, 'gnome_libsecret'), 'linux')).toMatchObject({ backend: 'session', warning: NO_ENCRYPTION_WARNING });
    expect(safeStorageCipher(fake(false), 'darwin').backend).toBe('session');
    const thrower = { ...fake(true), isEncryptionAvailable: () => { throw new Error('not ready'); } };
    expect(safeStorageCipher(thrower, 'win32').backend).toBe('session');
  });
});
