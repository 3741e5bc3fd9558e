import { formatBytes } from '../../../shared/bytes';
import type { DiskLayout } from '../../../shared/iscsi';

/** GPT type GUID of an EFI system partition (UEFI spec §5.3.3). */
export const ESP_GUID = 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b';

/** Formats a mixed-endian GPT GUID (UEFI spec appendix A). */
export function guidToString(b: Buffer): string {
  const h = (x: Buffer) => x.toString('hex');
  const le = (x: Buffer) => h(Buffer.from(x).reverse());
  return `${le(b.subarray(0, 4))}-${le(b.subarray(4, 6))}-${le(b.subarray(6, 8))}-${h(b.subarray(8, 10))}-${h(b.subarray(10, 16))}`;
}

const MBR_TYPES: Record<number, string> = {
  0x07: 'NTFS/exFAT',
  0x0b: 'FAT32',
  0x0c: 'FAT32 (LBA)',
  0x0e: 'FAT16 (LBA)',
  0x82: 'Linux swap',
  0x83: 'Linux',
  0x8e: 'Linux LVM',
  0xee: 'GPT protective',
  0xef: 'EFI system',
  0xfd: 'Linux RAID',
};

/**
 * Reads the partition scheme from LBA 0, LBA 1 and the GPT entry array (when given). Pure:
 * the probe reads the sectors, this decides what they hold.
 */
export function analyseLayout(lba0: Buffer, lba1: Buffer | undefined, entries: Buffer | undefined, blockSize: number): DiskLayout {
  const bootSignature = lba0.length >= 512 && lba0[510] === 0x55 && lba0[511] === 0xaa;
  const allZero = (b: Buffer | undefined) => !b || b.every((x) => x === 0);
  const parts: DiskLayout['partitions'] = [];
  if (lba1 && lba1.length >= 92 && lba1.subarray(0, 8).toString('latin1') === 'EFI PART') {
    const entryLba = Number(lba1.readBigUInt64LE(72));
    const count = lba1.readUInt32LE(80);
    const size = lba1.readUInt32LE(84);
    let esp: DiskLayout['esp'];
    if (entries && size >= 128 && size <= 4096) {
      for (let i = 0; i < Math.min(count, 512) && (i + 1) * size <= entries.length; i++) {
        const e = entries.subarray(i * size, (i + 1) * size);
        if (e.subarray(0, 16).every((x) => x === 0)) continue;
        const type = guidToString(e.subarray(0, 16));
        const first = Number(e.readBigUInt64LE(32));
        const last = Number(e.readBigUInt64LE(40));
        const name = e.subarray(56, 128).toString('utf16le').replace(/\0.*$/s, '');
        const isEsp = type === ESP_GUID;
        parts.push({ index: i + 1, type: isEsp ? 'EFI system' : type, startLba: first, sectors: last - first + 1, name });
        if (isEsp && !esp) esp = { index: i + 1, startLba: first, sectors: last - first + 1 };
      }
    }
    void entryLba;
    const summary = `GPT, ${parts.length} partition(s)${esp ? `, EFI system partition #${esp.index} (${formatBytes(esp.sectors * blockSize)})` : ', no EFI system partition'}`;
    return { scheme: 'gpt', bootSignature, bootable: !!esp, partitions: parts, esp, verdict: 'has-os', summary };
  }
  if (bootSignature) {
    for (let i = 0; i < 4; i++) {
      const e = lba0.subarray(446 + i * 16, 446 + (i + 1) * 16);
      const type = e[4]!;
      if (type === 0) continue;
      parts.push({ index: i + 1, type: MBR_TYPES[type] ?? `0x${type.toString(16)}`, startLba: e.readUInt32LE(8), sectors: e.readUInt32LE(12), bootFlag: e[0] === 0x80 });
    }
    const bootable = parts.some((p) => p.bootFlag) || parts.length === 0; // boot code without a table (e.g. a boot sector image)
    const summary = parts.length > 0 ? `MBR, ${parts.length} partition(s)${parts.some((p) => p.bootFlag) ? ', one marked bootable' : ''}` : 'boot sector (0x55AA) without partitions';
    return { scheme: 'mbr', bootSignature, bootable, partitions: parts, verdict: 'has-os', summary };
  }
  if (allZero(lba0) && allZero(lba1)) return { scheme: 'none', bootSignature: false, bootable: false, partitions: [], verdict: 'empty', summary: 'empty disk (first sectors are zero)' };
  return { scheme: 'none', bootSignature: false, bootable: false, partitions: [], verdict: 'unknown-data', summary: 'data without a partition table or boot signature' };
}

/** Reads `count` blocks from `lba` of a disk. */
export type ReadBlocks = (lba: number, count: number) => Promise<Buffer>;

/** Reads LBA 0, LBA 1 and the GPT entry array (at most 128 KiB of it) and analyses them. */
export async function readLayout(read: ReadBlocks, blocks: number, blockSize: number): Promise<DiskLayout> {
  const head = await read(0, Math.min(2, blocks));
  const lba0 = head.subarray(0, blockSize);
  const lba1 = head.length >= 2 * blockSize ? head.subarray(blockSize, 2 * blockSize) : undefined;
  let entries: Buffer | undefined;
  if (lba1 && lba1.subarray(0, 8).toString('latin1') === 'EFI PART') {
    const entryLba = Number(lba1.readBigUInt64LE(72));
    const bytes = Math.min(lba1.readUInt32LE(80) * lba1.readUInt32LE(84), 128 * 1024);
    const count = Math.max(1, Math.ceil(bytes / blockSize));
    if (entryLba > 0 && entryLba + count <= blocks) entries = await read(entryLba, count);
  }
  return analyseLayout(lba0, lba1, entries, blockSize);
}
