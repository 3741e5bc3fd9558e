/**
 * Bootchain's own initiator writing blocks onto a LUN (issue 18, item 1): a Normal session with
 * write-friendly operational keys, several SCSI commands in flight within the CmdSN window, the
 * data sent as immediate data, unsolicited Data-Out up to FirstBurstLength and Data-Out answering
 * each R2T (RFC 7143 §§ 11.3, 11.7, 11.8), and the geometry a writer needs (SBC-4 READ CAPACITY(16),
 * Block Limits and Logical Block Provisioning VPD pages). Memory stays bounded: we hold at most
 * queueDepth commands' data, and never allocate by a number the target sent.
 */
import { appError, BootchainError, fail } from '../../../shared/errors';
import { checkTargetName } from './discovery';
import { throwIfAborted } from './connection';
import {
  dataOutBhs,
  dataLengthOf,
  encodeLun,
  encodePduParts,
  flagsOf,
  ittOf,
  Opcode,
  opcodeOf,
  RESERVED_TAG,
  buildNopOut,
  scsiCommandBhs,
  type Pdu,
} from './pdu';
import { IscsiSession, type LoginOptions, type ScsiResult } from './session';
import { parseSense, SenseKey } from './status';

/** What a writer needs to know about the LUN. */
export interface LunGeometry {
  blocks: number;
  blockSize: number;
  /** Block Limits VPD 0xB0 (SBC-4 §6.6.4), in logical blocks; undefined when not reported. */
  maxTransferBlocks?: number;
  optimalTransferBlocks?: number;
  maxUnmapBlocks?: number;
  unmapGranularity?: number;
  maxWriteSameBlocks?: number;
  /** Logical Block Provisioning VPD 0xB2 (SBC-4 §6.6.6) + READ CAPACITY(16) LBPME/LBPRZ. */
  thin: boolean;
  zeroesAfterUnmap: boolean;
  unmap: boolean;
  writeSameUnmap: boolean;
}

/**
 * What we offer for the data transfer (the target's answer decides, RFC 7143 §13.10-13.14).
 * Defaults: ImmediateData=Yes, InitialR2T=No, FirstBurst 64 KiB, MaxBurst 1 MiB, we receive
 * 256 KiB PDUs, 8 commands in flight.
 */
export interface WriteNegotiation {
  immediateData?: boolean;
  initialR2T?: boolean;
  firstBurstLength?: number;
  maxBurstLength?: number;
  /** What we declare we receive (Data-In PDU size of reads). */
  maxRecvDataSegmentLength?: number;
  /** commands in flight we allow ourselves (within the CmdSN window) */
  queueDepth?: number;
}

/**
 * How to open a LUN for writing. `timeoutMs` bounds each wait for the target (default 10 s);
 * `deadlineMs` is not used (a write takes as long as the image); `signal` cancels everything.
 */
export interface LunOpenOptions extends Omit<LoginOptions, 'sessionType'> {
  targetName: string;
  lun: number;
  negotiate?: WriteNegotiation;
}

/** The transfer parameters in force after login. */
export interface WriteNegotiated {
  immediateData: boolean;
  initialR2T: boolean;
  firstBurstLength: number;
  maxBurstLength: number;
  targetMaxRecv: number;
  digests: { header: boolean; data: boolean };
  queueDepth: number;
}

const GOOD = 0x00;
const CHECK_CONDITION = 0x02;
const BUSY = 0x08;
const TASK_SET_FULL = 0x28;
/** ASC 0x20: INVALID COMMAND OPERATION CODE (SPC-4 Annex D). */
const ASC_INVALID_OPCODE = 0x20;
/** Largest single command we build, whatever the target allows (bounds memory per slot). */
const MAX_CHUNK = 1 << 20;
const MAX_RETRIES = 4;
/** How long an idle session waits for a PDU (the largest timer Node keeps: about 24 days). */
const IDLE_WAIT_MS = 0x7fffffff;
const DEVICE_TYPES: Record<number, string> = { 0x01: 'tape', 0x05: 'CD/DVD', 0x07: 'optical', 0x0c: 'storage array controller', 0x0d: 'enclosure', 0x1f: 'unknown device' };

/** a <= b in 32-bit serial number arithmetic (RFC 1982, as RFC 7143 §4.2.2.1 uses it). */
const serialLE = (a: number, b: number) => ((b - a) | 0) >= 0;
const senseText = (r: ScsiResult) => (r.sense ? ` (sense key 0x${r.sense.key.toString(16)}, ASC 0x${r.sense.asc.toString(16)}/0x${r.sense.ascq.toString(16)})` : '');
const isUnitAttention = (r: ScsiResult) => r.status === CHECK_CONDITION && r.sense?.key === SenseKey.UnitAttention;
const isInvalidOpcode = (r: ScsiResult) => r.status === CHECK_CONDITION && r.sense?.key === SenseKey.IllegalRequest && r.sense.asc === ASC_INVALID_OPCODE;
const isIllegal = (r: ScsiResult) => r.status === CHECK_CONDITION && r.sense?.key === SenseKey.IllegalRequest;

