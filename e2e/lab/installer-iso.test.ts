import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { BOOT_MARKER } from './disk-images';
import { buildInstallerIso, INSTALLER_DISK_BYTES, missingInstallerParts } from './installer-iso';

// The installer ISO as real tools read it: xorriso lists and extracts the ISO's files and its
// El Torito boot record, GNU cpio reads the initramfs this module writes by hand.
const missing = [...missingInstallerParts(), ...(existsSync('/usr/bin/cpio') ? [] : ['/usr/bin/cpio (cpio)'])];
if (missing.length) process.stdout.write(`SKIP installer-iso.test.ts: missing ${missing.join(', ')}\n`);
const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-installer-iso-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(missing.length > 0)('buildInstallerIso (BIOS)', () => {
  it('an ISOLINUX El Torito ISO whose initramfs holds /init, busybox, the virtio modules and the marker disk; built once per inputs', { timeout: 60_000 }, () => {
    const a = buildInstallerIso(dir);
    const again = buildInstallerIso(dir);
    expect(again.iso).toBe(a.iso);
    expect(again.disk.equals(a.disk)).toBe(true);
    const xorriso = (args: string[]) => execFileSync('xorriso', ['-indev', a.iso, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const files = xorriso(['-find', '/', '-type', 'f']).split('\n').map((l) => l.replace(/^'|'$/g, ''));
    expect(files).toEqual(expect.arrayContaining(['/boot/vmlinuz', '/boot/initrd.gz', '/isolinux/isolinux.bin', '/isolinux/ldlinux.c32', '/isolinux/isolinux.cfg']));
    const boot = execFileSync('xorriso', ['-indev', a.iso, '-report_el_torito', 'plain'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(boot).toMatch(/El Torito boot img :\s+1\s+BIOS\s+y\s+none/);
    execFileSync('xorriso', ['-osirrox', 'on', '-indev', a.iso, '-extract', '/boot/initrd.gz', path.join(dir, 'initrd.gz')], { stdio: 'ignore' });
    const cpio = gunzipSync(readFileSync(path.join(dir, 'initrd.gz')));
    const list = execFileSync('cpio', ['-it', '--quiet'], { input: cpio, encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(list).toEqual(expect.arrayContaining(['init', 'bin/busybox', 'dev/console', 'marker.img', 'modules/virtio_blk.ko', 'modules/virtio_pci.ko']));
    const verbose = execFileSync('cpio', ['-itv', '--quiet'], { input: cpio, encoding: 'utf8' });
    expect(verbose).toMatch(/^crw-------\s.*\s5,\s+1\s.*dev\/console$/m);
    expect(verbose).toMatch(/^-rwxr-xr-x\s.*\sinit$/m);
    const marker = execFileSync('cpio', ['-i', '--quiet', '--to-stdout', 'marker.img'], { input: cpio, maxBuffer: 1 << 20 });
    expect(marker.equals(a.disk)).toBe(true);
    expect(marker.length).toBe(INSTALLER_DISK_BYTES);
    expect(marker.subarray(0, 512).toString('latin1')).toContain(BOOT_MARKER);
    expect(marker.readUInt16LE(510)).toBe(0xaa55);
    const init = execFileSync('cpio', ['-i', '--quiet', '--to-stdout', 'init'], { input: cpio, encoding: 'utf8' });
    // Modules in dependency order: virtio_blk after what it needs.
    const order = /for m in ([^;]+);/.exec(init)![1]!.split(' ');
    expect(order.indexOf('virtio_blk')).toBeGreaterThan(order.indexOf('virtio'));
    expect(order.indexOf('virtio')).toBeGreaterThan(order.indexOf('virtio_ring'));
    expect(order.at(-2)).toBe('virtio_pci');
  });
});
