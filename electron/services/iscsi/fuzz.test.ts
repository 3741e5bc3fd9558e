import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FUZZ_CASES, FUZZ_SEED, rng } from '../../../e2e/support/fuzz';
import { BootchainError } from '../../../shared/errors';
import { analyseLayout } from './disk-layout';
import { parseSendTargets } from './discovery';
import { BHS_LENGTH, decodeTextKeys, encodePdu, encodeTextKeys, parseLoginResponseHead, PduReader } from './pdu';
import { parseTargetAddress } from './session';
import { parseSense } from './status';

// Fuzz of every decoder that sees target bytes: random and mutated PDUs, random chunking.
// Only BootchainError (an AppError) may come out. FUZZ_CASES sets the count (CI: 100000), FUZZ_SEED replays one.
const CASES = FUZZ_CASES;
const SEED = FUZZ_SEED;

function validPdu(r: () => number): Buffer {
  const bhs = Buffer.alloc(BHS_LENGTH);
  bhs[0] = [0x20, 0x21, 0x23, 0x24, 0x25, 0x26, 0x3f][Math.floor(r() * 7)]!;
  bhs[1] = Math.floor(r() * 256);
  const keys: Array<[string, string]> = [
    ['TargetName', `iqn.2020-01.x:t${Math.floor(r() * 1000)}`],
    ['TargetAddress', `10.0.0.${Math.floor(r() * 255)}:3260,1`],
  ];
  return encodePdu(bhs, encodeTextKeys(keys), { header: r() < 0.3, data: r() < 0.3 });
}

function mutate(buf: Buffer, r: () => number): Buffer {
  const b = Buffer.from(buf);
  const n = 1 + Math.floor(r() * 8);
  for (let i = 0; i < n; i++) {
    const kind = r();
    const pos = Math.floor(r() * b.length);
    if (kind < 0.5) b[pos] = Math.floor(r() * 256);
    else if (kind < 0.7) b[pos] = b[pos]! ^ (1 << Math.floor(r() * 8));
    else if (kind < 0.85) return Buffer.concat([b.subarray(0, pos), randomBytes(Math.floor(r() * 64))]);
    else b.writeUIntBE(Math.floor(r() * 0x1000000), 5, 3);
  }
  return b;
}

function onlyAppErrors(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof BootchainError)) throw new Error(`non-AppError thrown (seed ${SEED}): ${String(e)}`);
  }
}

describe(`fuzz of the iSCSI decoders (${CASES} cases, seed ${SEED})`, () => {
  it('throws nothing but AppErrors and never buffers more than one PDU', { timeout: 600000 }, () => {
    const r = rng(SEED);
    let decoded = 0;
    for (let i = 0; i < CASES; i++) {
      const kind = r();
      const input = kind < 0.3 ? randomBytes(Math.floor(r() * 200)) : mutate(validPdu(r), r);
      const digests = { header: r() < 0.3, data: r() < 0.3 };
      const reader = new PduReader({ maxDataSegmentLength: 8192, digests });
      onlyAppErrors(() => {
        const step = 1 + Math.floor(r() * 64);
        for (let off = 0; off < input.length; off += step) {
          for (const pdu of reader.push(input.subarray(off, off + step))) {
            decoded++;
            onlyAppErrors(() => parseSendTargets(decodeTextKeys(pdu.data), { address: '10.0.0.1', port: 3260 }));
            if ((pdu.bhs[0]! & 0x3f) === 0x23) onlyAppErrors(() => parseLoginResponseHead(pdu.bhs));
          }
          expect(reader.buffered).toBeLessThanOrEqual(BHS_LENGTH + 1020 + 4 + 8192 + 3 + 4);
        }
      });
      if (i % 8 === 0) {
        const text = input.toString('latin1');
        expect(() => parseTargetAddress(text)).not.toThrow();
        expect(() => parseSense(input)).not.toThrow();
        const sector = Buffer.alloc(512);
        input.copy(sector, Math.floor(r() * 400));
        expect(() => analyseLayout(sector, r() < 0.5 ? Buffer.concat([Buffer.from('EFI PART'), input]) : sector, input, 512)).not.toThrow();
      }
    }
    expect(decoded).toBeGreaterThan(CASES / 100);
  });
});
