/**
 * iSCSI PDU codec (RFC 7143 §11): the 48-byte Basic Header Segment, additional header segments,
 * the data segment padded to 4 bytes, optional CRC32C header and data digests, and text
 * key=value data. The reader refuses anything malformed or larger than what we declared, with a
 * PROTOCOL_ERROR — never a crash, never unbounded buffering.
 */
import { fail } from '../../../shared/errors';
import { digestBytes } from './crc32c';

/** Length of the Basic Header Segment (RFC 7143 §11.2.1). */
export const BHS_LENGTH = 48;
/** The largest TotalAHSLength (one byte of 4-byte words). */
export const MAX_AHS_LENGTH = 255 * 4;
/** RFC 7143 §13.12: MaxRecvDataSegmentLength is 512 to 2^24-1; we declare this by default. */
export const DEFAULT_MAX_RECV = 65536;
/** Reserved Target Transfer Tag / ITT value. */
export const RESERVED_TAG = 0xffffffff;

/** Opcodes (RFC 7143 §11.2.1.2). */
export const Opcode = {
  NopOut: 0x00,
  ScsiCommand: 0x01,
  TaskMgmtRequest: 0x02,
  LoginRequest: 0x03,
  TextRequest: 0x04,
  DataOut: 0x05,
  LogoutRequest: 0x06,
  SnackRequest: 0x10,
  NopIn: 0x20,
  ScsiResponse: 0x21,
  TaskMgmtResponse: 0x22,
  LoginResponse: 0x23,
  TextResponse: 0x24,
  DataIn: 0x25,
  LogoutResponse: 0x26,
  R2T: 0x31,
  AsyncMessage: 0x32,
  Reject: 0x3f,
} as const;

/** Opcodes a target may send. */
const TARGET_OPCODES = new Set<number>([0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x31, 0x32, 0x3f]);

/** Login stages (RFC 7143 §11.12.3): CSG/NSG values. */
export const Stage = { Security: 0, Operational: 1, FullFeature: 3 } as const;

/** One decoded PDU. */
export interface Pdu {
  bhs: Buffer;
  ahs: Buffer;
  data: Buffer;
}

export const opcodeOf = (bhs: Buffer): number => bhs[0]! & 0x3f;
export const flagsOf = (bhs: Buffer): number => bhs[1]!;
export const ittOf = (bhs: Buffer): number => bhs.readUInt32BE(16);
export const dataLengthOf = (bhs: Buffer): number => bhs.readUIntBE(5, 3);

/** Common fields of a BHS. */
export interface Bhs {
  immediate: boolean;
  opcode: number;
  flags: number;
  totalAhsLength: number;
  dataSegmentLength: number;
  raw: Buffer;
}

/** Reads the common fields of a 48-byte BHS. */
export function parseBhs(buf: Buffer): Bhs {
  if (buf.length < BHS_LENGTH) fail('PROTOCOL_ERROR', `A PDU header needs ${BHS_LENGTH} bytes, got ${buf.length}`);
  return {
    immediate: (buf[0]! & 0x40) !== 0,
    opcode: buf[0]! & 0x3f,
    flags: buf[1]!,
    totalAhsLength: buf[4]! * 4,
    dataSegmentLength: buf.readUIntBE(5, 3),
    raw: buf.subarray(0, BHS_LENGTH),
  };
}

/** Pads a length up to a multiple of 4 (RFC 7143 §11.1). */
export const pad4 = (n: number): number => (n + 3) & ~3;

/** Digest settings of a connection (they apply after the login phase, RFC 7143 §13.1). */
export interface Digests {
  header: boolean;
  data: boolean;
}

/** Serialises a PDU: sets the lengths in a copy of the BHS, pads, adds digests. */
export function encodePdu(bhs: Buffer, data: Buffer = Buffer.alloc(0), digests: Digests = { header: false, data: false }, ahs = Buffer.alloc(0)): Buffer {
  if (bhs.length !== BHS_LENGTH) throw new RangeError('BHS is 48 bytes');
  if (ahs.length % 4 !== 0 || ahs.length > MAX_AHS_LENGTH) throw new RangeError('bad AHS length');
  if (data.length > 0xffffff) throw new RangeError('data segment too large');
  const head = Buffer.concat([bhs, ahs]);
  head[4] = ahs.length / 4;
  head.writeUIntBE(data.length, 5, 3);
  const parts: Buffer[] = [head];
  if (digests.header) parts.push(digestBytes(head));
  if (data.length > 0) {
    const padded = Buffer.alloc(pad4(data.length));
    data.copy(padded);
    parts.push(padded);
    if (digests.data) parts.push(digestBytes(padded));
  }
  return Buffer.concat(parts);
}

