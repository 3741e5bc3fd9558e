import { appError, BootchainError, fail } from '../../../shared/errors';
import type { LunInfo, ProbeResult } from '../../../shared/iscsi';
import { checkTargetName, discover } from './discovery';
import { withDeadline } from './connection';
import { readLayout } from './disk-layout';
import { decodeLun, encodeLun } from './pdu';
import { IscsiSession, type ChapCredentials, type LoginOptions, type ScsiResult } from './session';
import { SenseKey } from './status';

const DEVICE_TYPES: Record<number, string> = {
  0x00: 'disk',
  0x01: 'tape',
  0x05: 'CD/DVD',
  0x07: 'optical',
  0x0c: 'storage array controller',
  0x0d: 'enclosure',
  0x1f: 'unknown',
};

const GOOD = 0x00;
const CHECK_CONDITION = 0x02;

/** Runs a read command, retrying UNIT ATTENTION (the first command after login on tgt, SAM-5 §5.14). */
async function command(s: IscsiSession, lun: number, cdb: Buffer, alloc: number, what: string): Promise<ScsiResult> {
  for (let attempt = 0; attempt < 4; attempt++) {
    const r = await s.scsiRead(encodeLun(lun), cdb, alloc);
    if (r.status === GOOD) return r;
    if (r.status === CHECK_CONDITION && r.sense?.key === SenseKey.UnitAttention) continue;
    const sense = r.sense ? ` (sense key 0x${r.sense.key.toString(16)}, ASC 0x${r.sense.asc.toString(16)}/0x${r.sense.ascq.toString(16)})` : '';
    fail('COMMAND_FAILED', `${what} on LUN ${lun} failed with SCSI status 0x${r.status.toString(16)}${sense}`, { retryable: true });
  }
  return fail('COMMAND_FAILED', `${what} on LUN ${lun} kept reporting UNIT ATTENTION`, { retryable: true });
}

const ascii = (b: Buffer) => b.toString('latin1').replace(/[^\x20-\x7e]/g, '').trim();

/** REPORT LUNS (SPC-4 §6.33); a target that refuses it gets LUN 0 only. */
async function reportLuns(s: IscsiSession): Promise<number[]> {
  const cdb = Buffer.alloc(12);
  cdb[0] = 0xa0;
  cdb.writeUInt32BE(4096, 6);
  const r = await command(s, 0, cdb, 4096, 'REPORT LUNS');
  if (r.data.length < 8) return [0];
  const len = Math.min(r.data.readUInt32BE(0), r.data.length - 8);
  const luns: number[] = [];
  for (let off = 8; off + 8 <= 8 + len; off += 8) luns.push(decodeLun(r.data.subarray(off, off + 8)));
  return luns.length > 0 ? luns : [0];
}

async function inquiry(s: IscsiSession, lun: number): Promise<Pick<LunInfo, 'deviceType' | 'deviceTypeName' | 'vendor' | 'product' | 'revision' | 'serial'>> {
  const cdb = Buffer.from([0x12, 0, 0, 0, 96, 0]);
  const r = await command(s, lun, cdb, 96, 'INQUIRY');
  if (r.data.length < 36) fail('PROTOCOL_ERROR', `INQUIRY data of LUN ${lun} is too short`);
  const deviceType = r.data[0]! & 0x1f;
  const out = {
    deviceType,
    deviceTypeName: DEVICE_TYPES[deviceType] ?? `type 0x${deviceType.toString(16)}`,
    vendor: ascii(r.data.subarray(8, 16)),
    product: ascii(r.data.subarray(16, 32)),
    revision: ascii(r.data.subarray(32, 36)),
    serial: undefined as string | undefined,
  };
  try {
    // Unit serial number VPD page 0x80 (SPC-4 §7.8.17).
    const v = await command(s, lun, Buffer.from([0x12, 1, 0x80, 0, 255, 0]), 255, 'INQUIRY VPD 0x80');
    if (v.data.length >= 4 && v.data[1] === 0x80) out.serial = ascii(v.data.subarray(4, 4 + v.data[3]!));
  } catch {
    // Optional page: some targets do not have it.
  }
  return out;
}

/** READ CAPACITY (10), then (16) when the disk is too large for 32-bit LBAs (SBC-3 §5.15/5.16). */
async function capacity(s: IscsiSession, lun: number): Promise<{ blocks: number; blockSize: number }> {
  const r = await command(s, lun, Buffer.alloc(10, 0).fill(0x25, 0, 1), 8, 'READ CAPACITY(10)');
  if (r.data.length < 8) fail('PROTOCOL_ERROR', `READ CAPACITY data of LUN ${lun} is too short`);
  let last = r.data.readUInt32BE(0);
  let blockSize = r.data.readUInt32BE(4);
  if (last === 0xffffffff) {
    const cdb = Buffer.alloc(16);
    cdb[0] = 0x9e;
    cdb[1] = 0x10;
    cdb.writeUInt32BE(32, 10);
    const r16 = await command(s, lun, cdb, 32, 'READ CAPACITY(16)');
    last = Number(r16.data.readBigUInt64BE(0));
    blockSize = r16.data.readUInt32BE(8);
  }
  if (blockSize < 512 || blockSize > 65536) fail('PROTOCOL_ERROR', `LUN ${lun} reports a block size of ${blockSize}`);
  return { blocks: last + 1, blockSize };
}

