/**
 * The Install step's jobs. inspect: log in as the workstation, say what its disk holds and what
 * the image is, before anything is written. write: stream the image onto the workstation's LUN
 * with Bootchain's own initiator (WRITE(16), several commands in flight), skip zero runs only
 * where the target guarantees zeros, SYNCHRONIZE CACHE, read it back against the image's sha256,
 * then probe what a workstation of its firmware will find.
 */
import { createHash } from 'node:crypto';
import { formatBytes } from '../../../shared/bytes';
import { BootchainError, fail } from '../../../shared/errors';
import type { ImageSummary, InspectResult, LunSummary, WriteResult } from '../../../shared/install';
import { toAppError } from '../errors';
import { readLayout } from '../iscsi/disk-layout';
import { LunWriter } from '../iscsi/lun-writer';
import { checkDisk } from './findings';
import { openImage, probeImage, type ImageInfo } from './image-source';
import type { StationDisk } from './station-disk';

const MiB = 1 << 20;

/** What a job body gets (the runner's context, narrowed to what these jobs use). */
export interface InstallCtx {
  signal: AbortSignal;
  progress(p: { phase: string; done?: number; total?: number; message?: string }): void;
  log(line: string, level?: 'info' | 'warn' | 'error'): void;
}

/** The part of an image's description the app shows (no zero map, no temp paths). */
export function imageSummary(i: ImageInfo): ImageSummary {
  return { source: i.source, name: i.name, format: i.format, storedSize: i.storedSize, size: i.size, sizeHint: i.sizeHint };
}

/** Logs in to the workstation's LUN as the workstation. */
export async function openDisk(d: StationDisk, ctx: InstallCtx, queueDepth?: number): Promise<LunWriter> {
  ctx.progress({ phase: `logging in to ${d.target} as ${d.initiator}` });
  return LunWriter.open({
    host: d.portal.address,
    port: d.portal.port,
    initiatorName: d.initiator,
    targetName: d.target,
    lun: d.lun,
    chap: d.chap,
    digests: 'prefer',
    timeoutMs: 10000,
    signal: ctx.signal,
    log: (l) => ctx.log(l),
    ...(queueDepth !== undefined ? { negotiate: { queueDepth } } : {}),
  });
}

function lunSummary(d: StationDisk, wr: LunWriter): Omit<LunSummary, 'layout'> {
  const g = wr.geometry;
  return { portal: d.portal, target: d.target, lun: d.lun, initiator: d.initiator, blocks: g.blocks, blockSize: g.blockSize, sizeBytes: g.blocks * g.blockSize, thin: g.thin, zeroesAfterUnmap: g.zeroesAfterUnmap, unmap: g.unmap || g.writeSameUnmap };
}

/** The writer's reads as the disk-layout readers take them. */
export const readOf = (wr: LunWriter) => (lba: number, count: number) => wr.read(lba, count);

/** Why an image cannot go onto this disk (empty when it can). */
function refusalsFor(image: ImageInfo | undefined, lunBytes: number): string[] {
  if (!image?.size) return [];
  return image.size > lunBytes ? [`The image is ${formatBytes(image.size)} (${image.size} bytes), larger than the disk's ${formatBytes(lunBytes)} (${lunBytes} bytes): use a larger LUN or a smaller image.`] : [];
}

/** install:inspect — what the disk holds now and what the image is; writes nothing. */
export async function inspectJob(d: StationDisk, req: { image?: string | undefined }, ctx: InstallCtx): Promise<InspectResult> {
  const image = req.image ? await probeImage(req.image, { signal: ctx.signal, log: (l) => ctx.log(l) }) : undefined;
  const wr = await openDisk(d, ctx);
  try {
    const s = lunSummary(d, wr);
    const layout = await readLayout(readOf(wr), s.blocks, s.blockSize);
    return { station: d.w.name, lun: { ...s, layout }, image: image ? imageSummary(image) : undefined, refusals: refusalsFor(image, s.sizeBytes), needsConfirm: layout.verdict !== 'empty' };
  } finally {
    await wr.close();
  }
}

export interface WriteRequest {
  image: string;
  verify: boolean;
  overwrite: boolean;
  sparse: 'auto' | 'never';
  queueDepth: number;
}

/** A text like "12.5 MiB/s, about 40 s left". */
export function rateText(bytes: number, ms: number, total: number | undefined): string {
  const rate = ms > 0 ? bytes / MiB / (ms / 1000) : 0;
  const left = total && rate > 0 ? Math.max(0, (total - bytes) / MiB / rate) : undefined;
  return `${rate.toFixed(1)} MiB/s${left !== undefined ? `, about ${left < 90 ? `${Math.ceil(left)} s` : `${Math.ceil(left / 60)} min`} left` : ''}`;
}

/** Zeros to compare chunks with (Buffer.equals is one memcmp). */
const ZEROS = Buffer.alloc(MiB);
const isZero = (b: Buffer): boolean => {
  for (let off = 0; off < b.length; off += ZEROS.length) {
    const part = b.subarray(off, off + ZEROS.length);
    if (!part.equals(ZEROS.subarray(0, part.length))) return false;
  }
  return true;
};