/**
 * Incremental PDU reader: feed it socket chunks, take complete PDUs out. It holds at most one
 * PDU's worth of bytes, and refuses lengths over the limit we declared.
 */
export class PduReader {
  private buf: Buffer = Buffer.alloc(0);
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** Bytes the PDU at the head of `buf` needs in all (0: unknown until more is parsed). */
  private needed = 0;
  digests: Digests;
  maxDataSegmentLength: number;

  constructor(opts: { maxDataSegmentLength?: number; digests?: Digests } = {}) {
    this.maxDataSegmentLength = opts.maxDataSegmentLength ?? DEFAULT_MAX_RECV;
    this.digests = opts.digests ?? { header: false, data: false };
  }

  /** Bytes held that do not yet make a whole PDU. */
  get buffered(): number {
    return this.buf.length + this.pendingLength;
  }

  /** Adds bytes; returns the PDUs now complete. Throws PROTOCOL_ERROR on malformed input. */
  push(chunk: Buffer): Pdu[] {
    // Chunks of a PDU still incomplete wait in a list and are joined once it is whole: joining
    // each socket chunk onto the rest would copy a 256 KiB Data-In PDU many times over.
    if (this.buf.length + this.pendingLength + chunk.length < this.needed) {
      this.pending.push(chunk);
      this.pendingLength += chunk.length;
      return [];
    }
    if (this.pending.length > 0) {
      this.buf = Buffer.concat([this.buf, ...this.pending, chunk]);
      this.pending = [];
      this.pendingLength = 0;
    } else this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    this.needed = 0;
    const out: Pdu[] = [];
    for (;;) {
      if (this.buf.length < BHS_LENGTH) break;
      const opcode = this.buf[0]! & 0x3f;
      if (!TARGET_OPCODES.has(opcode)) {
        fail('PROTOCOL_ERROR', `The target sent opcode 0x${opcode.toString(16)}, which no iSCSI target sends`, {
          detail: `first bytes: ${this.buf.subarray(0, 16).toString('hex')}`,
        });
      }
      const ahsLen = this.buf[4]! * 4;
      const dataLen = this.buf.readUIntBE(5, 3);
      if (dataLen > this.maxDataSegmentLength) {
        fail('PROTOCOL_ERROR', `The target announced a ${dataLen}-byte data segment, more than the ${this.maxDataSegmentLength} bytes we allowed`, {
          hint: 'The peer is not behaving like an iSCSI target: check the address, or report the target firmware.',
        });
      }
      const headLen = BHS_LENGTH + ahsLen + (this.digests.header ? 4 : 0);
      const total = headLen + pad4(dataLen) + (dataLen > 0 && this.digests.data ? 4 : 0);
      if (this.buf.length < total) {
        this.needed = total;
        break;
      }
      const head = this.buf.subarray(0, BHS_LENGTH + ahsLen);
      if (this.digests.header) {
        const want = digestBytes(head);
        if (!want.equals(this.buf.subarray(BHS_LENGTH + ahsLen, headLen))) fail('PROTOCOL_ERROR', 'Header digest mismatch: the PDU header was corrupted on the way', { retryable: true });
      }
      const padded = this.buf.subarray(headLen, headLen + pad4(dataLen));
      if (dataLen > 0 && this.digests.data) {
        const want = digestBytes(padded);
        if (!want.equals(this.buf.subarray(headLen + pad4(dataLen), total))) fail('PROTOCOL_ERROR', 'Data digest mismatch: the data was corrupted on the way', { retryable: true });
      }
      out.push({
        bhs: Buffer.from(this.buf.subarray(0, BHS_LENGTH)),
        ahs: Buffer.from(this.buf.subarray(BHS_LENGTH, BHS_LENGTH + ahsLen)),
        data: Buffer.from(padded.subarray(0, dataLen)),
      });
      this.buf = this.buf.subarray(total);
    }
    return out;
  }
}

