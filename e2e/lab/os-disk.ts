/**
 * A bootable "OS" for SAN-boot tests: a raw disk holding Debian's kernel and a small initramfs
 * whose /init does what a diskless workstation's initramfs does after iPXE's sanboot — brings up
 * the NIC (busybox udhcpc), reads the genkernel-style iSCSI parameters Bootchain generates
 * (shared/gen/kernel.ts: iscsi_target= iscsi_address= iscsi_initiatorname= [iscsi_port=]
 * [iscsi_username= iscsi_password=] ip=dhcp) from the kernel command line, logs in with
 * open-iscsi's iscsistart, waits for the SCSI disk and prints a marker on ttyS0. So the NAS sees
 * the second login, from the workstation's own initiator, that Bootchain's boot watch looks for.
 *
 * BIOS: an MBR disk (syslinux's mbr.bin) with one active FAT partition that syslinux (the mtools
 * build: it installs into an image file, no loop mount) boots. UEFI: a GPT disk whose ESP holds
 * \EFI\BOOT\BOOTX64.EFI, a standalone GRUB that boots the kernel from the same ESP.
 * The NIC modules follow the VM service's NIC models (nicModel: e1000 for BIOS, virtio-net for UEFI).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { fail } from '../../shared/errors';
import { nicModel } from '../../electron/services/vm/qemu';
import { missingUefiTools, writeGptDisk, writeMbrDisk } from './disk-images';

/** The built disk and the lines its OS prints on the serial console. */
export interface OsDisk {
  file: string;
  sizeBytes: number;
  /** printed on the serial console once the OS's own iSCSI login worked */
  okMarker: string;
  /** printed when it failed */
  failMarker: string;
}

const SECTOR = 512;
const PART_LBA = 2048;
const BUSYBOX = '/bin/busybox';
const ISCSISTART = '/usr/sbin/iscsistart';
const SYSLINUX = '/usr/bin/syslinux';
const SYSLINUX_MBR = '/usr/lib/syslinux/mbr/mbr.bin';
const OK = 'BOOTCHAIN-OS: own iSCSI login ok';
const FAIL = 'BOOTCHAIN-OS: own iSCSI login FAILED';
/**
 * The SCSI/iSCSI modules (Debian builds them as modules; the NIC's come from NIC_DRIVERS).
 * crc32c: iscsi_tcp allocates a CRC32C hash for digests on every new connection, needed or not,
 * and without one the connection fails as ENOMEM ("Received iferror -12"); the generic one,
 * since TCG's CPU model has no SSE4.2 for crc32c_intel. Nothing asks modprobe for it: there is none.
 */
const ISCSI_MODULES = ['crc32c_generic', 'scsi_transport_iscsi', 'libiscsi', 'libiscsi_tcp', 'iscsi_tcp', 'sd_mod'];
/** The kernel driver of each QEMU NIC model the VM service uses. */
const NIC_DRIVERS: Record<string, string[]> = { e1000: ['e1000'], 'virtio-net-pci': ['virtio_pci', 'virtio_net'] };

/** Debian's newest /boot/vmlinuz-VERSION that has its /lib/modules/VERSION/modules.dep. */
function kernel(): { version: string; image: string } | undefined {
  const found = existsSync('/boot') ? readdirSync('/boot').filter((f) => /^vmlinuz-/.test(f)) : [];
  const usable = found.map((f) => f.slice(8)).filter((v) => existsSync(`/lib/modules/${v}/modules.dep`));
  const version = usable.sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).pop();
  return version ? { version, image: `/boot/vmlinuz-${version}` } : undefined;
}

