import { describe, expect, it } from 'vitest';
import { BHS_LENGTH, buildLoginRequest, decodeLun, decodeTextKeys, encodeLun, encodePdu, encodeTextKeys, Opcode, pad4, parseBhs, parseLoginResponseHead, PduReader } from './pdu';

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
    expect(() => encodeTextKeys([['Bad Key', 'x']])).toThrow(/not a valid iSCSI key/);
    expect(() => encodeTextKeys([['Key', 'a\0Other=b']])).toThrow(/NUL/);
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
    expect(() => parseBhs(Buffer.alloc(10))).toThrow(/needs 48 bytes/);
  });
});

describe('PduReader', () => {
  const textResponse = (data: Buffer, flags = 0x80) => {
    const bhs = Buffer.alloc(BHS_LENGTH);
    bhs[0] = Opcode.TextResponse;
    bhs[1] = flags;
    return { bhs, data };
  };

  it('reassembles PDUs from any chunking, with and without digests', () => {
    for (const digests of [
      { header: false, data: false },
      { header: true, data: true },
    ]) {
      const a = textResponse(Buffer.from('SendTargets=All\0'));
      const b = textResponse(Buffer.from('x=1\0'));
      const wire = Buffer.concat([encodePdu(a.bhs, a.data, digests), encodePdu(b.bhs, b.data, digests)]);
      for (const size of [1, 3, 47, 48, 49, 64, wire.length]) {
        const r = new PduReader({ digests });
        const out = [];
        for (let i = 0; i < wire.length; i += size) out.push(...r.push(wire.subarray(i, i + size)));
        expect(out.map((p) => p.data.toString())).toEqual(['SendTargets=All\0', 'x=1\0']);
        expect(r.buffered).toBe(0);
      }
    }
  });

  it('refuses a data segment over what we declared, before buffering it', () => {
    const r = new PduReader({ maxDataSegmentLength: 8192 });
    const bhs = Buffer.alloc(BHS_LENGTH);
    bhs[0] = Opcode.TextResponse;
    bhs.writeUIntBE(0xffffff, 5, 3);
    expect(() => r.push(bhs)).toThrow(/announced a 16777215-byte data segment/);
  });

  it('refuses opcodes no target sends, and corrupted digests', () => {
    const bhs = Buffer.alloc(BHS_LENGTH);
    bhs[0] = Opcode.LoginRequest; // an initiator opcode
    expect(() => new PduReader().push(bhs)).toThrow(/no iSCSI target sends/);
    const t = textResponse(Buffer.from('a=b\0'));
    const wire = encodePdu(t.bhs, t.data, { header: true, data: true });
    const bad = Buffer.from(wire);
    bad[53] = bad[53]! ^ 0xff; // a data byte: 48 header + 4 header digest, then the data
    expect(() => new PduReader({ digests: { header: true, data: true } }).push(bad)).toThrow(/Data digest mismatch/);
    const badHead = Buffer.from(wire);
    badHead[20] = badHead[20]! ^ 0xff;
    expect(() => new PduReader({ digests: { header: true, data: true } }).push(badHead)).toThrow(/Header digest mismatch/);
  });

  it('enforces the RFC text limits when decoding', () => {
    expect(() => decodeTextKeys(Buffer.from(`${'K'.repeat(64)}=v\0`))).toThrow(/malformed text key/);
    expect(() => decodeTextKeys(Buffer.from(`TargetName=iqn.${'a'.repeat(230)}\0`))).toThrow(/over the RFC limit/);
    expect(decodeTextKeys(Buffer.from(`CHAP_C=0x${'ab'.repeat(1000)}\0`))[0]![0]).toBe('CHAP_C');
    expect(decodeTextKeys(Buffer.from('a=1\0b=\0\0c=3'))).toEqual([
      ['a', '1'],
      ['b', ''],
      ['c', '3'],
    ]);
  });

  it('encodes and decodes LUNs (peripheral and flat addressing)', () => {
    for (const n of [0, 1, 255, 256, 1000, 16383]) expect(decodeLun(encodeLun(n))).toBe(n);
    expect(() => encodeLun(16384)).toThrow(RangeError);
  });
});
