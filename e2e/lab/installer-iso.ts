/**
 * A tiny "installer" ISO for the installer-VM test: Debian's kernel and a busybox initramfs whose
 * /init waits for the disk QEMU shows (virtio-blk: /dev/vda), writes a marker disk onto it, syncs,
 * prints INSTALLER_MARKER on ttyS0 and powers off. For BIOS stations the disk is
 * writeBootSectorDisk's boot sector and the ISO boots through ISOLINUX (El Torito no-emulation,
 * isohybrid MBR, built by xorriso); for UEFI ones the disk is writeUefiBootDisk's GPT disk (an
 * ESP with \EFI\BOOT\BOOTX64.EFI) and the ISO is GRUB's (grub-mkrescue: an El Torito EFI image
 * beside the BIOS one).
 *
 * Debian builds virtio_blk and the virtio PCI transport as modules, so the initramfs carries them
 * and /init loads them in dependency order (modinfo's `depends`): a virtio disk is what QEMU's
 * iSCSI driver is given by the VM service (if=virtio), and the fastest disk under TCG.
 * Built once per inputs and cached under the lab folder (the key is a hash of every input file).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { missingUefiTools, writeBootSectorDisk, writeUefiBootDisk } from './disk-images';

/** What the installer prints on the serial console once the marker disk is written and synced. */
export const INSTALLER_MARKER = 'BOOTCHAIN-INSTALLER-DONE';
/** What it prints when no disk showed up (so a failed run says why). */
export const INSTALLER_NO_DISK = 'BOOTCHAIN-INSTALLER-NO-DISK';
/** Bytes of the BIOS marker disk written onto the LUN (its first sector boots; the rest is zeros). */
export const INSTALLER_DISK_BYTES = 64 * 1024;
/** Bytes of the UEFI marker disk: the whole LUN it is written to (GPT keeps its backup header in the last sector). */
export const INSTALLER_UEFI_DISK_BYTES = 24 << 20;

const ISOLINUX = '/usr/lib/ISOLINUX/isolinux.bin';
const ISOHYBRID_MBR = '/usr/lib/ISOLINUX/isohdpfx.bin';
const LDLINUX = '/usr/lib/syslinux/modules/bios/ldlinux.c32';
const BUSYBOX = '/bin/busybox';
/** The modules a virtio disk needs; their dependencies come from modinfo. */
const DISK_MODULES = ['virtio_pci', 'virtio_blk'];

/** The tools and files the ISO needs that this machine lacks, with the Debian package of each. */
export function missingInstallerParts(firmware: 'bios' | 'uefi' = 'bios'): string[] {
  const uefi: Array<[string, string]> = [
    ['/usr/bin/grub-mkrescue', 'grub-common'],
    ['/usr/lib/grub/x86_64-efi', 'grub-efi-amd64-bin'],
    ['/usr/lib/grub/i386-pc', 'grub-pc-bin'],
    ['/usr/bin/mformat', 'mtools'],
  ];
  const need: Array<[string, string]> = [
    ...(firmware === 'uefi' ? uefi : []),
    ['/usr/bin/xorriso', 'xorriso'],
    [ISOLINUX, 'isolinux'],
    [LDLINUX, 'syslinux-common'],
    [BUSYBOX, 'busybox-static'],
    ['/usr/sbin/modinfo', 'kmod'],
  ];
  const missing = need.filter(([f]) => !existsSync(f)).map(([f, pkg]) => `${f} (${pkg})`);
  if (!newestKernel()) missing.push('/boot/vmlinuz-* (linux-image-amd64)');
  if (firmware === 'uefi') missing.push(...missingUefiTools());
  return missing;
}

/** The newest /boot/vmlinuz-VERSION whose /lib/modules/VERSION exists. */
function newestKernel(): { version: string; image: string } | undefined {
  const versions = readdirSync('/boot')
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((v) => existsSync(path.join('/lib/modules', v)))
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const v = versions.at(-1);
  return v ? { version: v, image: `/boot/vmlinuz-${v}` } : undefined;
}