/** Why an OS disk for `firmware` cannot be made here (the missing parts with their Debian packages), or undefined. */
export function osDiskSkipReason(firmware: 'bios' | 'uefi'): string | undefined {
  const need: Array<[string, string]> = [
    [BUSYBOX, 'busybox-static'],
    [ISCSISTART, 'open-iscsi'],
    ['/usr/bin/cpio', 'cpio'],
    ['/usr/bin/ldd', 'libc-bin'],
    ['/usr/sbin/mkfs.vfat', 'dosfstools'],
    ['/usr/bin/mcopy', 'mtools'],
    ...(firmware === 'bios' ? ([[SYSLINUX, 'syslinux'], [SYSLINUX_MBR, 'syslinux-common']] as Array<[string, string]>) : []),
  ];
  const missing = need.filter(([f]) => !existsSync(f)).map(([f, pkg]) => `${f} (${pkg})`);
  if (!kernel()) missing.push('/boot/vmlinuz-* with its /lib/modules (linux-image-amd64)');
  if (firmware === 'uefi') missing.push(...missingUefiTools());
  return missing.length ? `the ${firmware.toUpperCase()} OS disk needs ${missing.join(', ')}` : undefined;
}

/** Module name as modprobe compares them: "-" and "_" are the same. */
const modName = (file: string) => path.basename(file).replace(/\.ko(\.xz|\.zst|\.gz)?$/, '').replace(/-/g, '_');

/**
 * The module files for `roots` in load order, dependencies first, from the kernel's modules.dep
 * (depmod(8): "module: dep dep…", every dependency listed, each with a line of its own).
 * A root missing from modules.dep is built in (nothing to load).
 */
function loadOrder(version: string, roots: string[]): string[] {
  const base = `/lib/modules/${version}`;
  const deps = new Map<string, { file: string; deps: string[] }>();
  for (const line of readFileSync(`${base}/modules.dep`, 'utf8').split('\n')) {
    const [file, rest] = line.split(':');
    if (!file || rest === undefined) continue;
    deps.set(modName(file), { file: path.join(base, file), deps: rest.trim().split(/\s+/).filter(Boolean).map(modName) });
  }
  const order: string[] = [];
  const done = new Set<string>();
  const add = (name: string) => {
    const m = deps.get(name);
    if (!m || done.has(name)) return;
    done.add(name);
    m.deps.forEach(add);
    order.push(m.file);
  };
  roots.map((r) => r.replace(/-/g, '_')).forEach(add);
  return order;
}

/** A module's plain ELF bytes (busybox insmod loads no compressed module). */
function moduleElf(file: string): Buffer {
  const tool = file.endsWith('.xz') ? 'xz' : file.endsWith('.zst') ? 'zstd' : file.endsWith('.gz') ? 'gzip' : undefined;
  return tool ? execFileSync(tool, ['-dc', file], { maxBuffer: 64 << 20 }) : readFileSync(file);
}

/** The shared libraries and loader of a dynamic program, from ldd ("lib => /path (addr)" and "/lib64/ld… (addr)"). */
function sharedLibs(program: string): string[] {
  const out = execFileSync('/usr/bin/ldd', [program], { encoding: 'utf8' });
  return [...out.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1]!);
}

/** busybox udhcpc's script (udhcpc(8): called with bound/renew and the lease in the environment). */
const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig) ifconfig "$interface" 0.0.0.0 up ;;
  bound|renew)
    ifconfig "$interface" "$ip" netmask "\${subnet:-255.255.255.0}" up
    [ -n "$router" ] && route add default gw "\${router%% *}" dev "$interface"
    echo "BOOTCHAIN-OS: $interface has $ip (router \${router:-none})"
    ;;
