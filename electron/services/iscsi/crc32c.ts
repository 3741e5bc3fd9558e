/**
 * CRC32C (Castagnoli), the iSCSI header and data digest (RFC 7143 §13.1, RFC 3720 appendix B.4).
 * The digest goes on the wire least significant byte first.
 */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC32C of a buffer. */
export function crc32c(buf: Uint8Array, seed = 0): number {
  let c = ~seed >>> 0;
  for (let i = 0; i < buf.length; i++) c = TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** The 4 digest bytes as sent on the wire. */
export function digestBytes(buf: Uint8Array): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(crc32c(buf), 0);
  return b;
}
