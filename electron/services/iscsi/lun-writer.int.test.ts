import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
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
const T = { plain: `${IQN}:plain`, strict: `${IQN}:strict`, image: `${IQN}:image`, vanish: `${IQN}:vanish`, unsolicited: `${IQN}:unsolicited`, thin: `${IQN}:thin`, chap: `${IQN}:chap` };
const TGT_CHAP = { username: 'hw-tgt-user', secret: 'hw-tgt-secret-42' };
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
  await tgtd.addTarget(5, T.thin, path.join(dir, 'thin.img'), 16, {}, 'thin_provisioning=1');
  await tgtd.addTarget(6, T.chap, path.join(dir, 'chap.img'), 8);
  // One-way CHAP on target 6 (tgt's account commands, as the lab's tgtd sets its CHAP targets).
  await tgtd.tgtadm(['--op', 'new', '--mode', 'account', '--user', TGT_CHAP.username, '--password', TGT_CHAP.secret]);
  await tgtd.tgtadm(['--op', 'bind', '--mode', 'account', '--tid', '6', '--user', TGT_CHAP.username]);
  await tgtd.addTarget(4, T.unsolicited, path.join(dir, 'unsolicited.img'), 16, { InitialR2T: 'No', FirstBurstLength: 65536, MaxRecvDataSegmentLength: 16384 });
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
      expect(w.geometry).toMatchObject({ thin: false, unmap: false });
      expect(await w.unmap(0, 8)).toBe(false);
      await roundTrip(w, 8, 256 << 10);
    } finally {
      await w.close();
    }
  });

  it('tgtd with ImmediateData=No, InitialR2T=Yes, FirstBurst 4 KiB, MaxBurst 8 KiB, MaxRecv 4 KiB: every byte through R2T', async () => {
    const w = await open({ targetName: T.strict, negotiate: { queueDepth: 4 } });
    try {
      expect(w.negotiated).toMatchObject({ immediateData: false, initialR2T: true, firstBurstLength: 4096, maxBurstLength: 8192, targetMaxRecv: 4096, queueDepth: 4 });
      await roundTrip(w, 2, 64 << 10);
      // An odd-sized write (3 blocks) and a read that is not chunk-aligned.
      const odd = randomBytes(3 * 512);
      await w.write(1001, odd);
      expect((await w.read(1001, 3)).equals(odd)).toBe(true);
    } finally {
      await w.close();
    }
  });

  it('refuses tgt\'s controller on LUN 0 and a write that is not whole blocks or past the end', async () => {
    const e = await failure(open({ targetName: T.plain, lun: 0 }));
    expect(e).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/storage array controller, not a disk/) });
    const w = await open({ targetName: T.plain });
    try {
      expect(await failure(w.write(0, Buffer.alloc(100)))).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/not whole 512-byte blocks/) });
      expect(await failure(w.write(w.geometry.blocks - 1, Buffer.alloc(1024)))).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/does not fit/) });
    } finally {
      await w.close();
    }
  });

  it.skipIf(!existsSync(ISTGT))('istgt: LUN 0 is the disk, CRC32C digests, CHAP; random blocks read back equal', async () => {
    const w = await LunWriter.open({ host: IST_IP, port: 3260, initiatorName: INI, targetName: ist!.iqn, lun: 0, chap: IST_CHAP, digests: 'require', timeoutMs: 5000 });
    try {
      expect(w.geometry).toMatchObject({ blocks: (32 << 20) / 512, blockSize: 512 });
      expect(w.negotiated.digests).toEqual({ header: true, data: true });
      await roundTrip(w, 4, 1 << 20);
    } finally {
      await w.close();
    }
    // The bytes are on istgt's disk file too (not only in what it reads back to us).
    expect(readFileSync(ist!.image).subarray(0, 4 << 20).equals(Buffer.alloc(4 << 20))).toBe(false);
  });

  it.skipIf(!existsSync(ISTGT))('istgt: wrong CHAP secret is AUTH_FAILED without the secret in the error', async () => {
    const wrong = 'hw-wrong-secret-99';
    const e = await failure(LunWriter.open({ host: IST_IP, port: 3260, initiatorName: INI, targetName: ist!.iqn, lun: 0, chap: { username: IST_CHAP.username, secret: wrong }, timeoutMs: 5000 }));
    expect(e?.code).toBe('AUTH_FAILED');
    expect(JSON.stringify(e)).not.toContain(wrong);
    expect(JSON.stringify(e)).not.toContain(IST_CHAP.secret);
  });

  it.skipIf(!qemuIscsi)('the LUN holds exactly the image disk-images.ts made, as QEMU\'s own iSCSI driver reads it (qemu-img compare)', async () => {
    const img = path.join(dir, 'boot-sector.img');
    writeBootSectorDisk(img, 8 << 20);
    const data = readFileSync(img);
    const w = await open({ targetName: T.image });
    try {
      for (let off = 0; off < data.length; off += 512 << 10) await w.write(off / 512, data.subarray(off, off + (512 << 10)));
      await w.flush();
      await w.synchronizeCache();
    } finally {
      await w.close();
    }
    // qemu-img compare: identical content, the LUN's extra 8 MiB must read as zeros (non-strict mode).
    const r = await pexec(QEMU_IMG, ['compare', '-f', 'raw', '-F', 'raw', img, `iscsi://${TGT_IP}/${T.image}/1`]);
    expect(r.stdout).toMatch(/Images are identical/);
  });

  it('tgtd with InitialR2T=No: immediate data, then unsolicited Data-Out up to FirstBurstLength, then R2T', async () => {
    const w = await open({ targetName: T.unsolicited });
    try {
      expect(w.negotiated).toMatchObject({ immediateData: true, initialR2T: false, firstBurstLength: 65536, targetMaxRecv: 16384 });
      await roundTrip(w, 4, 1 << 20);
    } finally {
      await w.close();
    }
  });

  for (const how of ['tgtd killed', 'its link dropped'] as const) {
    it(`the target vanishing mid-write (${how}): UNREACHABLE saying how far it got, and that far is on the disk`, async () => {
      const host = await addLabHost(lab!, 'hwvan', ['10.77.0.63']);
      const t = await startHostTgtd(host, '10.77.0.63');
      const file = path.join(dir, 'vanish.img');
      try {
        await t.addTarget(1, T.vanish, file, 32);
        const w = await LunWriter.open({ host: '10.77.0.63', port: 3260, initiatorName: INI, targetName: T.vanish, lun: 1, timeoutMs: 1500 });
        const data = randomBytes(32 << 20);
        let gone = false;
        const e = await failure(
          (async () => {
            for (let off = 0; off < data.length; off += 256 << 10) {
              if (!gone && w.acknowledgedBytes >= 4 << 20) {
                gone = true;
                // SIGKILL tgtd (the kernel resets the connection), or a link that just goes silent.
                if (how === 'tgtd killed') await host.remove();
                else await host.exec('ip', ['link', 'set', 'eth0', 'down']);
              }
              await w.write(off / 512, data.subarray(off, off + (256 << 10)));
            }
            await w.flush();
          })(),
        );
        await w.close();
        expect(gone).toBe(true);
        expect(e).toMatchObject({ code: 'UNREACHABLE', message: expect.stringMatching(how === 'tgtd killed' ? /Lost the connection to 10\.77\.0\.63:3260 .*(closed the connection|ECONNRESET)/ : /Lost the connection to 10\.77\.0\.63:3260 .*within 1500 ms/) });
        expect(e?.hint).toMatch(/MiB\) from the start of the disk were written and acknowledged/);
        const acked = w.acknowledgedBytes;
        expect(acked).toBeGreaterThanOrEqual(4 << 20);
        expect(acked).toBeLessThan(data.length);
        expect(e?.hint).toContain(`${acked} bytes`);
        // What was acknowledged is on tgtd's backing file.
        expect(readFileSync(file).subarray(0, acked).equals(data.subarray(0, acked))).toBe(true);
      } finally {
        await t.stop();
        await host.remove();
      }
    });
  }

  it('tgtd thin-provisioned LUN: LBPME and the provisioning page, UNMAP deallocates (the backing file shrinks) and reads zeros', async () => {
    const w = await open({ targetName: T.thin });
    const file = path.join(dir, 'thin.img');
    try {
      // tgt with thin_provisioning=1: LBPME and LBPRZ in READ CAPACITY(16), LBPU and LBPWS in VPD 0xB2.
      expect(w.geometry).toMatchObject({ thin: true, unmap: true, writeSameUnmap: true, zeroesAfterUnmap: true });
      const data = randomBytes(4 << 20);
      const blocks = data.length / 512;
      for (const how of ['UNMAP', 'WRITE SAME(16) with UNMAP'] as const) {
        await w.write(0, data);
        await w.flush();
        await w.synchronizeCache();
        const before = statSync(file).blocks;
        // The second round takes the WRITE SAME path, as on a LUN that has no UNMAP.
        (w.geometry as { unmap: boolean }).unmap = how === 'UNMAP';
        expect(await w.unmap(0, blocks), how).toBe(true);
        expect(statSync(file).blocks, how).toBeLessThan(before);
        expect((await w.read(0, blocks)).equals(Buffer.alloc(data.length)), how).toBe(true);
      }
    } finally {
      await w.close();
    }
  });

  it.skipIf(!existsSync(ISTGT))('istgt: unmap() says whether the LUN can deallocate', async () => {
    const w = await LunWriter.open({ host: IST_IP, port: 3260, initiatorName: INI, targetName: ist!.iqn, lun: 0, chap: IST_CHAP, digests: 'require', timeoutMs: 5000 });
    try {
      // istgt reports no logical block provisioning: fully provisioned, nothing to deallocate.
      expect(w.geometry).toMatchObject({ thin: false, unmap: false, writeSameUnmap: false, zeroesAfterUnmap: false });
      expect(await w.unmap(0, 8)).toBe(false);
    } finally {
      await w.close();
    }
  });

  it('tgtd with CHAP: the right secret writes, a wrong one is AUTH_FAILED without either secret in it', async () => {
    const lines: string[] = [];
    const w = await open({ targetName: T.chap, chap: TGT_CHAP, log: (l) => lines.push(l) });
    try {
      await roundTrip(w, 1, 256 << 10);
    } finally {
      await w.close();
    }
    expect(lines.some((l) => l.includes('CHAP_N=hw-tgt-user'))).toBe(true);
    expect(lines.join('\n')).not.toContain(TGT_CHAP.secret);
    const wrong = 'hw-wrong-tgt-secret';
    const e = await failure(open({ targetName: T.chap, chap: { username: TGT_CHAP.username, secret: wrong } }));
    expect(e?.code).toBe('AUTH_FAILED');
    expect(JSON.stringify(e)).not.toContain(wrong);
    expect(JSON.stringify(e)).not.toContain(TGT_CHAP.secret);
    expect(await failure(open({ targetName: T.chap }))).toMatchObject({ code: 'AUTH_FAILED' });
  });
});