/** One SCSI command of ours, from queued to its status. */
interface Task {
  itt: number;
  cdb: Buffer;
  what: string;
  /** Data we send (writes, UNMAP parameter lists). */
  out?: Buffer | undefined;
  /** Where Data-In goes (reads); its length is the expected transfer length. */
  into?: Buffer | undefined;
  got: number;
  /** The offset the next R2T must ask for, and its R2TSN (in order: DataSequenceInOrder=Yes, MaxOutstandingR2T=1). */
  nextOffset: number;
  nextR2TSN: number;
  sent?: () => void;
  done: (r: ScsiResult) => void;
  failed: (e: BootchainError) => void;
}

/** A Normal session to one LUN that writes, reads, unmaps and syncs blocks; see the file comment. */
export class LunWriter {
  readonly geometry: LunGeometry;
  readonly negotiated: WriteNegotiated;
  private readonly lunField: Buffer;
  private cmdSN: number;
  private expStatSN: number;
  private maxCmdSN: number;
  private readonly queue: Task[] = [];
  private readonly active = new Map<number, Task>();
  private broken: BootchainError | undefined;
  private writesOutstanding = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly acked = new Map<number, number>();
  private ackedPrefix = 0;
  private use16 = true;
  private readonly pumpStop = new AbortController();
  private wakePump: (() => void) | undefined;
  private pumpDone: Promise<void> = Promise.resolve();
  private closed = false;
  /** Whether any write was queued (what "how far it got" can say). */
  private wrote = false;

  private constructor(
    private readonly s: IscsiSession,
    private readonly o: LunOpenOptions,
    negotiated: WriteNegotiated,
  ) {
    this.lunField = encodeLun(o.lun);
    this.negotiated = negotiated;
    ({ cmdSN: this.cmdSN, expStatSN: this.expStatSN } = s.sequence);
    this.maxCmdSN = s.maxCmdSN;
    this.geometry = { blocks: 0, blockSize: 512, thin: false, zeroesAfterUnmap: false, unmap: false, writeSameUnmap: false };
    const stop = () => this.pumpStop.abort();
    if (o.signal?.aborted) stop();
    o.signal?.addEventListener('abort', stop, { once: true });
    this.pumpStop.signal.addEventListener('abort', () => this.wakePump?.(), { once: true });
    this.pumpDone = this.pump();
  }

  /**
   * Logs in (Normal session, write keys offered), waits out UNIT ATTENTION with TEST UNIT READY,
   * refuses anything but a disk, reads the capacity and the optional Block Limits and Logical
   * Block Provisioning pages.
   */
  static async open(o: LunOpenOptions): Promise<LunWriter> {
    checkTargetName(o.targetName);
    if (!Number.isInteger(o.lun) || o.lun < 0 || o.lun > 16383) fail('INVALID_INPUT', `LUN ${o.lun} is not a LUN number (0-16383)`, { field: 'lun' });
    const n = o.negotiate ?? {};
    const ours = {
      immediateData: n.immediateData ?? true,
      initialR2T: n.initialR2T ?? false,
      firstBurstLength: clampLength(n.firstBurstLength ?? 65536, 'firstBurstLength'),
      maxBurstLength: clampLength(n.maxBurstLength ?? 1 << 20, 'maxBurstLength'),
    };
    // FirstBurstLength must not exceed MaxBurstLength (RFC 7143 §13.14).
    ours.firstBurstLength = Math.min(ours.firstBurstLength, ours.maxBurstLength);
    const queueDepth = n.queueDepth ?? 8;
    if (!Number.isInteger(queueDepth) || queueDepth < 1 || queueDepth > 128) fail('INVALID_INPUT', `Queue depth ${queueDepth} is outside 1-128`, { field: 'queueDepth' });
    const maxRecv = n.maxRecvDataSegmentLength ?? o.maxRecvDataSegmentLength ?? 262144;
    const s = await IscsiSession.login({ ...o, sessionType: 'Normal', maxRecvDataSegmentLength: maxRecv, operational: ours });
    const w = new LunWriter(s, o, { ...negotiate(s, ours), targetMaxRecv: s.targetMaxRecv, digests: { ...s.digests }, queueDepth });
    try {
      await w.describe();
      return w;
    } catch (e) {
      await w.close();
      throw e;
    }
  }

  /** Bytes from LBA 0 up to which every write is acknowledged (GOOD status). */
  get acknowledgedBytes(): number {
    return this.ackedPrefix;
  }

  /**
   * Queues WRITE(16) commands (WRITE(10) where the target refuses 16) for whole blocks at `lba`;
   * resolves once the last is in flight. The writer keeps `data` (no copy) until acknowledged: do
   * not change it afterwards. A failure of any earlier command rejects this call.
   */
  async write(lba: number, data: Buffer): Promise<void> {
    this.check();
    const bs = this.geometry.blockSize;
    if (data.length % bs !== 0) fail('INVALID_INPUT', `A write of ${data.length} bytes is not whole ${bs}-byte blocks (the LUN's block size)`);
    this.checkRange(lba, data.length / bs, 'write');
    const chunk = this.chunkBytes();
    for (let off = 0; off < data.length; off += chunk) {
      const part = data.subarray(off, Math.min(off + chunk, data.length));
      await this.queueWrite(lba + off / bs, part);
    }
  }

