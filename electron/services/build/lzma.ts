/**
 * A decoder for raw LZMA1 streams (no header), as iPXE's zbin writes them into compressed
 * images such as undionly.kpxe (util/zbin.c: lzma_raw_buffer_encode, LZMA1, lc=2 lp=0 pb=0).
 * It follows the LZMA specification (LZMA SDK, DOC/lzma-specification.txt). Used to read back
 * the embedded script of a compressed iPXE binary. Output is capped; malformed input throws.
 */

const kNumStates = 12;
const kNumPosBitsMax = 4;
const kEndPosModelIndex = 14;
const kNumFullDistances = 128;
const kNumAlignBits = 4;
const kMatchMinLen = 2;
const PROB_INIT = 1024;

/** Thrown on a stream that cannot be LZMA. */
export class LzmaError extends Error {}

class RangeDecoder {
  private range = 0xffffffff;
  private code = 0;
  pos: number;
  constructor(
    private readonly buf: Uint8Array,
    start: number,
  ) {
    if (buf[start] !== 0) throw new LzmaError('range coder must start with 0');
    this.pos = start + 1;
    for (let i = 0; i < 4; i++) this.code = ((this.code << 8) | this.byte()) >>> 0;
    if (this.code === this.range) throw new LzmaError('corrupted range coder');
  }
  private byte(): number {
    if (this.pos >= this.buf.length) throw new LzmaError('input ended');
    return this.buf[this.pos++]!;
  }
  private normalize(): void {
    if (this.range < 0x1000000) {
      this.range = (this.range << 8) >>> 0;
      this.code = ((this.code << 8) | this.byte()) >>> 0;
    }
  }
  bit(probs: Uint16Array, i: number): number {
    const p = probs[i]!;
    const bound = ((this.range >>> 11) * p) >>> 0;
    let b: number;
    if (this.code < bound) {
      probs[i] = p + ((2048 - p) >>> 5);
      this.range = bound;
      b = 0;
    } else {
      probs[i] = p - (p >>> 5);
      this.code = (this.code - bound) >>> 0;
      this.range = (this.range - bound) >>> 0;
      b = 1;
    }
    this.normalize();
    return b;
  }
  direct(n: number): number {
    let res = 0;
    for (let i = 0; i < n; i++) {
      this.range >>>= 1;
      let b = 0;
      if (this.code >= this.range) {
        this.code = (this.code - this.range) >>> 0;
        b = 1;
      }
      res = ((res << 1) | b) >>> 0;
      this.normalize();
    }
    return res;
  }
}

const probs = (n: number) => new Uint16Array(n).fill(PROB_INIT);

function tree(rc: RangeDecoder, p: Uint16Array, base: number, bits: number): number {
  let m = 1;
  for (let i = 0; i < bits; i++) m = (m << 1) + rc.bit(p, base + m);
  return m - (1 << bits);
}

function reverseTree(rc: RangeDecoder, p: Uint16Array, base: number, bits: number): number {
  let m = 1;
  let sym = 0;
  for (let i = 0; i < bits; i++) {
    const b = rc.bit(p, base + m);
    m = (m << 1) + b;
    sym |= b << i;
  }
  return sym;
}

class LenDecoder {
  private readonly choice = probs(2);
  private readonly low = probs(16 << 3);
  private readonly mid = probs(16 << 3);
  private readonly high = probs(256);
  decode(rc: RangeDecoder, posState: number): number {
    if (rc.bit(this.choice, 0) === 0) return tree(rc, this.low, posState << 3, 3);
    if (rc.bit(this.choice, 1) === 0) return 8 + tree(rc, this.mid, posState << 3, 3);
    return 16 + tree(rc, this.high, 0, 8);
  }
}

/**
 * Decodes a raw LZMA1 stream starting at `start`; stops at the end marker, the end of input,
 * or `maxOut` bytes. Returns what was decoded.
 */