esac
exit 0
`;

/**
 * The OS's /init. Every step says on the console how far it got; the CHAP password is passed to
 * iscsistart only (the kernel itself keeps /proc/cmdline, as on any genkernel station) and never
 * echoed. The SCSI scan of a new session is asynchronous: the disk is waited for, bounded.
 */
function initScript(modules: string[]): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/usr/sbin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
# The archive has no device nodes (making one needs root): the console comes from devtmpfs.
exec </dev/console >/dev/console 2>&1
mkdir -p /run /var/lock /var/run /etc/iscsi /tmp
# The reason goes on a line of its own before the marker: the marker ends the run as soon as it is
# seen, and this line is then whole.
bad() { echo "BOOTCHAIN-OS: stopped: $*"; echo "${FAIL}: $*"; poweroff -f; sleep 10; }
echo "BOOTCHAIN-OS: up, loading ${modules.length} modules"
for m in ${modules.join(' ')}; do insmod "/modules/$m.ko" || echo "BOOTCHAIN-OS: insmod $m failed"; done
# genkernel's iSCSI parameters (its linuxrc reads the same names from the command line).
set -f
port=3260
for w in $(cat /proc/cmdline); do
  case "$w" in
    iscsi_target=*) target="\${w#*=}" ;;
    iscsi_address=*) address="\${w#*=}" ;;
    iscsi_port=*) port="\${w#*=}" ;;
    iscsi_initiatorname=*) initiator="\${w#*=}" ;;
    iscsi_username=*) user="\${w#*=}" ;;
    iscsi_password=*) pass="\${w#*=}" ;;
  esac
done
set +f
[ -n "$target" ] && [ -n "$address" ] && [ -n "$initiator" ] || bad "no iscsi_target=, iscsi_address= or iscsi_initiatorname= on the kernel command line"
ifconfig lo 127.0.0.1 up
nic=
for n in /sys/class/net/*; do [ "\${n##*/}" != lo ] && nic="\${n##*/}" && break; done
[ -n "$nic" ] || bad "no network interface"
udhcpc -i "$nic" -s /udhcpc.script -q -n -t 10 -T 2 >/dev/null || bad "no DHCP lease on $nic"
echo "BOOTCHAIN-OS: logging in to $target at $address:$port as $initiator\${user:+ (CHAP user $user)}"
if [ -n "$user" ]; then
  timeout 90 iscsistart -i "$initiator" -t "$target" -g 1 -a "$address" -p "$port" -u "$user" -w "$pass" >/tmp/iscsistart.log 2>&1
else
  timeout 90 iscsistart -i "$initiator" -t "$target" -g 1 -a "$address" -p "$port" >/tmp/iscsistart.log 2>&1
fi
rc=$?
unset pass
cat /tmp/iscsistart.log; echo
# Why, in open-iscsi's words (e.g. "login rejected: initiator error - target not found (02/03)"):
# its log process writes them in its own time, so they are picked by what they say, not by place.
why=$(grep -E 'login rejected|reported error|[Ff]ail' /tmp/iscsistart.log | sed 's/^iscsistart: //' | tr '\\n' ';' | sed 's/;$//; s/;/; /g')
[ $rc = 0 ] || bad "iscsistart exited with $rc: \${why:-no reason given}"
i=0
disk=
while [ -z "$disk" ] && [ $i -lt 300 ]; do
  for d in /sys/block/sd*; do [ -e "$d/size" ] && disk="\${d##*/}" && break; done
  [ -n "$disk" ] || { sleep 0.1; i=$((i+1)); }
done
[ -n "$disk" ] || bad "logged in, but no SCSI disk appeared within 30 s"
echo "BOOTCHAIN-OS: $disk is $(cat /sys/block/$disk/device/vendor) $(cat /sys/block/$disk/device/model), $(cat /sys/block/$disk/size) sectors; holding the session a moment"
# The NAS lists the session while the OS is up: a watcher polling it gets a few seconds to see it.
sleep 3
echo "${OK}, disk $disk"
poweroff -f
`;
}

/** Printable ASCII with no line break, within the x86 kernel's 2048-byte command line (with room for console=). */
function checkCmdline(s: string): void {
  // The value may hold a CHAP secret: the message names the rule, never the text.
  if (!/^[\x20-\x7e]*$/.test(s)) fail('INVALID_INPUT', 'The kernel command line holds a character that is not printable ASCII (a line break ends it in the boot loader configuration)', { hint: 'Pass one line of printable ASCII.' });
  if (s.length > 1900) fail('INVALID_INPUT', `The kernel command line is ${s.length} characters; the kernel keeps 2048`, { hint: 'Shorten it.' });
  if (s.includes("'")) fail('INVALID_INPUT', 'The kernel command line holds a single quote, which the GRUB configuration cannot carry here', { hint: 'Pass it without single quotes.' });
}