/** Longest key name (RFC 7143 §6.1). */
export const MAX_KEY_LENGTH = 63;
/** Longest ordinary value (RFC 7143 §6.1); binary CHAP values may be longer. */
export const MAX_VALUE_LENGTH = 255;
/** Longest iSCSI name (RFC 7143 §6.1, §4.2.7.1). */
export const MAX_NAME_LENGTH = 223;
/** Longest binary value we accept (CHAP challenges and responses, as hex or base64). */
const MAX_BINARY_VALUE = 8192;
const BINARY_KEYS = new Set(['CHAP_C', 'CHAP_R']);
const KEY_RE = /^[A-Za-z0-9.\-+@_]+$/;

function valueLimit(key: string): number {
  if (BINARY_KEYS.has(key)) return MAX_BINARY_VALUE;
  if (key === 'TargetName' || key === 'InitiatorName') return MAX_NAME_LENGTH;
  return MAX_VALUE_LENGTH;
}

/** Encodes `key=value\0` pairs, refusing anything outside the RFC limits (no smuggled keys). */
export function encodeTextKeys(pairs: Array<[string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of pairs) {
    if (!KEY_RE.test(k) || Buffer.byteLength(k) > MAX_KEY_LENGTH) fail('INVALID_INPUT', `"${k.slice(0, 64)}" is not a valid iSCSI key`);
    if (v.includes('\0') || Buffer.byteLength(v) > valueLimit(k)) {
      fail('INVALID_INPUT', `The value for ${k} is not allowed in iSCSI (a NUL character, or longer than ${valueLimit(k)} bytes)`, { field: k });
    }
    parts.push(Buffer.from(`${k}=${v}\0`, 'utf8'));
  }
  return Buffer.concat(parts);
}

