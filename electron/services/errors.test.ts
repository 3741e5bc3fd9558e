import { describe, expect, it } from 'vitest';
import { BootchainError, appError } from '../../shared/errors';
import { redact, toAppError } from './errors';

describe('toAppError and redact', () => {
  it('keeps a BootchainError as it is, redacting its detail', () => {
    const e = new BootchainError(appError('AUTH_FAILED', 'bad', { detail: 'sent CHAP_S=supersecret1 to target' }));
    const a = toAppError(e);
    expect(a.code).toBe('AUTH_FAILED');
    expect(a.detail).not.toContain('supersecret1');
  });
  it('maps errno codes with a hint', () => {
    const a = toAppError(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:3260'), { code: 'ECONNREFUSED' }));
    expect(a.code).toBe('UNREACHABLE');
    expect(a.hint).toMatch(/Nothing listens/);
  });
  it('redacts passwords, tokens and private keys', () => {
    const t = redact('password=hunter2 token: abc123 -----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----');
    expect(t).not.toMatch(/hunter2|abc123|AAAA/);
  });
  it('maps unknown throws to INTERNAL', () => {
    expect(toAppError('weird').code).toBe('INTERNAL');
  });
});