/** What the OS's kernel gets besides the caller's parameters: the serial console, and a quiet kernel (TCG is slow; the console stays short). */
const CONSOLE = 'console=ttyS0,115200 quiet loglevel=3';

/**
 * The initramfs (gzip of a newc cpio written by the cpio tool, files owned by root): busybox, iscsistart
 * with its libraries and loader at their own paths, the modules in /modules, /init.
 */
function buildInitrd(work: string, firmware: 'bios' | 'uefi', version: string): Buffer {
  const root = path.join(work, 'initrd');
  const modules = loadOrder(version, [...ISCSI_MODULES, ...(NIC_DRIVERS[nicModel(firmware)] ?? [])]);
  for (const d of ['bin', 'dev', 'proc', 'sys', 'modules', 'usr/sbin']) mkdirSync(path.join(root, d), { recursive: true });
  copyFileSync(BUSYBOX, path.join(root, 'bin/busybox'));
  copyFileSync(ISCSISTART, path.join(root, 'usr/sbin/iscsistart'));
  for (const lib of sharedLibs(ISCSISTART)) {
    mkdirSync(path.join(root, path.dirname(lib)), { recursive: true });
    copyFileSync(lib, path.join(root, lib));
  }
  for (const m of modules) writeFileSync(path.join(root, 'modules', `${modName(m)}.ko`), moduleElf(m));
  writeFileSync(path.join(root, 'init'), initScript(modules.map(modName)));
  writeFileSync(path.join(root, 'udhcpc.script'), UDHCPC_SCRIPT);
  for (const x of ['init', 'udhcpc.script', 'bin/busybox', 'usr/sbin/iscsistart']) chmodSync(path.join(root, x), 0o755);
  const list = execFileSync('find', ['.', '-mindepth', '1'], { cwd: root, encoding: 'utf8' });
  const cpio = execFileSync('/usr/bin/cpio', ['--quiet', '-o', '-H', 'newc', '-R', '0:0'], { cwd: root, input: list, maxBuffer: 256 << 20 });
  return gzipSync(cpio, { level: 9 });
}

/** FAT16 up to 2 GiB (what mkfs.vfat picks for small disks, and the MBR type says), FAT32 beyond. */
const fatBits = (sectors: number) => (sectors < 4 << 20 ? '16' : '32');

/** A FAT file system of `sectors` for a partition at LBA PART_LBA (its BPB's hidden sectors say so: syslinux's boot sector finds itself by them). */
function fatImage(file: string, sectors: number, files: Record<string, string>): void {
  execFileSync('/usr/sbin/mkfs.vfat', ['-C', '-F', fatBits(sectors), '-h', String(PART_LBA), '-n', 'BOOTCHAIN', file, String(Math.floor(sectors / 2))], { stdio: 'ignore' });
  const dirs = new Set(Object.keys(files).flatMap((f) => f.split('/').slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join('/'))));
  if (dirs.size) execFileSync('/usr/bin/mmd', ['-i', file, ...[...dirs].sort().map((d) => `::/${d}`)], { stdio: 'ignore' });
  for (const [to, from] of Object.entries(files)) execFileSync('/usr/bin/mcopy', ['-i', file, from, `::/${to}`], { stdio: 'ignore' });
}

/** Writes `data` into `file` at byte `at`. */
function patch(file: string, data: Buffer, at: number): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, data, 0, data.length, at);
  } finally {
    closeSync(fd);
  }
}

/**
 * Makes the OS disk for a `firmware` workstation in `dir` (os-<firmware>.img, sizeMiB, default 32)
 * with `kernelCmdline` (kernelParams' genkernel line) for its kernel. Throws TOOL_MISSING with
 * osDiskSkipReason's text when a part is not installed, INVALID_INPUT for a command line the
 * boot loaders cannot carry.
 */
