import { describe, expect, it } from 'vitest';
import { crc32c, digestBytes } from './crc32c';

// Test vectors from RFC 3720 appendix B.4 (bytes in transmission order).
describe('crc32c', () => {
  it('32 bytes of zeros', () => expect(digestBytes(Buffer.alloc(32)).toString('hex')).toBe('aa36918a'));
  it('32 bytes of 0xff', () => expect(digestBytes(Buffer.alloc(32, 0xff)).toString('hex')).toBe('43aba862'));
  it('32 incrementing bytes', () => expect(digestBytes(Buffer.from(Array.from({ length: 32 }, (_, i) => i))).toString('hex')).toBe('4e79dd46'));
  it('32 decrementing bytes', () => expect(digestBytes(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))).toString('hex')).toBe('5cdb3f11'));
  it('check value of "123456789"', () => expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283));
});