  /** Waits until every queued write is acknowledged; rejects with the first failure. */
  async flush(): Promise<void> {
    for (;;) {
      this.check();
      if (this.writesOutstanding === 0) return;
      await new Promise<void>((r) => this.idleWaiters.push(r));
    }
  }

  /** READ(16) of `blocks` from `lba` (after the writes before it), split into commands in flight together. */
  async read(lba: number, blocks: number): Promise<Buffer> {
    await this.flush();
    this.checkRange(lba, blocks, 'read');
    const bs = this.geometry.blockSize;
    const out = Buffer.alloc(blocks * bs);
    const per = this.chunkBytes() / bs;
    const parts: Array<Promise<unknown>> = [];
    for (let b = 0; b < blocks; b += per) {
      const count = Math.min(per, blocks - b);
      parts.push(this.command(rw16(0x88, lba + b, count), `READ(16) of LBA ${lba + b}`, { into: out.subarray(b * bs, (b + count) * bs) }));
    }
    await Promise.all(parts);
    return out;
  }

  /**
   * Deallocates blocks (after the writes before it): UNMAP, else WRITE SAME(16) with the UNMAP bit
   * (SBC-4 §5.31, §5.50). False when the LUN supports neither (or refuses the command).
   */
  async unmap(lba: number, blocks: number): Promise<boolean> {
    await this.flush();
    this.checkRange(lba, blocks, 'unmap');
    const g = this.geometry;
    if (g.unmap) {
      const per = Math.min(g.maxUnmapBlocks ?? 0xffffffff, 0xffffffff);
      for (let b = 0; b < blocks; b += per) {
        const count = Math.min(per, blocks - b);
        // Parameter list: 8-byte header, one 16-byte block descriptor (SBC-4 §5.31.2).
        const list = Buffer.alloc(24);
        list.writeUInt16BE(22, 0);
        list.writeUInt16BE(16, 2);
        list.writeBigUInt64BE(BigInt(lba + b), 8);
        list.writeUInt32BE(count, 16);
        const cdb = Buffer.alloc(10);
        cdb[0] = 0x42;
        cdb.writeUInt16BE(24, 7);
        const r = await this.command(cdb, `UNMAP of LBA ${lba + b}`, { out: list, allow: isIllegal });
        if (r.status !== GOOD) return false;
      }
      return true;
    }
    if (g.writeSameUnmap) {
      const per = Math.min(g.maxWriteSameBlocks || 65536, 0xffffffff);
      const zero = Buffer.alloc(g.blockSize);
      for (let b = 0; b < blocks; b += per) {
        const count = Math.min(per, blocks - b);
        const cdb = rw16(0x93, lba + b, count);
        cdb[1] = 0x08; // UNMAP
        const r = await this.command(cdb, `WRITE SAME(16) of LBA ${lba + b}`, { out: zero, allow: isIllegal });
        if (r.status !== GOOD) return false;
      }
      return true;
    }
    return false;
  }

  /** SYNCHRONIZE CACHE(16) over the whole LUN, (10) where 16 is refused (SBC-4 §5.26/5.27). */
  async synchronizeCache(): Promise<void> {
    await this.flush();
    const c16 = Buffer.alloc(16);
    c16[0] = 0x91;
    const r = await this.command(c16, 'SYNCHRONIZE CACHE(16)', { allow: isInvalidOpcode });
    if (r.status === GOOD) return;
    const c10 = Buffer.alloc(10);
    c10[0] = 0x35;
    await this.command(c10, 'SYNCHRONIZE CACHE(10)');
  }