/** Decodes `key=value\0` pairs with the RFC limits; PROTOCOL_ERROR on anything malformed. */
export function decodeTextKeys(buf: Buffer): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let start = 0;
  while (start < buf.length) {
    let end = buf.indexOf(0, start);
    if (end < 0) end = buf.length; // A last pair without its NUL is tolerated.
    const item = buf.subarray(start, end);
    start = end + 1;
    if (item.length === 0) continue;
    const eq = item.indexOf(0x3d);
    const key = eq > 0 ? item.subarray(0, eq).toString('latin1') : '';
    if (eq <= 0 || key.length > MAX_KEY_LENGTH || !KEY_RE.test(key)) {
      fail('PROTOCOL_ERROR', 'The target sent a malformed text key', { detail: JSON.stringify(item.subarray(0, 80).toString('latin1')) });
    }
    const value = item.subarray(eq + 1);
    if (value.length > valueLimit(key)) fail('PROTOCOL_ERROR', `The target sent a ${value.length}-byte value for ${key}, over the RFC limit`);
    out.push([key, value.toString('utf8')]);
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

/** Builds a Login Request PDU (login PDUs never carry digests). */
export function buildLoginRequest(r: LoginRequest): Buffer {
  if (r.isid.length !== 6) throw new RangeError('ISID is 6 bytes');
  const bhs = Buffer.alloc(BHS_LENGTH);
  bhs[0] = 0x40 | Opcode.LoginRequest; // Login Requests are always immediate.
  bhs[1] = (r.transit ? 0x80 : 0) | ((r.csg & 3) << 2) | (r.transit ? r.nsg & 3 : 0);
  bhs[2] = 0x00; // Version-max
  bhs[3] = 0x00; // Version-min
  r.isid.copy(bhs, 8);
  bhs.writeUInt16BE(r.tsih, 14);
  bhs.writeUInt32BE(r.itt >>> 0, 16);
  bhs.writeUInt16BE(r.cid, 20);
  bhs.writeUInt32BE(r.cmdSN >>> 0, 24);
  bhs.writeUInt32BE(r.expStatSN >>> 0, 28);
  return encodePdu(bhs, encodeTextKeys(r.keys));
}

/** The fields of a Login Response (RFC 7143 §11.13). */
export interface LoginResponseHead {
  transit: boolean;
  cont: boolean;
  csg: number;
  nsg: number;
  versionMax: number;
  versionActive: number;
  statusClass: number;
  statusDetail: number;
  tsih: number;
  itt: number;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
}

/** Reads a Login Response BHS; PROTOCOL_ERROR when the opcode is not Login Response. */
export function parseLoginResponseHead(bhs: Buffer): LoginResponseHead {
  const h = parseBhs(bhs);
  if (h.opcode !== Opcode.LoginResponse) fail('PROTOCOL_ERROR', `opcode 0x${h.opcode.toString(16)} is not a Login Response`);
  return {
    transit: (h.flags & 0x80) !== 0,
    cont: (h.flags & 0x40) !== 0,
    csg: (h.flags >> 2) & 3,
    nsg: h.flags & 3,
    versionMax: bhs[2]!,
    versionActive: bhs[3]!,
    tsih: bhs.readUInt16BE(14),
    itt: bhs.readUInt32BE(16),
    statSN: bhs.readUInt32BE(24),
    expCmdSN: bhs.readUInt32BE(28),
    maxCmdSN: bhs.readUInt32BE(32),
    statusClass: bhs[36]!,
    statusDetail: bhs[37]!,
  };
}

/** Sequence numbers a request carries. */
export interface Seq {
  itt: number;
  cmdSN: number;
  expStatSN: number;
}

/** Text Request (RFC 7143 §11.10); `ttt` continues a reply the target split (C bit). */
export function buildTextRequest(seq: Seq, keys: Array<[string, string]>, ttt = RESERVED_TAG, digests?: Digests): Buffer {
  const bhs = Buffer.alloc(BHS_LENGTH);
  bhs[0] = Opcode.TextRequest;
  bhs[1] = 0x80; // F: final
  bhs.writeUInt32BE(seq.itt >>> 0, 16);
  bhs.writeUInt32BE(ttt >>> 0, 20);
  bhs.writeUInt32BE(seq.cmdSN >>> 0, 24);
  bhs.writeUInt32BE(seq.expStatSN >>> 0, 28);
  return encodePdu(bhs, encodeTextKeys(keys), digests);
}

/** Logout Request, reason 0: close the session (RFC 7143 §11.14). */
export function buildLogoutRequest(seq: Seq, digests?: Digests): Buffer {
  const bhs = Buffer.alloc(BHS_LENGTH);
  bhs[0] = 0x40 | Opcode.LogoutRequest;
  bhs[1] = 0x80;
  bhs.writeUInt32BE(seq.itt >>> 0, 16);
  bhs.writeUInt32BE(seq.cmdSN >>> 0, 24);
  bhs.writeUInt32BE(seq.expStatSN >>> 0, 28);
  return encodePdu(bhs, Buffer.alloc(0), digests);
}

/** NOP-Out answering a target's NOP-In ping (RFC 7143 §11.18). */
export function buildNopOut(seq: Seq, ttt: number, lun: Buffer, digests?: Digests): Buffer {
  const bhs = Buffer.alloc(BHS_LENGTH);
  bhs[0] = 0x40 | Opcode.NopOut;
  bhs[1] = 0x80;
  lun.copy(bhs, 8, 0, 8);
  bhs.writeUInt32BE(RESERVED_TAG, 16);
  bhs.writeUInt32BE(ttt >>> 0, 20);
  bhs.writeUInt32BE(seq.cmdSN >>> 0, 24);
  bhs.writeUInt32BE(seq.expStatSN >>> 0, 28);
  return encodePdu(bhs, Buffer.alloc(0), digests);
}

/** SCSI Command for a read (RFC 7143 §11.3): R bit, simple task attribute, the CDB. */
export function buildScsiRead(seq: Seq, lun: Buffer, cdb: Buffer, expectedLength: number, digests?: Digests): Buffer {
  if (cdb.length > 16) throw new RangeError('CDBs over 16 bytes need an AHS');
  const bhs = Buffer.alloc(BHS_LENGTH);
  bhs[0] = Opcode.ScsiCommand;
  bhs[1] = 0x80 | (expectedLength > 0 ? 0x40 : 0) | 0x01; // F, R, ATTR=simple
  lun.copy(bhs, 8, 0, 8);
  bhs.writeUInt32BE(seq.itt >>> 0, 16);
  bhs.writeUInt32BE(expectedLength >>> 0, 20);
  bhs.writeUInt32BE(seq.cmdSN >>> 0, 24);
  bhs.writeUInt32BE(seq.expStatSN >>> 0, 28);
  cdb.copy(bhs, 32);
  return encodePdu(bhs, Buffer.alloc(0), digests);
}

/** LUN field encoding (SAM: peripheral addressing below 256, flat space up to 16383). */
export function encodeLun(lun: number): Buffer {
  const b = Buffer.alloc(8);
  if (!Number.isInteger(lun) || lun < 0 || lun > 16383) throw new RangeError(`LUN ${lun} out of range`);
  if (lun < 256) b[1] = lun;
  else {
    b[0] = 0x40 | (lun >> 8);
    b[1] = lun & 0xff;
  }
  return b;
}

/** Decodes an 8-byte LUN of a REPORT LUNS list. */
export function decodeLun(b: Buffer): number {
  const method = b[0]! >> 6;
  if (method === 1) return ((b[0]! & 0x3f) << 8) | b[1]!;
  return b[1]!;
}

/**
 * The parts of a PDU on the wire without copying the data segment (the writer sends hundreds of
 * MiB): the header with its lengths set (and header digest), the data, its padding and data digest
 * (RFC 7143 §11.1, §13.1). Concatenated they equal encodePdu's result.
 */
export function encodePduParts(bhs: Buffer, data: Buffer, digests: Digests): Buffer[] {
  if (bhs.length !== BHS_LENGTH) throw new RangeError('BHS is 48 bytes');
  if (data.length > 0xffffff) throw new RangeError('data segment too large');
  const head = Buffer.from(bhs);
  head[4] = 0;
  head.writeUIntBE(data.length, 5, 3);
  const parts: Buffer[] = [digests.header ? Buffer.concat([head, digestBytes(head)]) : head];
  if (data.length > 0) {
    parts.push(data);
    const pad = pad4(data.length) - data.length;
    const padding = Buffer.alloc(pad);
    if (pad > 0) parts.push(padding);
    if (digests.data) {
      // CRC32C runs over the data and its padding (RFC 7143 §13.1).
      parts.push(pad > 0 ? digestBytes(Buffer.concat([data, padding])) : digestBytes(data));
    }
  }
  return parts;
}

/** Fields of a SCSI Command PDU (RFC 7143 §11.3). */
export interface ScsiCommandFields extends Seq {
  lun: Buffer;
  cdb: Buffer;
  expectedLength: number;
  read?: boolean;
  write?: boolean;
  /** F bit: no unsolicited Data-Out follows this PDU (§11.3.1). */
  final: boolean;
}

/** The BHS of a SCSI Command: R/W bits, simple task attribute, the CDB (RFC 7143 §11.3). */
export function scsiCommandBhs(f: ScsiCommandFields): Buffer {
  if (f.cdb.length > 16) throw new RangeError('CDBs over 16 bytes need an AHS');
  const bhs = Buffer.alloc(BHS_LENGTH);
  bhs[0] = Opcode.ScsiCommand;
  bhs[1] = (f.final ? 0x80 : 0) | (f.read ? 0x40 : 0) | (f.write ? 0x20 : 0) | 0x01;
  f.lun.copy(bhs, 8, 0, 8);
  bhs.writeUInt32BE(f.itt >>> 0, 16);
  bhs.writeUInt32BE(f.expectedLength >>> 0, 20);
  bhs.writeUInt32BE(f.cmdSN >>> 0, 24);
  bhs.writeUInt32BE(f.expStatSN >>> 0, 28);
  f.cdb.copy(bhs, 32);
  return bhs;
}

/** The BHS of a SCSI Data-Out (RFC 7143 §11.7): TTT from the R2T (all ones when unsolicited). */
export function dataOutBhs(f: { lun: Buffer; itt: number; ttt: number; expStatSN: number; dataSN: number; offset: number; final: boolean }): Buffer {
  const bhs = Buffer.alloc(BHS_LENGTH);
  bhs[0] = Opcode.DataOut;
  bhs[1] = f.final ? 0x80 : 0;
  f.lun.copy(bhs, 8, 0, 8);
  bhs.writeUInt32BE(f.itt >>> 0, 16);
  bhs.writeUInt32BE(f.ttt >>> 0, 20);
  bhs.writeUInt32BE(f.expStatSN >>> 0, 28);
  bhs.writeUInt32BE(f.dataSN >>> 0, 36);
  bhs.writeUInt32BE(f.offset >>> 0, 40);
  return bhs;
}