export function decodeLzmaRaw(buf: Uint8Array, start: number, opts: { lc?: number; lp?: number; pb?: number; maxOut?: number } = {}): Uint8Array {
  const lc = opts.lc ?? 2;
  const lp = opts.lp ?? 0;
  const pb = opts.pb ?? 0;
  const maxOut = opts.maxOut ?? 4 << 20;
  const rc = new RangeDecoder(buf, start);
  const out = new Uint8Array(maxOut);
  let pos = 0;
  const literal = probs(0x300 << (lc + lp));
  const isMatch = probs(kNumStates << kNumPosBitsMax);
  const isRep = probs(kNumStates);
  const isRepG0 = probs(kNumStates);
  const isRepG1 = probs(kNumStates);
  const isRepG2 = probs(kNumStates);
  const isRep0Long = probs(kNumStates << kNumPosBitsMax);
  const posSlot = probs(4 << 6);
  const posDecoders = probs(1 + kNumFullDistances - kEndPosModelIndex);
  const align = probs(1 << kNumAlignBits);
  const lenDec = new LenDecoder();
  const repLenDec = new LenDecoder();
  let state = 0;
  let rep0 = 0;
  let rep1 = 0;
  let rep2 = 0;
  let rep3 = 0;
  const pbMask = (1 << pb) - 1;
  const lpMask = (1 << lp) - 1;
  try {
    while (pos < maxOut) {
      const posState = pos & pbMask;
      if (rc.bit(isMatch, (state << kNumPosBitsMax) + posState) === 0) {
        const prev = pos > 0 ? out[pos - 1]! : 0;
        const base = 0x300 * (((pos & lpMask) << lc) + (prev >>> (8 - lc)));
        let sym = 1;
        if (state >= 7) {
          if (rep0 >= pos) throw new LzmaError('match byte before the start');
          let matchByte = out[pos - rep0 - 1]!;
          do {
            const matchBit = (matchByte >>> 7) & 1;
            matchByte <<= 1;
            const b = rc.bit(literal, base + ((1 + matchBit) << 8) + sym);
            sym = (sym << 1) | b;
            if (matchBit !== b) break;
          } while (sym < 0x100);
        }
        while (sym < 0x100) sym = (sym << 1) | rc.bit(literal, base + sym);
        out[pos++] = sym - 0x100;
        state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
        continue;
      }
      let len: number;
      if (rc.bit(isRep, state) !== 0) {
        if (pos === 0) throw new LzmaError('repeat at the start');
        if (rc.bit(isRepG0, state) === 0) {
          if (rc.bit(isRep0Long, (state << kNumPosBitsMax) + posState) === 0) {
            state = state < 7 ? 9 : 11;
            out[pos] = out[pos - rep0 - 1]!;
            pos++;
            continue;
          }
        } else {
          let dist: number;
          if (rc.bit(isRepG1, state) === 0) dist = rep1;
          else {
            if (rc.bit(isRepG2, state) === 0) dist = rep2;
            else {
              dist = rep3;
              rep3 = rep2;
            }
            rep2 = rep1;
          }
          rep1 = rep0;
          rep0 = dist;
        }
        len = repLenDec.decode(rc, posState);
        state = state < 7 ? 8 : 11;
      } else {
        rep3 = rep2;
        rep2 = rep1;
        rep1 = rep0;
        len = lenDec.decode(rc, posState);
        state = state < 7 ? 7 : 10;
        const lenState = Math.min(len, 3);
        const slot = tree(rc, posSlot, lenState << 6, 6);
        if (slot < 4) rep0 = slot;
        else {
          const direct = (slot >>> 1) - 1;
          let dist = ((2 | (slot & 1)) << direct) >>> 0;
          if (slot < kEndPosModelIndex) dist += reverseTree(rc, posDecoders, dist - slot, direct);
          else {
            dist = (dist + (rc.direct(direct - kNumAlignBits) << kNumAlignBits)) >>> 0;
            dist = (dist + reverseTree(rc, align, 0, kNumAlignBits)) >>> 0;
          }
          rep0 = dist;
        }
        if (rep0 === 0xffffffff) break; // end marker
        if (rep0 >= pos) throw new LzmaError('distance before the start');
      }
      len += kMatchMinLen;
      for (let i = 0; i < len && pos < maxOut; i++) {
        out[pos] = out[pos - rep0 - 1]!;
        pos++;
      }
    }
  } catch (e) {
    if (!(e instanceof LzmaError)) throw e;
    if (e.message !== 'input ended') throw e;
  }
  return out.subarray(0, pos);
}
