/**
 * Disk images for the lab's LUNs, written by hand so the tests know exactly what is on them:
 * an MBR disk (boot code marker, one bootable Linux partition, 0x55AA) and a GPT disk with an
 * EFI system partition (protective MBR, primary header and entries, backup header and entries).
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { SYSTEM_PATH, which } from '../../electron/services/privileges/privileges';

const SECTOR = 512;

/** Text at the start of the MBR boot code of lab disks. */
export const MBR_MARKER = 'BOOTCHAIN-LAB-MBR';

/** Writes a sparse disk image of `bytes` with the given sectors (buffer, LBA) in place. */
function writeDisk(file: string, bytes: number, parts: Array<[Buffer, number]>): void {
  const fd = openSync(file, 'w');
  try {
    ftruncateSync(fd, bytes);
    for (const [buf, lba] of parts) writeSync(fd, buf, 0, buf.length, lba * SECTOR);
  } finally {
    closeSync(fd);
  }
}

/** A sparse file of `bytes` with an MBR: one bootable Linux partition from LBA 2048. */
export function writeMbrDisk(file: string, bytes: number): void {
  const mbr = Buffer.alloc(SECTOR);
  mbr.write(MBR_MARKER, 0, 'latin1');
  const e = mbr.subarray(446, 462);
  e[0] = 0x80; // bootable
  e[4] = 0x83; // Linux
  e.writeUInt32LE(2048, 8);
  e.writeUInt32LE(bytes / SECTOR - 2048, 12);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  writeDisk(file, bytes, [[mbr, 0]]);
}

/** GUID text to the mixed-endian bytes GPT stores. */
function guidBytes(g: string): Buffer {
  const h = g.replace(/-/g, '');
  const b = Buffer.from(h, 'hex');
  return Buffer.concat([Buffer.from(b.subarray(0, 4)).reverse(), Buffer.from(b.subarray(4, 6)).reverse(), Buffer.from(b.subarray(6, 8)).reverse(), b.subarray(8, 16)]);
}

const ESP_TYPE = 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b';
const LINUX_TYPE = '0fc63daf-8483-4772-8e79-3d69d8477de4';

/** A sparse file of `bytes` with GPT: an EFI system partition of `espMiB` and a Linux partition. */
export function writeGptDisk(file: string, bytes: number, espMiB = 8): void {
  const sectors = bytes / SECTOR;
  const entriesSectors = 32; // 128 entries x 128 bytes
  const firstUsable = 2 + entriesSectors;
  const lastUsable = sectors - 1 - entriesSectors - 1;
  const espFirst = 2048;
  const espLast = espFirst + (espMiB * 1048576) / SECTOR - 1;
  const entries = Buffer.alloc(entriesSectors * SECTOR);
  const entry = (i: number, type: string, first: number, last: number, name: string) => {
    const e = entries.subarray(i * 128, (i + 1) * 128);
    guidBytes(type).copy(e, 0);
    randomBytes(16).copy(e, 16);
    e.writeBigUInt64LE(BigInt(first), 32);
    e.writeBigUInt64LE(BigInt(last), 40);
    e.write(name, 56, 'utf16le');
  };
  entry(0, ESP_TYPE, espFirst, espLast, 'EFI system partition');
  entry(1, LINUX_TYPE, espLast + 1, lastUsable, 'root');
  const entriesCrc = crc32(entries);
  const diskGuid = randomBytes(16);
  const header = (self: number, alt: number, entriesLba: number) => {
    const h = Buffer.alloc(SECTOR);
    h.write('EFI PART', 0, 'latin1');
    h.writeUInt32LE(0x00010000, 8);
    h.writeUInt32LE(92, 12);
    h.writeBigUInt64LE(BigInt(self), 24);
    h.writeBigUInt64LE(BigInt(alt), 32);
    h.writeBigUInt64LE(BigInt(firstUsable), 40);
    h.writeBigUInt64LE(BigInt(lastUsable), 48);
    diskGuid.copy(h, 56);
    h.writeBigUInt64LE(BigInt(entriesLba), 72);
    h.writeUInt32LE(128, 80);
    h.writeUInt32LE(128, 84);
    h.writeUInt32LE(entriesCrc, 88);
    h.writeUInt32LE(crc32(h.subarray(0, 92)), 16);
    return h;
  };
  const pmbr = Buffer.alloc(SECTOR);
  const e = pmbr.subarray(446, 462);
  e[1] = 0x00;
  e[2] = 0x02;
  e[4] = 0xee;
  e[5] = 0xff;
  e[6] = 0xff;
  e[7] = 0xff;
  e.writeUInt32LE(1, 8);
  e.writeUInt32LE(Math.min(sectors - 1, 0xffffffff), 12);
  pmbr[510] = 0x55;
  pmbr[511] = 0xaa;
  writeDisk(file, bytes, [
    [pmbr, 0],
    [header(1, sectors - 1, 2), 1],
    [entries, 2],
    [entries, sectors - 1 - entriesSectors],
    [header(sectors - 1, 1, sectors - 1 - entriesSectors), sectors - 1],
  ]);
}

