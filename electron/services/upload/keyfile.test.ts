import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyNeedsPassphrase } from './keyfile';

// Real keys made by ssh-keygen, in each format it writes.
const hasKeygen = existsSync('/usr/bin/ssh-keygen');
if (!hasKeygen) process.stdout.write('SKIP keyfile.test.ts: ssh-keygen (openssh-client) is missing\n');

describe.skipIf(!hasKeygen)('private key files', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-keys-'));
  const key = (name: string, args: string[]) => {
    const f = path.join(dir, name);
    execFileSync('ssh-keygen', ['-q', '-f', f, '-C', 'test', ...args]);
    return readFileSync(f, 'utf8');
  };
  it('tells encrypted keys from plain ones', () => {
    expect(keyNeedsPassphrase(key('ed-plain', ['-t', 'ed25519', '-N', '']))).toBe(false);
    expect(keyNeedsPassphrase(key('ed-enc', ['-t', 'ed25519', '-N', 'secret-pass']))).toBe(true);
    expect(keyNeedsPassphrase(key('rsa-pem-plain', ['-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', '']))).toBe(false);
    expect(keyNeedsPassphrase(key('rsa-pem-enc', ['-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', 'secret-pass']))).toBe(true);
    expect(keyNeedsPassphrase(key('ec-pkcs8-enc', ['-t', 'ecdsa', '-m', 'PKCS8', '-N', 'secret-pass']))).toBe(true);
    expect(keyNeedsPassphrase('PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: aes256-cbc\n')).toBe(true);
    expect(keyNeedsPassphrase('PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n')).toBe(false);
    expect(keyNeedsPassphrase('not a key')).toBe(false);
  });
});