export async function makeOsDisk(o: { firmware: 'bios' | 'uefi'; dir: string; sizeMiB?: number; kernelCmdline: string }): Promise<OsDisk> {
  const why = osDiskSkipReason(o.firmware);
  if (why) fail('TOOL_MISSING', `Cannot make the OS disk: ${why}`, { hint: 'Install the packages named.' });
  checkCmdline(o.kernelCmdline);
  const k = kernel()!;
  const sizeBytes = (o.sizeMiB ?? 32) << 20;
  const need = statSync(k.image).size;
  if (sizeBytes < need + (16 << 20)) fail('INVALID_INPUT', `An OS disk of ${sizeBytes >> 20} MiB cannot hold the kernel (${(need / 1048576).toFixed(1)} MiB) and its initramfs`, { hint: 'Make it at least 24 MiB.' });
  mkdirSync(o.dir, { recursive: true });
  const file = path.join(o.dir, `os-${o.firmware}.img`);
  const work = mkdtempSync(path.join(o.dir, 'os-disk-'));
  try {
    const initrd = path.join(work, 'initrd.gz');
    writeFileSync(initrd, buildInitrd(work, o.firmware, k.version));
    const cmdline = `${o.kernelCmdline} ${CONSOLE}`;
    const fat = path.join(work, 'fat.img');
    if (o.firmware === 'bios') {
      const cfg = path.join(work, 'syslinux.cfg');
      // APPEND takes the rest of its line as is.
      writeFileSync(cfg, `SERIAL 0 115200\nDEFAULT os\nPROMPT 0\nTIMEOUT 0\nLABEL os\n  KERNEL /vmlinuz\n  INITRD /initrd.gz\n  APPEND ${cmdline}\n`);
      fatImage(fat, sizeBytes / SECTOR - PART_LBA, { vmlinuz: k.image, 'initrd.gz': initrd, 'syslinux.cfg': cfg });
      execFileSync(SYSLINUX, ['--install', fat], { stdio: 'ignore' });
      writeMbrDisk(file, sizeBytes);
      patch(file, readFileSync(SYSLINUX_MBR).subarray(0, 440), 0);
      patch(file, Buffer.from([fatBits(sizeBytes / SECTOR - PART_LBA) === '16' ? 0x0e : 0x0c]), 446 + 4); // the partition's type: FAT16 or FAT32, LBA
    } else {
      const cfg = path.join(work, 'grub.cfg');
      // Single quotes: GRUB takes each word as is (no $ expansion), the kernel gets them joined by spaces.
      const words = cmdline.split(/\s+/).filter(Boolean).map((w) => `'${w}'`).join(' ');
      writeFileSync(cfg, `set timeout=0\nsearch --no-floppy --file --set=root /bootchain/vmlinuz\nlinux /bootchain/vmlinuz ${words}\ninitrd /bootchain/initrd.gz\nboot\n`);
      const efi = path.join(work, 'BOOTX64.EFI');
      execFileSync('grub-mkstandalone', ['-O', 'x86_64-efi', '-o', efi, '--locales=', '--fonts=', '--themes=', '--install-modules=linux search search_fs_file fat part_gpt efi_gop normal configfile echo', '--modules=linux search fat part_gpt efi_gop', `boot/grub/grub.cfg=${cfg}`], { stdio: 'ignore' });
      const espMiB = Math.floor(sizeBytes / 1048576) - 2;
      fatImage(fat, (espMiB << 20) / SECTOR, { 'EFI/BOOT/BOOTX64.EFI': efi, 'bootchain/vmlinuz': k.image, 'bootchain/initrd.gz': initrd });
      writeGptDisk(file, sizeBytes, espMiB);
    }
    patch(file, readFileSync(fat), PART_LBA * SECTOR);
    return { file, sizeBytes, okMarker: OK, failMarker: FAIL };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
