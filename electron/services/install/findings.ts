/**
 * After a write (or an install), the probe again: the partition table, and for the workstation's
 * firmware what it needs to start — a boot signature and boot code for a BIOS, an EFI system
 * partition with the loader file on FAT for UEFI. Each finding says what to do when it fails.
 */
import type { DiskLayout } from '../../../shared/iscsi';
import type { WriteFinding } from '../../../shared/install';
import { readLayout, type ReadBlocks } from '../iscsi/disk-layout';
import { findFatFile } from './fat';

/** The file UEFI firmware starts from a disk without boot entries (UEFI spec §3.5.1.1, x64). */
export const DEFAULT_UEFI_LOADER = '\\EFI\\BOOT\\BOOTX64.EFI';

export interface DiskCheck {
  layout: DiskLayout;
  findings: WriteFinding[];
  /** Every finding passes or warns. */
  bootable: boolean;
}

/** An ESP by GPT type, or an MBR partition of type 0xEF (UEFI spec §5.2.2). */
function espOf(layout: DiskLayout): { startLba: number; sectors: number; index: number } | undefined {
  if (layout.esp) return layout.esp;
  const p = layout.partitions.find((x) => x.type === 'EFI system');
  return p ? { startLba: p.startLba, sectors: p.sectors, index: p.index } : undefined;
}

/** Reads bytes of a partition through block reads (FAT may use smaller sectors than the LUN's). */
function partitionBytes(read: ReadBlocks, blockSize: number, startLba: number, sectors: number) {
  const end = sectors * blockSize;
  return async (offset: number, length: number): Promise<Buffer> => {
    if (offset < 0 || offset >= end) return Buffer.alloc(0);
    const len = Math.min(length, end - offset);
    const first = Math.floor(offset / blockSize);
    const last = Math.floor((offset + len - 1) / blockSize);
    const b = await read(startLba + first, last - first + 1);
    const from = offset - first * blockSize;
    return b.subarray(from, from + len);
  };
}

/** What a workstation with this firmware will find on the disk. */
export async function checkDisk(read: ReadBlocks, blocks: number, blockSize: number, firmware: 'bios' | 'uefi', uefiFile?: string): Promise<DiskCheck> {
  const layout = await readLayout(read, blocks, blockSize);
  const findings: WriteFinding[] = [];
  const add = (status: WriteFinding['status'], summary: string, fix?: string) => findings.push({ status, summary, ...(fix ? { fix } : {}) });
  if (layout.verdict === 'empty') {
    add('fail', 'The disk is empty: its first sectors are zero', 'The image holds no disk: write a disk image (.img, .raw, a hybrid .iso), not a partition or file-system image.');
    return { layout, findings, bootable: false };
  }
  add(layout.verdict === 'has-os' ? 'pass' : 'warn', `Partition table: ${layout.summary}`);
  if (firmware === 'bios') {
    const lba0 = (await read(0, 1)).subarray(0, 512);
    const code = lba0.subarray(0, 440);
    if (!layout.bootSignature) add('fail', 'No boot signature (0x55AA) in sector 0: a BIOS cannot start this disk', layout.scheme === 'gpt' ? 'The image is set up for UEFI only: set the workstation to UEFI in the project and its firmware, or use an image with a BIOS boot loader (e.g. GRUB with a BIOS boot partition).' : 'Use a bootable disk image (one made for BIOS/legacy boot).');
    else if (code.every((x) => x === 0)) add('fail', 'Sector 0 has a boot signature but no boot code', 'Install a boot loader into the MBR (grub-install --target=i386-pc on this disk), or use an image made for BIOS boot.');
    else add('pass', layout.scheme === 'gpt' ? 'Boot code in the protective MBR (a hybrid BIOS/UEFI disk)' : 'Boot code and the 0x55AA signature in sector 0: a BIOS can start it');
  } else {
    const esp = espOf(layout);
    const file = uefiFile ?? DEFAULT_UEFI_LOADER;
    if (!esp) {
      add('fail', `No EFI system partition: a UEFI workstation cannot start this disk`, layout.scheme === 'mbr' && layout.bootSignature ? 'The image is set up for BIOS: set the workstation to BIOS (legacy) in the project and its firmware, or use a UEFI image (GPT with an EFI system partition).' : 'Use an image with an EFI system partition holding \\EFI\\BOOT\\BOOTX64.EFI.');
    } else {
      const r = await findFatFile(partitionBytes(read, blockSize, esp.startLba, esp.sectors), file);
      if (r.found) add('pass', `EFI system partition #${esp.index} (${r.fsType}) holds ${file} (${r.size} bytes)`);
      else if (!r.fsType) add('fail', `EFI system partition #${esp.index} is not FAT: ${r.why}`, 'UEFI firmware reads FAT only: format the ESP as FAT32 (mkfs.vfat -F 32) and install the boot loader into it.');
      else
        add(
          'fail',
          `EFI system partition #${esp.index} (${r.fsType}) has no ${file}: ${r.why}`,
          uefiFile ? `Install the boot loader as ${file}, or change the workstation's UEFI file in the project (Identity, Advanced).` : 'Install the boot loader to the removable path (grub-install --removable, or copy the loader to \\EFI\\BOOT\\BOOTX64.EFI), or set the workstation\'s UEFI file (Identity, Advanced) to the loader the image has.',
        );
    }
  }
  return { layout, findings, bootable: findings.every((f) => f.status !== 'fail') };
}
