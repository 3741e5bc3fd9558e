/**
 * iSCSI PDU basics (RFC 7143 §11): the 48-byte Basic Header Segment, text key=value data and
 * the Login Request. The full codec (digests, AHS, every opcode) grows from here.
 */

/** Length of the Basic Header Segment (RFC 7143 §11.2.1). */
export const BHS_LENGTH = 48;

/** Opcodes used here (RFC 7143 §11.2.1.2). */
export const Opcode = {
  LoginRequest: 0x03,
  LoginResponse: 0x23,
  TextRequest: 0x04,
  TextResponse: 0x24,
  LogoutRequest: 0x06,
  LogoutResponse: 0x26,
  Reject: 0x3f,
} as const;

/** Login stages (RFC 7143 §11.12.3): CSG/NSG values. */
export const Stage = { Security: 0, Operational: 1, FullFeature: 3 } as const;

/** Fields common to every BHS. */
export interface Bhs {
  immediate: boolean;
  opcode: number;
  /** Byte 1: opcode-specific flags (F, T, C, CSG, NSG ...). */
  flags: number;
  totalAhsLength: number;
  dataSegmentLength: number;
  raw: Buffer;
}

/** Reads the common fields of a 48-byte BHS. */
export function parseBhs(buf: Buffer): Bhs {
  if (buf.length < BHS_LENGTH) throw new RangeError(`BHS needs ${BHS_LENGTH} bytes, got ${buf.length}`);
  return {
    immediate: (buf[0]! & 0x40) !== 0,
    opcode: buf[0]! & 0x3f,
    flags: buf[1]!,
    totalAhsLength: buf[4]! * 4,
    dataSegmentLength: buf.readUIntBE(5, 3),
    raw: buf.subarray(0, BHS_LENGTH),
  };
}

/** Pads a length up to a multiple of 4 (RFC 7143 §11.1: data segments are padded). */
export const pad4 = (n: number): number => (n + 3) & ~3;

/**
 * Encodes text keys as `key=value\0` pairs (RFC 7143 §6.1). Keys and values are checked for
 * the characters the RFC allows so that no caller can smuggle a NUL or a second key.
 */
export function encodeTextKeys(pairs: Array<[string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of pairs) {
    if (!/^[A-Za-z0-9.\-+@_]{1,63}$/.test(k)) throw new RangeError(`invalid iSCSI key "${k}"`);
    if (v.includes('\0') || Buffer.byteLength(v) > 8192) throw new RangeError(`invalid value for ${k}`);
    parts.push(Buffer.from(`${k}=${v}\0`, 'utf8'));
  }
  return Buffer.concat(parts);
}

/** Decodes `key=value\0` pairs; a pair without `=` is refused. */
export function decodeTextKeys(buf: Buffer): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const text = buf.toString('utf8');
  for (const item of text.split('\0')) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new RangeError(`malformed text key "${item.slice(0, 64)}"`);
    out.push([item.slice(0, eq), item.slice(eq + 1)]);
  }
  return out;
}

/** Fields of a Login Request (RFC 7143 §11.12). */
export interface LoginRequest {
  isid: Buffer;
  tsih: number;
  itt: number;
  cid: number;
  cmdSN: number;
  expStatSN: number;
  csg: number;
  nsg: number;
  transit: boolean;
  keys: Array<[string, string]>;
}

/** Builds a Login Request PDU (BHS + padded data segment). */
export function buildLoginRequest(r: LoginRequest): Buffer {
  if (r.isid.length !== 6) throw new RangeError('ISID is 6 bytes');
  const data = encodeTextKeys(r.keys);
  const pdu = Buffer.alloc(BHS_LENGTH + pad4(data.length));
  pdu[0] = 0x40 | Opcode.LoginRequest; // Login Requests are always immediate.
  pdu[1] = (r.transit ? 0x80 : 0) | ((r.csg & 3) << 2) | (r.transit ? r.nsg & 3 : 0);
  pdu[2] = 0x00; // Version-max
  pdu[3] = 0x00; // Version-min
  pdu.writeUIntBE(data.length, 5, 3);
  r.isid.copy(pdu, 8);
  pdu.writeUInt16BE(r.tsih, 14);
  pdu.writeUInt32BE(r.itt >>> 0, 16);
  pdu.writeUInt16BE(r.cid, 20);
  pdu.writeUInt32BE(r.cmdSN >>> 0, 24);
  pdu.writeUInt32BE(r.expStatSN >>> 0, 28);
  data.copy(pdu, BHS_LENGTH);
  return pdu;
}

/** The parts of a Login Response the scanner needs (RFC 7143 §11.13). */
export interface LoginResponseHead {
  transit: boolean;
  csg: number;
  nsg: number;
  versionMax: number;
  versionActive: number;
  statusClass: number;
  statusDetail: number;
  tsih: number;
  itt: number;
}

/** Reads a Login Response BHS; throws when the opcode is not Login Response. */
export function parseLoginResponseHead(bhs: Buffer): LoginResponseHead {
  const h = parseBhs(bhs);
  if (h.opcode !== Opcode.LoginResponse) throw new RangeError(`opcode 0x${h.opcode.toString(16)} is not a Login Response`);
  return {
    transit: (h.flags & 0x80) !== 0,
    csg: (h.flags >> 2) & 3,
    nsg: h.flags & 3,
    versionMax: bhs[2]!,
    versionActive: bhs[3]!,
    tsih: bhs.readUInt16BE(14),
    itt: bhs.readUInt32BE(16),
    statusClass: bhs[36]!,
    statusDetail: bhs[37]!,
  };
}
