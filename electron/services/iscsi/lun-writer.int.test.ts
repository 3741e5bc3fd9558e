import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeBootSectorDisk } from '../../../e2e/lab/disk-images';
import { ISTGT, startIstgt, type Istgt, type LabHost } from '../../../e2e/lab/istgt';
import { addLabHost } from '../../../e2e/lab/lab';
import { startHostTgtd, type HostTgtd } from '../../../e2e/lab/tgtd-host';
import { labOrSkipReason } from '../../../e2e/support/lab-guard';
import { LunWriter, type LunOpenOptions } from './lun-writer';

// Real peers: a tgtd and an istgt of this test's own, each in a lab host (so the test can set
// per-target parameters and kill a target mid-write without touching the lab's tgtd).
const lab = labOrSkipReason('lun-writer.int.test.ts');
const pexec = promisify(execFile);
const INI = 'iqn.2024-01.io.bootchain:lun-writer-test';
const IQN = 'iqn.2026-11.test.bootchain.hw';
const QEMU_IMG = '/usr/bin/qemu-img';
const qemuIscsi = existsSync('/usr/lib/x86_64-linux-gnu/qemu/block-iscsi.so');
const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-lunw-'));
type Coded = { appError?: { code: string; message: string; hint: string; detail?: string } };
const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: Coded) => e.appError ?? { code: 'THROWN', message: String(e), hint: '' });

let tgtHost: LabHost | undefined;
let tgtd: HostTgtd | undefined;
let istHost: LabHost | undefined;
let ist: Istgt | undefined;
const T = { plain: `${IQN}:plain`, strict: `${IQN}:strict`, image: `${IQN}:image`, vanish: `${IQN}:vanish` };
const TGT_IP = '10.77.0.61';
const IST_IP = '10.77.0.62';
const IST_CHAP = { username: 'hw-ist-user', secret: 'hw-ist-secret-77' };

beforeAll(async () => {
  if (!lab) return;
  tgtHost = await addLabHost(lab, 'hwtgt', [TGT_IP]);
  tgtd = await startHostTgtd(tgtHost, TGT_IP);
  await tgtd.addTarget(1, T.plain, path.join(dir, 'plain.img'), 32);
  // The negotiation the issue lists: no immediate data, R2T for everything, small bursts and PDUs.
  await tgtd.addTarget(2, T.strict, path.join(dir, 'strict.img'), 16, { ImmediateData: 'No', InitialR2T: 'Yes', FirstBurstLength: 4096, MaxBurstLength: 8192, MaxRecvDataSegmentLength: 4096 });
  await tgtd.addTarget(3, T.image, path.join(dir, 'image.img'), 16);
  if (existsSync(ISTGT)) {
    istHost = await addLabHost(lab, 'hwist', [IST_IP]);
    ist = await startIstgt(istHost, { ip: IST_IP, dir: path.join(dir, 'istgt'), sizeMiB: 32, chap: IST_CHAP, digest: 'Required' });
  }
}, 60_000);

afterAll(async () => {
  await tgtd?.stop();
  await tgtHost?.remove();
  await istHost?.remove();
  rmSync(dir, { recursive: true, force: true });
});

const open = (o: Partial<LunOpenOptions> & { targetName: string }) => LunWriter.open({ host: TGT_IP, port: 3260, initiatorName: INI, lun: 1, timeoutMs: 5000, ...o });

/** Writes `mib` MiB of random data at LBA 0 in `chunk`-byte writes, reads it back, compares. */
async function roundTrip(w: LunWriter, mib: number, chunk: number): Promise<void> {
  const data = randomBytes(mib << 20);
  const bs = w.geometry.blockSize;
  for (let off = 0; off < data.length; off += chunk) await w.write(off / bs, data.subarray(off, off + chunk));
  await w.flush();
  expect(w.acknowledgedBytes).toBe(data.length);
  await w.synchronizeCache();
  const back = await w.read(0, data.length / bs);
  expect(back.equals(data)).toBe(true);
}

describe.skipIf(!lab)('LunWriter against real targets', () => {
  if (!lab) return void it.skip('needs the lab (see the SKIP line above)', () => undefined);

  it('tgtd: geometry, write defaults (ImmediateData, no InitialR2T), random blocks read back equal', async () => {
    const w = await open({ targetName: T.plain });
    try {
      expect(w.geometry).toMatchObject({ blocks: (32 << 20) / 512, blockSize: 512 });
      // tgt insists on InitialR2T=Yes (OR) and accepts immediate data (AND).
      expect(w.negotiated).toMatchObject({ immediateData: true, initialR2T: true, digests: { header: false, data: false } });
      await roundTrip(w, 8, 256 << 10);
    } finally {
      await w.close();
    }
  });
});