  /** Logs out without waiting for queued writes (those still outstanding are abandoned); never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.breakWith(new BootchainError(appError('CANCELLED', 'The LUN writer was closed')));
    this.pumpStop.abort();
    await this.pumpDone.catch(() => undefined);
    this.s.setSequence({ cmdSN: this.cmdSN, expStatSN: this.expStatSN });
    await this.s.logout();
  }

  // ---- geometry -------------------------------------------------------------------------------

  private async describe(): Promise<void> {
    // TEST UNIT READY first: tgt answers the first command of a session with UNIT ATTENTION.
    await this.command(Buffer.alloc(6), 'TEST UNIT READY');
    const inq = await this.command(Buffer.from([0x12, 0, 0, 0, 96, 0]), 'INQUIRY', { into: Buffer.alloc(96), short: true });
    if (inq.data.length < 1) fail('PROTOCOL_ERROR', `${this.s.peer} sent empty INQUIRY data for LUN ${this.o.lun}`);
    const qualifier = inq.data[0]! >> 5;
    const type = inq.data[0]! & 0x1f;
    if (qualifier === 3) fail('NOT_FOUND', `${this.o.targetName} has no LUN ${this.o.lun}`, { hint: 'Probe the target to see its LUNs (tgt puts the disk on LUN 1, istgt and QNAP on LUN 0).' });
    if (type !== 0) {
      fail('INVALID_INPUT', `LUN ${this.o.lun} of ${this.o.targetName} is a ${DEVICE_TYPES[type] ?? `device of type 0x${type.toString(16)}`}, not a disk: Bootchain writes images onto disks only`, {
        hint: 'Choose the LUN that holds the disk (tgt puts its controller on LUN 0 and the disk on LUN 1).',
        field: 'lun',
      });
    }
    const g = this.geometry;
    let lbpme = false;
    let lbprz = false;
    const rc16 = Buffer.alloc(16);
    rc16[0] = 0x9e;
    rc16[1] = 0x10;
    rc16.writeUInt32BE(32, 10);
    const r16 = await this.command(rc16, 'READ CAPACITY(16)', { into: Buffer.alloc(32), short: true, allow: isIllegal });
    if (r16.status === GOOD && r16.data.length >= 12) {
      g.blocks = Number(r16.data.readBigUInt64BE(0)) + 1;
      g.blockSize = r16.data.readUInt32BE(8);
      if (r16.data.length >= 15) {
        lbpme = (r16.data[14]! & 0x80) !== 0;
        lbprz = (r16.data[14]! & 0x40) !== 0;
      }
    } else {
      const r10 = await this.command(Buffer.from([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 'READ CAPACITY(10)', { into: Buffer.alloc(8) });
      g.blocks = r10.data.readUInt32BE(0) + 1;
      g.blockSize = r10.data.readUInt32BE(4);
    }
    if (g.blockSize < 512 || g.blockSize > 65536 || g.blockSize & (g.blockSize - 1)) fail('PROTOCOL_ERROR', `LUN ${this.o.lun} reports a block size of ${g.blockSize}`);
    if (!Number.isSafeInteger(g.blocks * g.blockSize)) fail('PROTOCOL_ERROR', `LUN ${this.o.lun} reports ${g.blocks} blocks, more than Bootchain can address`);

    const pages = await this.vpd(0x00);
    const has = (p: number) => !!pages && pages.subarray(4, 4 + pages.readUInt16BE(2)).includes(p);
    const b0 = has(0xb0) ? await this.vpd(0xb0) : undefined;
    if (b0 && b0.length >= 16) {
      const opt = (v: number) => (v === 0 ? undefined : v);
      const maxTransfer = opt(b0.readUInt32BE(8));
      if (maxTransfer !== undefined) g.maxTransferBlocks = maxTransfer;
      const optimal = opt(b0.readUInt32BE(12));
      if (optimal !== undefined) g.optimalTransferBlocks = optimal;
      if (b0.length >= 36) {
        const maxUnmap = opt(b0.readUInt32BE(20));
        if (maxUnmap !== undefined) g.maxUnmapBlocks = maxUnmap;
        const gran = opt(b0.readUInt32BE(28));
        if (gran !== undefined) g.unmapGranularity = gran;
      }
      if (b0.length >= 44) {
        const ws = Number(b0.readBigUInt64BE(36));
        if (ws > 0 && Number.isSafeInteger(ws)) g.maxWriteSameBlocks = ws;
      }
    }
    const b2 = has(0xb2) ? await this.vpd(0xb2) : undefined;
    let lbpu = false;
    let lbpws = false;
    let thinType = false;
    if (b2 && b2.length >= 7) {
      lbpu = (b2[5]! & 0x80) !== 0;
      lbpws = (b2[5]! & 0x40) !== 0;
      // LBPRZ: bit 2 of byte 5 (SBC-3), the low bit of a 3-bit field in SBC-4 (xx1b: zeros).
      lbprz ||= (b2[5]! & 0x04) !== 0;
      thinType = (b2[6]! & 0x07) === 0x02;
    }
    g.thin = lbpme && (thinType || !b2);
    g.unmap = lbpme && (lbpu || (!b2 && (g.maxUnmapBlocks ?? 0) > 0));
    g.writeSameUnmap = lbpme && lbpws;
    g.zeroesAfterUnmap = lbpme && lbprz && (g.unmap || g.writeSameUnmap);
  }

  /** An INQUIRY VPD page (SPC-4 §6.6.2), or undefined where the target does not have it. */
  private async vpd(page: number): Promise<Buffer | undefined> {
    const r = await this.command(Buffer.from([0x12, 1, page, 0x01, 0, 0]), `INQUIRY VPD 0x${page.toString(16)}`, { into: Buffer.alloc(256), short: true, allow: isIllegal });
    if (r.status !== GOOD || r.data.length < 4 || r.data[1] !== page) return undefined;
    return r.data.subarray(0, Math.min(r.data.length, 4 + r.data.readUInt16BE(2)));
  }

  // ---- commands -------------------------------------------------------------------------------

