import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { fail } from '../../../shared/errors';

/**
 * CHAP for iSCSI (RFC 7143 §12.1.3, RFC 1994): response = H(identifier || secret || challenge).
 * CHAP_A 5 is MD5; 7 is SHA-256 (RFC 7143 updates / IANA registry), used when the target offers it.
 */
export const CHAP_ALGORITHMS: Record<number, 'md5' | 'sha256'> = { 5: 'md5', 7: 'sha256' };

/** Parses a binary value: 0x-hex or 0b-base64 (RFC 7143 §6.1). */
export function parseBinary(v: string, key: string): Buffer {
  if (/^0[xX][0-9a-fA-F]+$/.test(v) && v.length % 2 === 0) return Buffer.from(v.slice(2), 'hex');
  if (/^0[xX][0-9a-fA-F]+$/.test(v)) return Buffer.from(`0${v.slice(2)}`, 'hex');
  if (/^0[bB][A-Za-z0-9+/]+=*$/.test(v)) return Buffer.from(v.slice(2), 'base64');
  return fail('PROTOCOL_ERROR', `The target sent a malformed ${key}`, { detail: v.slice(0, 40) });
}

/** Encodes bytes as a 0x-hex binary value. */
export const toHexValue = (b: Buffer): string => `0x${b.toString('hex')}`;

/** The CHAP response for an identifier, secret and challenge. */
export function chapResponse(alg: number, id: number, secret: string, challenge: Buffer): Buffer {
  const h = CHAP_ALGORITHMS[alg];
  if (!h) return fail('PROTOCOL_ERROR', `The target chose CHAP algorithm ${alg}, which Bootchain does not offer`);
  return createHash(h).update(Buffer.from([id & 0xff])).update(Buffer.from(secret, 'utf8')).update(challenge).digest();
}

/** A fresh challenge for mutual CHAP: identifier and 16 random bytes (RFC 7143: at least as long as the hash). */
export function newChallenge(alg: number): { id: number; challenge: Buffer } {
  return { id: randomBytes(1)[0]!, challenge: randomBytes(alg === 7 ? 32 : 16) };
}

/** Constant-time comparison of the target's mutual response. */
export function responseMatches(expected: Buffer, got: Buffer): boolean {
  return expected.length === got.length && timingSafeEqual(expected, got);
}
