import { describe, expect, it } from 'vitest';
import { BHS_LENGTH, buildLoginRequest, decodeTextKeys, encodeTextKeys, Opcode, pad4, parseBhs, parseLoginResponseHead } from './pdu';

describe('iSCSI PDU basics (RFC 7143 §11)', () => {
  const req = buildLoginRequest({
    isid: Buffer.from([0x80, 1, 2, 3, 0, 0]),
    tsih: 0,
    itt: 7,
    cid: 0,
    cmdSN: 1,
    expStatSN: 0,
    csg: 0,
    nsg: 1,
    transit: true,
    keys: [
      ['InitiatorName', 'iqn.2024-01.io.bootchain:scanner'],
      ['SessionType', 'Discovery'],
    ],
  });

  it('lays out a Login Request header', () => {
    const h = parseBhs(req);
    expect(h.immediate).toBe(true);
    expect(h.opcode).toBe(Opcode.LoginRequest);
    expect(h.flags).toBe(0x81); // T=1, CSG=0, NSG=1
    expect(req.readUInt32BE(16)).toBe(7);
    expect(req.length).toBe(BHS_LENGTH + pad4(h.dataSegmentLength));
    expect(req.length % 4).toBe(0);
    const keys = decodeTextKeys(req.subarray(BHS_LENGTH, BHS_LENGTH + h.dataSegmentLength));
    expect(keys).toEqual([
      ['InitiatorName', 'iqn.2024-01.io.bootchain:scanner'],
      ['SessionType', 'Discovery'],
    ]);
  });

  it('refuses keys and values that could smuggle another key', () => {
    expect(() => encodeTextKeys([['Bad Key', 'x']])).toThrow(RangeError);
    expect(() => encodeTextKeys([['Key', 'a\0Other=b']])).toThrow(RangeError);
    expect(() => decodeTextKeys(Buffer.from('novalue\0'))).toThrow(/malformed/);
  });

  it('reads a Login Response head and refuses other opcodes', () => {
    const resp = Buffer.alloc(48);
    resp[0] = Opcode.LoginResponse;
    resp[1] = 0x81;
    resp[36] = 2;
    resp[37] = 1;
    expect(parseLoginResponseHead(resp)).toMatchObject({ transit: true, csg: 0, nsg: 1, statusClass: 2, statusDetail: 1 });
    const other = Buffer.from('HTTP/1.1 400 Bad Request\r\n'.padEnd(48, ' '));
    expect(() => parseLoginResponseHead(other)).toThrow(/not a Login Response/);
    expect(() => parseBhs(Buffer.alloc(10))).toThrow(RangeError);
  });
});