  private chunkBytes(): number {
    const g = this.geometry;
    let bytes = MAX_CHUNK;
    if (g.maxTransferBlocks) bytes = Math.min(bytes, g.maxTransferBlocks * g.blockSize);
    return Math.max(g.blockSize, bytes - (bytes % g.blockSize));
  }

  private check(): void {
    if (this.broken) throw this.broken;
    throwIfAborted(this.o.signal);
  }

  private checkRange(lba: number, blocks: number, what: string): void {
    if (!Number.isSafeInteger(lba) || lba < 0 || !Number.isSafeInteger(blocks) || blocks < 0 || lba + blocks > this.geometry.blocks) {
      fail('INVALID_INPUT', `A ${what} of ${blocks} blocks at LBA ${lba} does not fit the LUN's ${this.geometry.blocks} blocks`);
    }
  }

  /** One write command in the pipeline: retried on UNIT ATTENTION / BUSY, WRITE(10) where 16 is refused. */
  private queueWrite(lba: number, data: Buffer): Promise<void> {
    const blocks = data.length / this.geometry.blockSize;
    const end = lba * this.geometry.blockSize + data.length;
    const start = lba * this.geometry.blockSize;
    let attempt = 0;
    this.wrote = true;
    this.writesOutstanding++;
    return new Promise<void>((sentOk, sentErr) => {
      const t = this.task(this.writeCdb(lba, blocks), `WRITE of LBA ${lba}`, { out: data });
      let sent = false;
      t.sent = () => {
        sent = true;
        sentOk();
      };
      t.failed = (e) => {
        this.writeDone();
        if (!sent) sentErr(e);
      };
      t.done = (r) => {
        if (r.status === GOOD) {
          this.ack(start, end);
          this.writeDone();
          return;
        }
        if (isInvalidOpcode(r) && t.cdb[0] === 0x8a && lba + blocks <= 0xffffffff && blocks <= 0xffff) {
          this.use16 = false;
          t.cdb = this.writeCdb(lba, blocks);
          return this.requeue(t, true);
        }
        if (attempt++ < MAX_RETRIES && (isUnitAttention(r) || r.status === BUSY || r.status === TASK_SET_FULL)) return this.requeue(t, true);
        this.breakWith(new BootchainError(appError('COMMAND_FAILED', `${t.cdb[0] === 0x8a ? 'WRITE(16)' : 'WRITE(10)'} of LBA ${lba} on LUN ${this.o.lun} failed with SCSI status 0x${r.status.toString(16)}${senseText(r)}`, { hint: this.howFar(), retryable: true })));
        this.writeDone();
      };
      this.enqueue(t);
    });
  }

  private writeCdb(lba: number, blocks: number): Buffer {
    if (this.use16 || lba + blocks > 0xffffffff || blocks > 0xffff) return rw16(0x8a, lba, blocks);
    const cdb = Buffer.alloc(10);
    cdb[0] = 0x2a;
    cdb.writeUInt32BE(lba, 2);
    cdb.writeUInt16BE(blocks, 7);
    return cdb;
  }

  private writeDone(): void {
    this.writesOutstanding--;
    if (this.writesOutstanding === 0 || this.broken) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }

  private ack(start: number, end: number): void {
    this.acked.set(start, end);
    for (let e = this.acked.get(this.ackedPrefix); e !== undefined; e = this.acked.get(this.ackedPrefix)) {
      this.acked.delete(this.ackedPrefix);
      this.ackedPrefix = e;
    }
  }

  private howFar(): string {
    if (!this.wrote) return 'Nothing was written to the disk.';
    return `${this.ackedPrefix} bytes (${(this.ackedPrefix / 1048576).toFixed(1)} MiB) from the start of the disk were written and acknowledged; write the image again to finish.`;
  }

  /**
   * A non-write command to completion: retries UNIT ATTENTION, fails on any other status unless
   * `allow` accepts it (then the caller reads the status).
   */
  private async command(cdb: Buffer, what: string, opts: { into?: Buffer; out?: Buffer; short?: boolean; allow?: (r: ScsiResult) => boolean } = {}): Promise<ScsiResult> {
    for (let attempt = 0; ; attempt++) {
      this.check();
      const r = await new Promise<ScsiResult>((resolve, reject) => {
        const t = this.task(cdb, what, opts);
        t.done = resolve;
        t.failed = reject;
        this.enqueue(t);
      });
      if (r.status === GOOD) {
        if (opts.into && !opts.short && r.data.length !== opts.into.length) fail('PROTOCOL_ERROR', `${this.s.peer} sent ${r.data.length} of the ${opts.into.length} bytes of ${what}`);
        return r;
      }
      if ((isUnitAttention(r) || r.status === BUSY || r.status === TASK_SET_FULL) && attempt < MAX_RETRIES) continue;
      if (opts.allow?.(r)) return r;
      if (r.status === CHECK_CONDITION && r.sense?.key === SenseKey.NotReady) {
        fail('COMMAND_FAILED', `LUN ${this.o.lun} of ${this.o.targetName} is not ready${senseText(r)}`, { hint: 'The NAS has not brought the disk online: check the LUN on the NAS, then retry.', retryable: true });
      }
      fail('COMMAND_FAILED', `${what} on LUN ${this.o.lun} failed with SCSI status 0x${r.status.toString(16)}${senseText(r)}`, { retryable: true });
    }
  }