/** Module files in load order (dependencies first), from modinfo. */
function moduleOrder(version: string, roots: string[]): Array<{ name: string; file: string }> {
  const out: Array<{ name: string; file: string }> = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const field = (f: string) => execFileSync('/usr/sbin/modinfo', ['-k', version, '-F', f, name], { encoding: 'utf8' }).trim();
    const file = field('filename');
    // "(builtin)": part of the kernel itself, nothing to load.
    if (!file.startsWith('/')) return;
    for (const dep of field('depends').split(',').filter(Boolean)) visit(dep);
    out.push({ name, file });
  };
  for (const r of roots) visit(r);
  return out;
}

/** A module's bytes, decompressed when the distribution ships it as .ko.xz or .ko.zst (busybox insmod wants plain ELF). */
function moduleBytes(file: string): Buffer {
  if (file.endsWith('.xz')) return execFileSync('xz', ['-dc', file], { maxBuffer: 64 << 20 });
  if (file.endsWith('.zst')) return execFileSync('zstd', ['-dc', file], { maxBuffer: 64 << 20 });
  return readFileSync(file);
}

interface CpioEntry {
  name: string;
  mode: number;
  data?: Buffer;
  /** Device number of a character device (major, minor). */
  rdev?: [number, number];
}

/** An uncompressed initramfs in the kernel's "newc" cpio format (Documentation/driver-api/early-userspace/buffer-format.rst). */
function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const pad4 = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  let ino = 1;
  for (const e of [...entries, { name: 'TRAILER!!!', mode: 0 }] as CpioEntry[]) {
    const data = e.data ?? Buffer.alloc(0);
    const name = Buffer.from(`${e.name}\0`, 'latin1');
    const fields = [ino++, e.mode, 0, 0, 1, 0, data.length, 0, 0, e.rdev?.[0] ?? 0, e.rdev?.[1] ?? 0, name.length, 0];
    const header = Buffer.from(`070701${fields.map(hex).join('')}`, 'latin1');
    parts.push(header, name, pad4(header.length + name.length), data, pad4(data.length));
  }
  return Buffer.concat(parts);
}

const DIR = 0o040755;
const FILE = 0o100644;
const EXEC = 0o100755;
const CHAR = 0o020600;

/** The installer's /init: every step echoes, so the console says how far it got. */
function initScript(modules: string[], end: 'poweroff' | 'reboot'): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo "bootchain installer: loading ${modules.join(' ')}"
for m in ${modules.join(' ')}; do insmod /modules/$m.ko || echo "bootchain installer: insmod $m failed"; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
if [ ! -b /dev/vda ]; then
  echo "${INSTALLER_NO_DISK}: no /dev/vda"
  ls /sys/block
  poweroff -f
fi
echo "bootchain installer: writing the marker disk onto /dev/vda ($(cat /sys/block/vda/size) sectors)"
dd if=/marker.img of=/dev/vda bs=65536 conv=fsync 2>&1
sync
echo "${INSTALLER_MARKER}"
${end} -f
`;
}

/** GRUB's menu on the UEFI ISO: straight to the kernel, GRUB's own text on the serial port too. */
const GRUB_CFG = `serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=0
menuentry "Bootchain test installer" {
  linux /boot/vmlinuz console=ttyS0,115200 loglevel=4
  initrd /boot/initrd.gz
}
`;

const ISOLINUX_CFG = `SERIAL 0 115200
DEFAULT install
PROMPT 0
TIMEOUT 0
LABEL install
  KERNEL /boot/vmlinuz
  INITRD /boot/initrd.gz
  APPEND console=ttyS0,115200 loglevel=4