/** What the lab's boot-sector LUN prints on COM1 when a machine boots from it. */
export const BOOT_MARKER = 'BOOTCHAIN-LUN-BOOTED';

/**
 * A sparse disk whose first sector is a tiny real-mode program: it writes BOOT_MARKER to the
 * first serial port (0x3f8) and halts. Hand-assembled (16-bit, org 0x7c00):
 *   cli; xor ax,ax; mov ds,ax; mov si,msg
 *   l: lodsb; test al,al; jz d; mov dx,0x3f8; out dx,al; jmp l
 *   d: hlt; jmp d
 */
export function writeBootSectorDisk(file: string, bytes: number): void {
  const code = [0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0xbe, 0x16, 0x7c, 0xac, 0x84, 0xc0, 0x74, 0x06, 0xba, 0xf8, 0x03, 0xee, 0xeb, 0xf5, 0xf4, 0xeb, 0xfd];
  const sector = Buffer.alloc(SECTOR);
  Buffer.from(code).copy(sector, 0);
  sector.write(`\r\n${BOOT_MARKER}\r\n\0`, code.length, 'latin1');
  sector[510] = 0x55;
  sector[511] = 0xaa;
  writeDisk(file, bytes, [[sector, 0]]);
}

/** What the lab's UEFI LUN prints on the console when a machine boots from it. */
export const UEFI_BOOT_MARKER = 'BOOTCHAIN-UEFI-BOOTED';

const UEFI_TOOLS = ['grub-mkstandalone', 'mkfs.vfat', 'mmd', 'mcopy'];

/** The tools writeUefiBootDisk needs that this machine lacks (Debian: grub-efi-amd64-bin, dosfstools, mtools). */
export function missingUefiTools(): string[] {
  return UEFI_TOOLS.filter((t) => !which(t, SYSTEM_PATH));
}

/**
 * A GPT disk whose EFI system partition (FAT) holds \EFI\BOOT\BOOTX64.EFI: a standalone GRUB
 * (grub-mkstandalone) whose embedded grub.cfg prints UEFI_BOOT_MARKER on the firmware's console
 * and halts — the removable-media path every UEFI firmware boots from a disk with no boot entry.
 */
export function writeUefiBootDisk(file: string, bytes: number, espMiB = 8): void {
  const missing = missingUefiTools();
  if (missing.length) throw new Error(`a UEFI boot disk needs ${missing.join(', ')} (Debian: grub-efi-amd64-bin grub-common dosfstools mtools)`);
  const work = mkdtempSync(path.join(os.tmpdir(), 'bc-uefi-disk-'));
  try {
    writeFileSync(path.join(work, 'grub.cfg'), `echo ${UEFI_BOOT_MARKER}\nsleep 2\nhalt\n`);
    const efi = path.join(work, 'BOOTX64.EFI');
    execFileSync('grub-mkstandalone', ['-O', 'x86_64-efi', '-o', efi, '--locales=', '--fonts=', '--themes=', '--install-modules=echo sleep halt normal configfile', '--modules=echo sleep halt', `boot/grub/grub.cfg=${path.join(work, 'grub.cfg')}`], { stdio: 'ignore' });
    const esp = path.join(work, 'esp.img');
    execFileSync('mkfs.vfat', ['-C', esp, String(espMiB * 1024)], { stdio: 'ignore' });
    execFileSync('mmd', ['-i', esp, '::/EFI', '::/EFI/BOOT'], { stdio: 'ignore' });
    execFileSync('mcopy', ['-i', esp, efi, '::/EFI/BOOT/BOOTX64.EFI'], { stdio: 'ignore' });
    writeGptDisk(file, bytes, espMiB);
    const fd = openSync(file, 'r+');
    try {
      writeSync(fd, readFileSync(esp), 0, undefined, 2048 * SECTOR);
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