  private task(cdb: Buffer, what: string, opts: { into?: Buffer | undefined; out?: Buffer | undefined }): Task {
    return { itt: 0, cdb, what, out: opts.out, into: opts.into, got: 0, nextOffset: 0, nextR2TSN: 0, done: () => undefined, failed: () => undefined };
  }

  private enqueue(t: Task): void {
    if (this.broken) return t.failed(this.broken);
    this.queue.push(t);
    this.trySend();
    this.wakePump?.();
  }

  private requeue(t: Task, front: boolean): void {
    if (this.broken) return t.failed(this.broken);
    if (front) this.queue.unshift(t);
    else this.queue.push(t);
    this.trySend();
  }

  /** Sends queued commands while a slot is free and CmdSN is within [ExpCmdSN, MaxCmdSN]. */
  private trySend(): void {
    while (!this.broken && this.queue.length > 0 && this.active.size < this.negotiated.queueDepth && serialLE(this.cmdSN, this.maxCmdSN)) {
      const t = this.queue.shift()!;
      try {
        this.issue(t);
      } catch (e) {
        this.breakWith(asError(e));
        return;
      }
      t.sent?.();
    }
  }

  /** The SCSI Command with its immediate data, then unsolicited Data-Out up to FirstBurstLength (RFC 7143 §§ 11.3, 11.7). */
  private issue(t: Task): void {
    const n = this.negotiated;
    t.itt = this.s.allocItt();
    t.got = 0;
    t.nextR2TSN = 0;
    const out = t.out;
    const len = out ? out.length : (t.into?.length ?? 0);
    const immediate = out && n.immediateData ? Math.min(len, n.targetMaxRecv, n.firstBurstLength) : 0;
    const unsolicitedEnd = out && !n.initialR2T ? Math.max(immediate, Math.min(len, n.firstBurstLength)) : immediate;
    t.nextOffset = unsolicitedEnd;
    const cmd = scsiCommandBhs({ itt: t.itt, cmdSN: this.cmdSN, expStatSN: this.expStatSN, lun: this.lunField, cdb: t.cdb, expectedLength: len, read: !!t.into, write: !!out, final: unsolicitedEnd === immediate });
    this.cmdSN = (this.cmdSN + 1) >>> 0;
    const parts = encodePduParts(cmd, out ? out.subarray(0, immediate) : Buffer.alloc(0), this.negotiated.digests);
    if (out && unsolicitedEnd > immediate) this.dataOut(parts, t, RESERVED_TAG, immediate, unsolicitedEnd);
    this.active.set(t.itt, t);
    this.s.conn.sendParts(parts);
    this.wakePump?.();
  }

  /** Data-Out PDUs of at most the target's MaxRecvDataSegmentLength for [from, to), DataSN from 0 (§11.7.5). */
  private dataOut(parts: Buffer[], t: Task, ttt: number, from: number, to: number): void {
    const step = this.negotiated.targetMaxRecv;
    let dataSN = 0;
    for (let off = from; off < to; off += step) {
      const end = Math.min(off + step, to);
      const bhs = dataOutBhs({ lun: this.lunField, itt: t.itt, ttt, expStatSN: this.expStatSN, dataSN: dataSN++, offset: off, final: end === to });
      parts.push(...encodePduParts(bhs, t.out!.subarray(off, end), this.negotiated.digests));
    }
  }

  // ---- the receive side -----------------------------------------------------------------------

  /** Receives while commands are in flight and hands each PDU to its task by ITT. */
  private async pump(): Promise<void> {
    const timeout = this.o.timeoutMs ?? 10000;
    try {
      for (;;) {
        if (this.pumpStop.signal.aborted) throw new BootchainError(appError('CANCELLED', 'Cancelled'));
        // Idle: nothing in flight and nothing waiting. We still receive, without a deadline, so
        // pings (NOP-In, RFC 7143 §11.19) are answered while the caller is busy (a slow download);
        // a new command interrupts this wait. Commands queued behind a closed CmdSN window keep
        // the normal deadline below: the target must open the window in time.
        if (this.active.size === 0 && this.queue.length === 0) {
          const idle = new AbortController();
          this.wakePump = () => idle.abort();
          try {
            const pdu = await this.s.conn.receive(IDLE_WAIT_MS, 'PDU', AbortSignal.any([this.pumpStop.signal, idle.signal]));
            this.handle(pdu);
          } catch (e) {
            if (!idle.signal.aborted || this.pumpStop.signal.aborted || asError(e).appError.code !== 'CANCELLED') throw e;
          } finally {
            this.wakePump = undefined;
          }
          continue;
        }
        const what = this.active.size > 0 ? `answer to ${this.active.values().next().value!.what}` : `PDU opening its command window (MaxCmdSN ${this.maxCmdSN}, our next CmdSN ${this.cmdSN})`;
        const pdu = await this.s.conn.receive(timeout, what, this.pumpStop.signal);
        this.handle(pdu);
        this.trySend();
      }
    } catch (e) {
      const err = asError(e);
      if (err.appError.code === 'CANCELLED' && !this.closed) this.breakWith(new BootchainError(appError('CANCELLED', `Cancelled. ${this.howFar()}`)));
      else this.breakWith(err);
    }
  }