`;

/** The built ISO and what its run leaves on the disk. */
export interface InstallerIso {
  iso: string;
  /** The marker disk /init writes from offset 0 (INSTALLER_DISK_BYTES; sector 0 boots to BOOT_MARKER). */
  disk: Buffer;
}

/**
 * Builds the installer ISO into `cacheDir` (the lab folder), or returns the one built before
 * from the same inputs. `end`: what the installer does once the disk is written — power off, or
 * reboot as real installers do (the VM then boots its new disk when allowed to). Throws with
 * the missing packages when a part is not installed.
 */
export function buildInstallerIso(cacheDir: string, firmware: 'bios' | 'uefi' = 'bios', end: 'poweroff' | 'reboot' = 'poweroff'): InstallerIso {
  const missing = missingInstallerParts(firmware);
  if (missing.length) throw new Error(`the installer ISO needs ${missing.join(', ')}`);
  const kernel = newestKernel()!;
  const work = mkdtempSync(path.join(cacheDir, 'installer-iso-'));
  try {
    const markerFile = path.join(work, 'marker.img');
    if (firmware === 'uefi') writeUefiBootDisk(markerFile, INSTALLER_UEFI_DISK_BYTES);
    else writeBootSectorDisk(markerFile, INSTALLER_DISK_BYTES);
    const disk = readFileSync(markerFile);
    const modules = moduleOrder(kernel.version, DISK_MODULES);
    const init = initScript(modules.map((m) => m.name), end);
    const key = createHash('sha256');
    for (const f of [kernel.image, BUSYBOX, ISOLINUX, LDLINUX, ISOHYBRID_MBR, ...modules.map((m) => m.file)]) {
      const s = statSync(f);
      key.update(`${f}\0${s.size}\0${s.mtimeMs}\0`);
    }
    // The UEFI disk holds random GUIDs: its key is what made it, not its bytes.
    key.update(firmware).update(init).update(ISOLINUX_CFG).update(GRUB_CFG).update(firmware === 'uefi' ? '' : disk);
    const iso = path.join(cacheDir, `installer-${firmware}-${key.digest('hex').slice(0, 16)}.iso`);
    const diskFile = `${iso}.disk`;
    if (existsSync(iso) && existsSync(diskFile)) return { iso, disk: readFileSync(diskFile) };

    const initrd = cpioNewc([
      ...['bin', 'dev', 'proc', 'sys', 'modules'].map((name) => ({ name, mode: DIR })),
      // The kernel opens /dev/console for init's output before devtmpfs is mounted.
      { name: 'dev/console', mode: CHAR, rdev: [5, 1] },
      { name: 'bin/busybox', mode: EXEC, data: readFileSync(BUSYBOX) },
      { name: 'init', mode: EXEC, data: Buffer.from(init) },
      { name: 'marker.img', mode: FILE, data: disk },
      ...modules.map((m) => ({ name: `modules/${m.name}.ko`, mode: FILE, data: moduleBytes(m.file) })),
    ]);
    const tree = path.join(work, 'tree');
    mkdirSync(path.join(tree, 'boot'), { recursive: true });
    copyFileSync(kernel.image, path.join(tree, 'boot', 'vmlinuz'));
    writeFileSync(path.join(tree, 'boot', 'initrd.gz'), gzipSync(initrd));
    const tmp = path.join(work, 'out.iso');
    if (firmware === 'uefi') {
      mkdirSync(path.join(tree, 'boot', 'grub'));
      writeFileSync(path.join(tree, 'boot', 'grub', 'grub.cfg'), GRUB_CFG);
      // grub-mkrescue: GRUB for i386-pc and x86_64-efi, the EFI one in a FAT El Torito image (mtools).
      execFileSync('/usr/bin/grub-mkrescue', ['-o', tmp, tree, '--', '-volid', 'BOOTCHAIN_INSTALLER'], { stdio: ['ignore', 'ignore', 'pipe'] });
    } else {
      mkdirSync(path.join(tree, 'isolinux'));
      copyFileSync(ISOLINUX, path.join(tree, 'isolinux', 'isolinux.bin'));
      copyFileSync(LDLINUX, path.join(tree, 'isolinux', 'ldlinux.c32'));
      writeFileSync(path.join(tree, 'isolinux', 'isolinux.cfg'), ISOLINUX_CFG);
      // El Torito no-emulation boot of ISOLINUX (-boot-info-table: isolinux.bin needs its own LBA
      // patched in), and an isohybrid MBR so the same file also boots as a USB stick.
      execFileSync(
        '/usr/bin/xorriso',
        ['-as', 'mkisofs', '-quiet', '-o', tmp, '-V', 'BOOTCHAIN_INSTALLER', '-isohybrid-mbr', ISOHYBRID_MBR, '-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table', tree],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
    }
    writeFileSync(diskFile, disk);
    renameSync(tmp, iso);
    return { iso, disk };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
