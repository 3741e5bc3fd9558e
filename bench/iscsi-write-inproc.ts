/**
 * One target's figures for bench/iscsi-write.ts, run in the lab's desk: per run, the image written
 * by LunWriter (login to SYNCHRONIZE CACHE), then by `qemu-img convert -n` through QEMU's own iSCSI
 * driver onto the same LUN, then our read-back verify (READ(16) + sha256 against the image's).
 * Prints the lines and a `# result {json}` line for the parent.
 */
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import os from 'node:os';
import { LunWriter } from '../electron/services/iscsi/lun-writer';
import { median, timed } from './lib';

const CHUNK = 1 << 20;

async function ours(o: { host: string; targetName: string; lun: number }, image: string, queueDepth: number): Promise<{ writeMs: number; verifyMs: number; same: boolean; want: string }> {
  const t0 = process.hrtime.bigint();
  const w = await LunWriter.open({ host: o.host, port: 3260, initiatorName: 'iqn.2024-01.io.bootchain:bench', targetName: o.targetName, lun: o.lun, negotiate: { queueDepth } });
  const want = createHash('sha256');
  try {
    let lba = 0;
    // 1 MiB reads of the file: each chunk is a fresh buffer the writer may keep until acknowledged.
    for await (const chunk of createReadStream(image, { highWaterMark: CHUNK })) {
      const b = chunk as Buffer;
      want.update(b);
      await w.write(lba, b);
      lba += b.length / w.geometry.blockSize;
    }
    await w.flush();
    await w.synchronizeCache();
    const writeMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const t1 = process.hrtime.bigint();
    const got = createHash('sha256');
    const blocks = statSync(image).size / w.geometry.blockSize;
    const per = (8 * CHUNK) / w.geometry.blockSize;
    // One read ahead: the next 8 MiB is on the wire while this one is hashed.
    const readAt = (b: number) => w.read(b, Math.min(per, blocks - b));
    let next = readAt(0);
    for (let b = 0; b < blocks; b += per) {
      const cur = await next;
      if (b + per < blocks) next = readAt(b + per);
      got.update(cur);
    }
    const verifyMs = Number(process.hrtime.bigint() - t1) / 1e6;
    const digest = want.digest('hex');
    return { writeMs, verifyMs, same: got.digest('hex') === digest, want: digest };
  } finally {
    await w.close();
  }
}

async function main(): Promise<void> {
  const [label, host, targetName, lunText, image, runsText, depthText] = process.argv.slice(2);
  const o = { host: host!, targetName: targetName!, lun: Number(lunText) };
  const runs = Number(runsText ?? 3);
  const depth = Number(depthText ?? 8);
  const mib = statSync(image!).size / 1048576;
  const url = `iscsi://${host}/${targetName}/${o.lun}`;
  const ratios: number[] = [];
  const vr: number[] = [];
  const ourMs: number[] = [];
  const theirMs: number[] = [];
  const verMs: number[] = [];
  let allSame = true;
  const qemu = async () => {
    const b = await timed('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', image!, url]);
    if (b.code !== 0) throw new Error(`qemu-img convert exited ${b.code}`);
    return b;
  };
  // One untimed pass first: the target's backing file gets its blocks allocated (the first writer
  // onto a fresh sparse file would pay for that), and the image is in the page cache for both.
  await qemu();
  for (let i = 0; i < runs; i++) {
    // Who goes first alternates, so neither always finds the other's writes still being flushed.
    let a: Awaited<ReturnType<typeof ours>>;
    let b: Awaited<ReturnType<typeof qemu>>;
    if (i % 2 === 0) {
      a = await ours(o, image!, depth);
      b = await qemu();
    } else {
      b = await qemu();
      a = await ours(o, image!, depth);
    }
    ourMs.push(a.writeMs);
    theirMs.push(b.ms);
    verMs.push(a.verifyMs);
    // Throughput ratio ours/qemu-img = its time / ours.
    ratios.push(b.ms / a.writeMs);
    vr.push(a.verifyMs / a.writeMs);
    allSame &&= a.same;
  }
  const mbps = (ms: number) => (mib / (ms / 1000)).toFixed(0);
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  process.stdout.write(
    [
      `write ${mib} MiB raw onto ${label} (${url}), queue depth ${depth}, 1 MiB writes; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
      `  bootchain LunWriter: median ${median(ourMs).toFixed(0)} ms = ${mbps(median(ourMs))} MiB/s  (runs: ${fmt(ourMs)})`,
      `  qemu-img convert -n: median ${median(theirMs).toFixed(0)} ms = ${mbps(median(theirMs))} MiB/s  (runs: ${fmt(theirMs)})`,
      `  throughput ratio bootchain/qemu-img, median of per-run ratios: ${median(ratios).toFixed(2)}x  (goal >= 1.0x; runs: ${ratios.map((r) => r.toFixed(2)).join(', ')})`,
      `  read-back verify (READ(16) + sha256): median ${median(verMs).toFixed(0)} ms = ${median(vr).toFixed(2)}x the write time (goal <= 2x); read back equal: ${allSame ? 'yes' : 'NO'}`,
      `# result ${JSON.stringify({ ratio: median(ratios), verify: median(vr), same: allSame })}`,
      '',
    ].join('\n'),
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`iscsi-write-inproc: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