  private handle(pdu: Pdu): void {
    const op = opcodeOf(pdu.bhs);
    const bhs = pdu.bhs;
    if (op === Opcode.ScsiResponse || op === Opcode.DataIn || op === Opcode.R2T || op === Opcode.NopIn || op === Opcode.AsyncMessage) this.window(bhs.readUInt32BE(28), bhs.readUInt32BE(32));
    switch (op) {
      case Opcode.NopIn: {
        const ttt = bhs.readUInt32BE(20);
        if (ttt !== RESERVED_TAG) this.s.conn.send(buildNopOut({ itt: RESERVED_TAG, cmdSN: this.cmdSN, expStatSN: this.expStatSN }, ttt, bhs.subarray(8, 16), this.negotiated.digests));
        return;
      }
      case Opcode.AsyncMessage: {
        const event = bhs[36];
        if (event === 1 || event === 2 || event === 3) fail('UNREACHABLE', `${this.s.peer} asked to end the session (async event ${event})`, { retryable: true });
        return;
      }
      case Opcode.Reject: {
        const rejected = pdu.data.length >= 20 ? ` (ITT ${pdu.data.readUInt32BE(16)}, opcode 0x${(pdu.data[0]! & 0x3f).toString(16)})` : '';
        fail('PROTOCOL_ERROR', `${this.s.peer} rejected one of our PDUs${rejected}`, { detail: `reason 0x${bhs[2]!.toString(16)}` });
        break;
      }
      case Opcode.R2T:
        return this.r2t(bhs);
      case Opcode.DataIn:
        return this.dataIn(pdu);
      case Opcode.ScsiResponse:
        return this.response(pdu);
      default:
        fail('PROTOCOL_ERROR', `${this.s.peer} sent opcode 0x${op.toString(16)} in the middle of SCSI commands`);
    }
  }

  /** MaxCmdSN/ExpCmdSN from a response: only newer values, only a sane window (RFC 7143 §4.2.2.1). */
  private window(exp: number, max: number): void {
    if (!serialLE((exp - 1) >>> 0, max)) return;
    if (((max - this.maxCmdSN) | 0) > 0) this.maxCmdSN = max;
  }

  private taskFor(itt: number, what: string): Task {
    const t = this.active.get(itt);
    if (!t) fail('PROTOCOL_ERROR', `${this.s.peer} sent ${what} for a task we never started (ITT ${itt})`, { hint: 'The target misbehaves: report it to its vendor; nothing was written past the acknowledged point.' });
    return t;
  }

  /** An R2T: Data-Out for exactly the range it asks, checked against the command (RFC 7143 §11.8). */
  private r2t(bhs: Buffer): void {
    const t = this.taskFor(ittOf(bhs), 'an R2T');
    const ttt = bhs.readUInt32BE(20);
    const r2tsn = bhs.readUInt32BE(36);
    const offset = bhs.readUInt32BE(40);
    const want = bhs.readUInt32BE(44);
    const peer = this.s.peer;
    if (!t.out) fail('PROTOCOL_ERROR', `${peer} sent an R2T for ${t.what}, which sends no data`);
    if (r2tsn !== t.nextR2TSN) fail('PROTOCOL_ERROR', `${peer} sent R2TSN ${r2tsn} for ${t.what} where ${t.nextR2TSN} was next (R2Ts out of order)`);
    if (want === 0 || want > this.negotiated.maxBurstLength) fail('PROTOCOL_ERROR', `${peer} asked for ${want} bytes in one R2T, outside 1-${this.negotiated.maxBurstLength} (MaxBurstLength)`);
    if (offset + want > t.out.length) fail('PROTOCOL_ERROR', `${peer} asked for bytes ${offset}-${offset + want} of ${t.what}, beyond the command's ${t.out.length} bytes`);
    if (offset !== t.nextOffset) fail('PROTOCOL_ERROR', `${peer} asked for data at buffer offset ${offset} of ${t.what}, where offset ${t.nextOffset} was next (in-order data was negotiated)`);
    t.nextR2TSN++;
    t.nextOffset = offset + want;
    const parts: Buffer[] = [];
    this.dataOut(parts, t, ttt, offset, offset + want);
    this.s.conn.sendParts(parts);
  }

