import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SYSTEM_PATH, which } from '../privileges/privileges';
import { findFatFile, parseDir, type ReadBytes } from './fat';

// The file systems come from dosfstools' mkfs.vfat and the files from mtools: outside input.
const tools = ['mkfs.vfat', 'mmd', 'mcopy'].filter((t) => !which(t, SYSTEM_PATH));
const mkfs = which('mkfs.vfat', SYSTEM_PATH) ?? 'mkfs.vfat';
const dir = mkdtempSync(path.join(os.tmpdir(), 'bootchain-fat-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fileReader(file: string): ReadBytes {
  return async (offset, length) => {
    const fd = openSync(file, 'r');
    try {
      const b = Buffer.alloc(length);
      const n = readSync(fd, b, 0, length, offset);
      return b.subarray(0, n);
    } finally {
      closeSync(fd);
    }
  };
}

function makeFs(name: string, mib: number, fatBits: 12 | 16 | 32, files: Record<string, string>, sectorSize = 512): string {
  const img = path.join(dir, name);
  execFileSync(mkfs, ['-C', '-F', String(fatBits), '-S', String(sectorSize), img, String(mib * 1024)], { stdio: 'ignore' });
  const made = new Set<string>();
  for (const [p, text] of Object.entries(files)) {
    const segs = p.split('/');
    for (let i = 1; i < segs.length; i++) {
      const d = segs.slice(0, i).join('/');
      if (made.has(d)) continue;
      made.add(d);
      execFileSync('mmd', ['-i', img, `::${d}`]);
    }
    const src = path.join(dir, `${name}.src`);
    writeFileSync(src, text);
    execFileSync('mcopy', ['-i', img, src, `::${p}`]);
  }
  return img;
}

describe.skipIf(tools.length > 0)('FAT lookup on file systems made by mkfs.vfat and mtools', () => {
  if (tools.length > 0) console.log(`SKIP fat.test.ts: ${tools.join(', ')} not installed (apt-get install dosfstools mtools)`);

  it.each([
    [12, 2],
    [16, 40],
    [32, 64],
  ] as const)('FAT%i: finds \\EFI\\BOOT\\BOOTX64.EFI and says which folder lacks what', async (bits, mib) => {
    const img = makeFs(`fat${bits}.img`, mib, bits, { 'EFI/BOOT/BOOTX64.EFI': 'x'.repeat(3000), 'EFI/debian/grubx64.efi': 'grub', 'loader/entries/a-rather-long-file-name.conf': 'l' });
    const read = fileReader(img);
    const r = await findFatFile(read, '\\EFI\\BOOT\\BOOTX64.EFI');
    expect(r).toEqual({ fsType: `FAT${bits}`, found: true, size: 3000 });
    expect(await findFatFile(read, '/efi/debian/GRUBX64.EFI')).toMatchObject({ found: true, size: 4 });
    expect(await findFatFile(read, '\\loader\\entries\\a-rather-long-file-name.conf')).toMatchObject({ found: true, size: 1 });
    expect(await findFatFile(read, '\\EFI\\Microsoft\\Boot\\bootmgfw.efi')).toMatchObject({ found: false, why: '\\EFI has no Microsoft' });
    expect(await findFatFile(read, '\\EFI\\BOOT')).toMatchObject({ found: false, why: '\\EFI\\BOOT is a folder, not a file' });
  });

  it('4096-byte sectors (an ESP on a 4Kn disk)', async () => {
    const img = makeFs('fat4k.img', 300, 32, { 'EFI/BOOT/BOOTX64.EFI': 'efi' }, 4096);
    expect(await findFatFile(fileReader(img), '\\EFI\\BOOT\\BOOTX64.EFI')).toEqual({ fsType: 'FAT32', found: true, size: 3 });
  });

  it('a partition without FAT, and a directory cluster chain that loops, end in words, not a hang', async () => {
    const zero = path.join(dir, 'zero.img');
    writeFileSync(zero, Buffer.alloc(1 << 20));
    expect(await findFatFile(fileReader(zero), '\\EFI\\BOOT\\BOOTX64.EFI')).toMatchObject({ found: false, why: expect.stringContaining('0x55AA') });
    const img = makeFs('loop.img', 64, 32, { 'EFI/BOOT/BOOTX64.EFI': 'efi' });
    // Point the root directory's FAT entry at itself: a loop a broken or hostile disk could hold.
    const b = Buffer.from(execFileSync('cat', [img], { maxBuffer: 1 << 27 }));
    const rsvd = b.readUInt16LE(14);
    const rootClus = b.readUInt32LE(44);
    b.writeUInt32LE(rootClus, rsvd * 512 + rootClus * 4);
    const looped = path.join(dir, 'looped.img');
    writeFileSync(looped, b);
    expect(await findFatFile(fileReader(looped), '\\EFI\\BOOT\\BOOTX64.EFI')).toMatchObject({ found: true });
    expect(await findFatFile(fileReader(looped), '\\NOPE')).toMatchObject({ found: false, why: 'the root folder has no NOPE' });
  });
});

describe('directory entries', () => {
  it('deleted entries and the volume label are not files', () => {
    const e = (name: string, attr: number, first = name.charCodeAt(0)) => {
      const b = Buffer.alloc(32, 0x20);
      b.write(name.padEnd(11), 0, 'latin1');
      b[0] = first;
      b[11] = attr;
      b.fill(0, 12);
      return b;
    };
    const entries = parseDir(Buffer.concat([e('ESP', 0x08), e('OLD     EFI', 0x20, 0xe5), e('BOOTX64 EFI', 0x20), Buffer.alloc(32)]));
    expect(entries.map((x) => x.name)).toEqual(['BOOTX64.EFI']);
  });
});
