import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { missingUefiTools, writeBootSectorDisk, writeUefiBootDisk } from '../../../e2e/lab/disk-images';
import { SYSTEM_PATH, which } from '../privileges/privileges';
import { checkDisk } from './findings';

const dir = mkdtempSync(path.join(os.tmpdir(), 'bootchain-findings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MiB = 1 << 20;

function reader(file: string, blockSize = 512) {
  return async (lba: number, count: number) => {
    const fd = openSync(file, 'r');
    try {
      const b = Buffer.alloc(count * blockSize);
      readSync(fd, b, 0, b.length, lba * blockSize);
      return b;
    } finally {
      closeSync(fd);
    }
  };
}

const check = (file: string, fw: 'bios' | 'uefi', uefiFile?: string) => checkDisk(reader(file), (64 * MiB) / 512, 512, fw, uefiFile);

describe('the post-write probe', () => {
  it('a BIOS boot-sector disk: bootable by a BIOS, and a UEFI station is told the disk is set up for BIOS', async () => {
    const f = path.join(dir, 'bios.img');
    writeBootSectorDisk(f, 64 * MiB);
    const bios = await check(f, 'bios');
    expect(bios.bootable).toBe(true);
    expect(bios.findings.at(-1)!.summary).toMatch(/BIOS can start it/);
    const uefi = await check(f, 'uefi');
    expect(uefi.bootable).toBe(false);
    expect(uefi.findings.at(-1)).toMatchObject({ status: 'fail', fix: expect.stringMatching(/set the workstation to BIOS/) });
  });

  it('an empty disk fails with what to write instead', async () => {
    const f = path.join(dir, 'empty.img');
    const fd = openSync(f, 'w');
    ftruncateSync(fd, 64 * MiB);
    closeSync(fd);
    const r = await check(f, 'bios');
    expect(r.findings).toEqual([expect.objectContaining({ status: 'fail', summary: expect.stringMatching(/empty/) })]);
  });

  const uefiMissing = missingUefiTools();
  if (uefiMissing.length) console.log(`SKIP findings.test.ts UEFI disks: ${uefiMissing.join(', ')} missing (Debian: grub-efi-amd64-bin dosfstools mtools)`);
  it.skipIf(uefiMissing.length > 0)('a GPT disk with GRUB as \\EFI\\BOOT\\BOOTX64.EFI (grub-mkstandalone, mkfs.vfat, mtools): UEFI passes; BIOS fails with no boot code', async () => {
    const f = path.join(dir, 'uefi.img');
    writeUefiBootDisk(f, 64 * MiB);
    const uefi = await check(f, 'uefi');
    expect(uefi.bootable).toBe(true);
    expect(uefi.findings.at(-1)!.summary).toMatch(/EFI system partition #1 \(FAT12\) holds \\EFI\\BOOT\\BOOTX64\.EFI \(\d+ bytes\)/);
    const other = await check(f, 'uefi', '\\EFI\\debian\\shimx64.efi');
    expect(other.findings.at(-1)).toMatchObject({ status: 'fail', summary: expect.stringMatching(/has no \\EFI\\debian\\shimx64\.efi: \\EFI has no debian/), fix: expect.stringMatching(/UEFI file in the project/) });
    const bios = await check(f, 'bios');
    expect(bios.findings.at(-1)).toMatchObject({ status: 'fail', summary: 'Sector 0 has a boot signature but no boot code' });
  });

  const sfdisk = which('sfdisk', SYSTEM_PATH);
  if (!sfdisk) console.log('SKIP findings.test.ts sfdisk disk: sfdisk is missing (Debian: fdisk)');
  it.skipIf(!sfdisk || uefiMissing.length > 0)('a GPT written by util-linux sfdisk with an empty FAT ESP: the fix says where the loader goes', async () => {
    const f = path.join(dir, 'sfdisk.img');
    const fd = openSync(f, 'w');
    ftruncateSync(fd, 64 * MiB);
    closeSync(fd);
    execFileSync(sfdisk!, ['--quiet', f], { input: 'label: gpt\nstart=2048, size=32768, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\nstart=34816, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n' });
    const esp = path.join(dir, 'esp.img');
    execFileSync(which('mkfs.vfat', SYSTEM_PATH)!, ['-C', esp, String(16 * 1024)], { stdio: 'ignore' });
    execFileSync('mmd', ['-i', esp, '::/EFI']);
    const img = openSync(f, 'r+');
    const e = openSync(esp, 'r');
    const b = Buffer.alloc(16 * MiB);
    readSync(e, b, 0, b.length, 0);
    writeSync(img, b, 0, b.length, 2048 * 512);
    closeSync(e);
    closeSync(img);
    const r = await check(f, 'uefi');
    expect(r.findings[0]).toMatchObject({ status: 'pass', summary: expect.stringMatching(/GPT, 2 partition\(s\), EFI system partition #1/) });
    expect(r.findings.at(-1)).toMatchObject({ status: 'fail', summary: expect.stringMatching(/\\EFI has no BOOT/), fix: expect.stringMatching(/--removable/) });
  });
});