  private dataIn(pdu: Pdu): void {
    const bhs = pdu.bhs;
    const t = this.taskFor(ittOf(bhs), 'Data-In');
    if (!t.into) fail('PROTOCOL_ERROR', `${this.s.peer} sent Data-In for ${t.what}, which reads nothing`);
    const offset = bhs.readUInt32BE(40);
    const len = dataLengthOf(bhs);
    if (offset !== t.got || offset + len > t.into.length) fail('PROTOCOL_ERROR', `${this.s.peer} sent Data-In for bytes ${offset}-${offset + len} of ${t.what} (expected offset ${t.got} of ${t.into.length})`);
    pdu.data.copy(t.into, offset);
    t.got += len;
    const flags = flagsOf(bhs);
    if (flags & 0x01) {
      this.statSN(bhs.readUInt32BE(24));
      this.finish(t, { status: bhs[3]!, data: t.into.subarray(0, t.got), residual: bhs.readUInt32BE(44) });
    }
  }

  private response(pdu: Pdu): void {
    const bhs = pdu.bhs;
    const t = this.taskFor(ittOf(bhs), 'a SCSI response');
    this.statSN(bhs.readUInt32BE(24));
    if (bhs[2] !== 0) fail('COMMAND_FAILED', `${this.s.peer} could not run ${t.what} (iSCSI response 0x${bhs[2]!.toString(16)})`);
    const status = bhs[3]!;
    const sense = pdu.data.length >= 2 ? parseSense(pdu.data.subarray(2, 2 + pdu.data.readUInt16BE(0))) : undefined;
    if (status === GOOD && t.out && t.nextOffset < t.out.length) {
      fail('PROTOCOL_ERROR', `${this.s.peer} reported ${t.what} done after asking for only ${t.nextOffset} of its ${t.out.length} bytes`);
    }
    this.finish(t, { status, data: t.into ? t.into.subarray(0, t.got) : Buffer.alloc(0), sense, residual: bhs.readUInt32BE(44) });
  }

  private statSN(sn: number): void {
    const next = (sn + 1) >>> 0;
    if (((next - this.expStatSN) | 0) > 0) this.expStatSN = next;
  }

  private finish(t: Task, r: ScsiResult): void {
    this.active.delete(t.itt);
    t.done(r);
  }

  /** A connection lost or silent (sending or receiving) as the error a writer reports: how far it got. */
  private lost(err: BootchainError): BootchainError {
    const c = err.appError.code;
    if (c !== 'UNREACHABLE' && c !== 'TIMEOUT') return err;
    return new BootchainError(
      appError('UNREACHABLE', `Lost the connection to ${this.s.peer} (${this.o.targetName}, LUN ${this.o.lun}): ${err.appError.message}`, {
        hint: `Check that the NAS is on and reachable. ${this.howFar()}`,
        retryable: true,
        detail: `acknowledged bytes: ${this.ackedPrefix}`,
      }),
    );
  }

  /** The first failure: every queued and in-flight command fails with it, the connection closes. */
  private breakWith(cause: BootchainError): void {
    if (this.broken) return;
    const e = this.lost(cause);
    this.broken = e;
    const all = [...this.queue, ...this.active.values()];
    this.queue.length = 0;
    this.active.clear();
    for (const t of all) t.failed(e);
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
    if (e.appError.code !== 'CANCELLED' || !this.closed) this.s.close();
  }
}

/** READ(16)/WRITE(16)/WRITE SAME(16) CDB: opcode, 8-byte LBA, 4-byte length (SBC-4 §5.16/5.45). */
function rw16(op: number, lba: number, blocks: number): Buffer {
  const cdb = Buffer.alloc(16);
  cdb[0] = op;
  cdb.writeBigUInt64BE(BigInt(lba), 2);
  cdb.writeUInt32BE(blocks, 10);
  return cdb;
}

function clampLength(v: number, field: string): number {
  // RFC 7143 §13.13/13.14: 512 to 2^24-1.
  if (!Number.isInteger(v) || v < 512 || v > 0xffffff) fail('INVALID_INPUT', `${field} ${v} is outside 512-16777215`, { field });
  return v;
}

/** The result of each offered key: OR for InitialR2T, AND for ImmediateData, min for the lengths (RFC 7143 §§ 13.10-13.14). */
function negotiate(s: IscsiSession, ours: { immediateData: boolean; initialR2T: boolean; firstBurstLength: number; maxBurstLength: number }) {
  const got = (k: string) => s.negotiated.get(k);
  const num = (k: string, mine: number, dflt: number) => {
    const v = Number(got(k));
    return Math.min(mine, Number.isInteger(v) && v >= 512 ? v : dflt);
  };
  return {
    // An absent answer means the RFC default (Yes for both).
    immediateData: ours.immediateData && (got('ImmediateData') ?? 'Yes') === 'Yes',
    initialR2T: ours.initialR2T || (got('InitialR2T') ?? 'Yes') === 'Yes',
    firstBurstLength: num('FirstBurstLength', ours.firstBurstLength, 65536),
    maxBurstLength: num('MaxBurstLength', ours.maxBurstLength, 262144),
  };
}

function asError(e: unknown): BootchainError {
  if (e instanceof BootchainError) return e;
  return new BootchainError(appError('INTERNAL', e instanceof Error ? e.message : String(e)));
}