/** install:write — the image onto the workstation's LUN, read back and probed. */
export async function writeJob(d: StationDisk, req: WriteRequest, ctx: InstallCtx): Promise<WriteResult> {
  const t0 = Date.now();
  const img = await openImage(req.image, { signal: ctx.signal, log: (l) => ctx.log(l) });
  let wr: LunWriter | undefined;
  let written = 0;
  let consumed = 0;
  const total = () => img.info.size ?? img.info.sizeHint;
  try {
    ctx.log(`image ${img.info.name}: ${img.info.format}${img.info.size !== undefined ? `, ${formatBytes(img.info.size)}` : img.info.sizeHint !== undefined ? `, about ${formatBytes(img.info.sizeHint)}` : ', size known once read'}`);
    wr = await openDisk(d, ctx, req.queueDepth);
    const lun = lunSummary(d, wr);
    const bs = lun.blockSize;
    const refusals = refusalsFor(img.info, lun.sizeBytes);
    if (refusals.length) fail('INVALID_INPUT', refusals[0]!, { hint: 'Nothing was written.' });
    const before = await readLayout(readOf(wr), lun.blocks, bs);
    if (before.verdict !== 'empty' && !req.overwrite) {
      fail('NEEDS_CONFIRMATION', `LUN ${d.lun} of ${d.target} is not empty (${before.summary}): writing replaces everything on it`, { hint: 'Look at what is on the disk, then confirm the overwrite (the CLI: --yes). Nothing was written.' });
    }
    ctx.log(`disk: ${formatBytes(lun.sizeBytes)} (${lun.blocks} blocks of ${bs} bytes), ${before.summary}; negotiated ImmediateData=${wr.negotiated.immediateData ? 'Yes' : 'No'} InitialR2T=${wr.negotiated.initialR2T ? 'Yes' : 'No'} FirstBurstLength=${wr.negotiated.firstBurstLength} MaxBurstLength=${wr.negotiated.maxBurstLength} target MaxRecvDataSegmentLength=${wr.negotiated.targetMaxRecv}, ${wr.negotiated.queueDepth} in flight${wr.negotiated.digests.data ? ', CRC32C digests' : ''}`);

    // Zero runs are skipped only where reading them afterwards is guaranteed to give zeros.
    let sparse = { used: false, why: 'the sparse option is off: every block is written' };
    if (req.sparse === 'auto') {
      if (!lun.thin || !lun.zeroesAfterUnmap) sparse = { used: false, why: `the LUN is ${lun.thin ? 'thin-provisioned but does not promise zeros after UNMAP (LBPRZ=0)' : 'not thin-provisioned (LBPME=0)'}: zero runs are written` };
      else {
        ctx.progress({ phase: 'unmapping the disk (thin-provisioned, reads zeros after UNMAP)' });
        const upTo = img.info.size !== undefined ? Math.ceil(img.info.size / bs) : lun.blocks;
        sparse = (await wr.unmap(0, upTo)) ? { used: true, why: `thin-provisioned with LBPRZ: ${upTo} blocks unmapped first, zero runs skipped` } : { used: false, why: 'the target refused UNMAP: zero runs are written' };
      }
    }
    ctx.log(`sparse: ${sparse.why}`);

    const chunkBytes = Math.max(bs, Math.floor(Math.min(MiB, (wr.geometry.maxTransferBlocks ?? Infinity) * bs) / bs) * bs);
    const hash = createHash('sha256');
    const chunkHashes: Buffer[] = [];
    let skipped = 0;
    let pending: Buffer[] = [];
    let pendingLen = 0;
    const flushChunk = async (buf: Buffer) => {
      hash.update(buf);
      chunkHashes.push(createHash('sha256').update(buf).digest());
      const lba = consumed / bs;
      if (consumed + buf.length > lun.sizeBytes) {
        fail('INVALID_INPUT', `The image is larger than the disk (${formatBytes(lun.sizeBytes)}): stopped at ${formatBytes(consumed)}, nothing beyond the disk was written`, { hint: 'The disk now holds the start of the image only: use a larger LUN or a smaller image, and write again.' });
      }
      consumed += buf.length;
      if (sparse.used && isZero(buf)) skipped += buf.length;
      else {
        // A block-aligned copy: the writer keeps it until the target has it.
        const out = buf.length % bs === 0 ? buf : Buffer.concat([buf, Buffer.alloc(bs - (buf.length % bs))]);
        await wr!.write(lba, out);
        written += out.length;
      }
      const t = total();
      ctx.progress({ phase: 'writing', done: consumed, ...(t !== undefined ? { total: t } : {}), message: rateText(consumed, Date.now() - t0, t) });
    };
    for await (const piece of img.chunks()) {
      if (ctx.signal.aborted) break;
      pending.push(piece);
      pendingLen += piece.length;
      while (pendingLen >= chunkBytes) {
        const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
        await flushChunk(Buffer.from(all.subarray(0, chunkBytes)));
        const rest = all.subarray(chunkBytes);
        pending = rest.length ? [rest] : [];
        pendingLen = rest.length;
      }
    }
    if (ctx.signal.aborted) fail('CANCELLED', 'Write cancelled');
    if (pendingLen > 0) await flushChunk(Buffer.concat(pending));
    const imageBytes = consumed;
    if (imageBytes === 0) fail('INVALID_INPUT', `${img.info.name} holds no data`, { hint: 'Choose a disk image that is not empty. Nothing was written.' });
    ctx.progress({ phase: 'flushing the disk cache (SYNCHRONIZE CACHE)', done: consumed, total: consumed });
    await wr.flush();
    await wr.synchronizeCache();
    const writeMs = Date.now() - t0;
    const sha256 = hash.digest('hex');
    ctx.log(`wrote ${formatBytes(imageBytes)} in ${(writeMs / 1000).toFixed(1)} s (${rateText(imageBytes, writeMs, undefined)}); ${formatBytes(skipped)} of zero runs skipped; sha256 ${sha256}`);

    let verify: WriteResult['verify'];
    if (req.verify) {
      const v0 = Date.now();
      const vh = createHash('sha256');
      let mismatchAt: number | undefined;
      // A few reads in flight ahead of the hashing (one at a time waits a round trip per MiB).
      const ahead: Array<Promise<Buffer>> = [];
      const readAt = (off: number) => {
        const r = wr!.read(off / bs, Math.ceil(Math.min(chunkBytes, imageBytes - off) / bs));
        r.catch(() => undefined); // a read left behind by a failure or cancel is not an unhandled rejection
        return r;
      };
      for (let off = 0, k = 0; off < imageBytes && k < 4; off += chunkBytes, k++) ahead.push(readAt(off));
      for (let off = 0, i = 0; off < imageBytes; off += chunkBytes, i++) {
        if (ctx.signal.aborted) fail('CANCELLED', 'Verify cancelled (the image is written; only the read-back was stopped)');
        const len = Math.min(chunkBytes, imageBytes - off);
        const b = (await ahead.shift()!).subarray(0, len);
        const next = off + 4 * chunkBytes;
        if (next < imageBytes) ahead.push(readAt(next));
        vh.update(b);
        if (mismatchAt === undefined && !createHash('sha256').update(b).digest().equals(chunkHashes[i]!)) mismatchAt = off;
        ctx.progress({ phase: 'verifying (reading the disk back)', done: off + len, total: imageBytes, message: rateText(off + len, Date.now() - v0, imageBytes) });
      }
      const got = vh.digest('hex');
      verify = { ok: got === sha256, sha256: got, durationMs: Date.now() - v0, ...(mismatchAt !== undefined ? { mismatchAt } : {}) };
      ctx.log(verify.ok ? `verified: the disk reads back sha256 ${got}, as written` : `VERIFY FAILED: the disk differs from the image from byte ${mismatchAt} on`, verify.ok ? 'info' : 'error');
    }
    ctx.progress({ phase: 'checking what the workstation will find' });
    const disk = await checkDisk(readOf(wr), lun.blocks, bs, d.w.firmware, d.w.uefiFilename);
    if (verify && !verify.ok) disk.findings.unshift({ status: 'fail', summary: `The disk does not read back as written (first difference at byte ${verify.mismatchAt})`, fix: 'Write again; if it differs again, check the NAS (disk errors, a full pool, a cache without battery).' });
    return {
      station: d.w.name,
      lun,
      image: imageSummary(img.info),
      imageBytes,
      bytesWritten: written,
      bytesSkipped: skipped,
      sparse,
      sha256,
      verify,
      durationMs: Date.now() - t0,
      mibPerSec: imageBytes / MiB / (writeMs / 1000),
      layout: disk.layout,
      findings: disk.findings,
      ok: disk.bootable && (!verify || verify.ok),
    };
  } catch (e) {
    const how = wr ? wr.acknowledgedBytes : 0;
    const code = toAppError(e).code;
    if (code === 'CANCELLED' || ctx.signal.aborted) {
      ctx.log(how > 0 ? `cancelled: ${formatBytes(how)} of ${total() !== undefined ? formatBytes(total()!) : 'the image'} had been written; the disk holds a partial image until you write it again` : 'cancelled before anything was written', 'warn');
      fail('CANCELLED', 'Write cancelled');
    }
    if (e instanceof BootchainError && how > 0 && code !== 'INVALID_INPUT') {
      const a = e.appError;
      throw new BootchainError({ ...a, message: `${a.message} — ${formatBytes(how)} of ${total() !== undefined ? formatBytes(total()!) : 'the image'} had been written`, hint: `${a.hint ? `${a.hint} ` : ''}The disk holds a partial image: write it again once the cause is fixed.` });
    }
    throw e;
  } finally {
    await wr?.close();
    await img.close();
  }
}