/** READ(10) of `count` blocks from `lba`. */
async function read(s: IscsiSession, lun: number, lba: number, count: number, blockSize: number): Promise<Buffer> {
  const cdb = Buffer.alloc(10);
  cdb[0] = 0x28;
  cdb.writeUInt32BE(lba, 2);
  cdb.writeUInt16BE(count, 7);
  const r = await command(s, lun, cdb, count * blockSize, `READ(10) of LBA ${lba}`);
  return r.data;
}

type ProbeOptions = Omit<LoginOptions, 'sessionType'> & { targetName: string; discoveryChap?: ChapCredentials | undefined };

/**
 * Logs in as the given initiator (with its CHAP) and describes the target: every LUN with its
 * type, vendor, serial and size, and for disks what the first sectors hold. Logs out at the end;
 * all within `deadlineMs` when given.
 */
export async function probeTarget(o: ProbeOptions): Promise<ProbeResult> {
  checkTargetName(o.targetName);
  return withDeadline(o, `Probe of ${o.targetName} on ${o.host}:${o.port}`, (signal) => probeWithin({ ...o, signal }));
}

async function probeWithin(o: ProbeOptions): Promise<ProbeResult> {
  const t0 = Date.now();
  let s: IscsiSession;
  try {
    s = await IscsiSession.login({ ...o, sessionType: 'Normal' });
  } catch (e) {
    if (e instanceof BootchainError && e.appError.code === 'TARGET_NOT_FOUND') throw await explainNotFound(o, e);
    throw e;
  }
  try {
    const luns: LunInfo[] = [];
    for (const lun of (await reportLuns(s)).slice(0, 64)) {
      const info: LunInfo = { lun, ...(await inquiry(s, lun)) };
      if (info.deviceType === 0) {
        const cap = await capacity(s, lun);
        info.blockSize = cap.blockSize;
        info.blocks = cap.blocks;
        info.sizeBytes = cap.blocks * cap.blockSize;
        info.layout = await readLayout((lba, count) => read(s, lun, lba, count, cap.blockSize), cap.blocks, cap.blockSize);
      }
      luns.push(info);
    }
    return {
      portal: { address: o.host, port: o.port },
      target: o.targetName,
      initiator: o.initiatorName,
      luns,
      bootLun: luns.find((l) => l.deviceType === 0)?.lun,
      digests: s.digests,
      durationMs: Date.now() - t0,
    };
  } finally {
    await s.logout();
  }
}

/** Edit distance, for "did you mean" on target names. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/**
 * A login said "no such target": ask discovery (as the same initiator) what this portal offers,
 * to tell a typo ("did you mean …") from a target hidden by its ACL (tgt and LIO with
 * discovery ACLs answer "not found" to initiators they do not allow).
 */
async function explainNotFound(o: ProbeOptions, original: BootchainError): Promise<BootchainError> {
  let names: string[] | undefined;
  try {
    const d = await discover({ host: o.host, port: o.port, initiatorName: o.initiatorName, chap: o.discoveryChap, timeoutMs: o.timeoutMs ?? 10000, signal: o.signal });
    names = d.targets.map((t) => t.name);
  } catch {
    return original; // Discovery refused too: the original answer is all we know.
  }
  const want = o.targetName.toLowerCase();
  const close = names.filter((n) => editDistance(n.toLowerCase(), want) <= Math.max(3, Math.floor(want.length / 20))).slice(0, 3);
  if (close.length > 0) {
    return new BootchainError(
      appError('TARGET_NOT_FOUND', `No such target: ${o.targetName} on ${o.host}:${o.port}`, {
        hint: `Did you mean ${close.join(' or ')}? Copy the target name from discovery.`,
        detail: original.appError.detail,
      }),
    );
  }
  return new BootchainError(
    appError('TARGET_NOT_FOUND', `Target ${o.targetName} is not visible to initiator ${o.initiatorName} on ${o.host}:${o.port}`, {
      hint: `Either the target name is wrong, or the target's ACL does not allow initiator IQN ${o.initiatorName} and hides the target from it: check the name, and add ${o.initiatorName} to the target's allowed initiators on the NAS. Discovery as this initiator lists ${names.length} target(s).`,
      detail: original.appError.detail,
    }),
  );
}
