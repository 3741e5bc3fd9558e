/**
 * Putting the OS on the workstation's disk: write an image onto its LUN over iSCSI with
 * Bootchain's own initiator (logged in as the workstation), or install into the LUN from an
 * installer VM. What the app asks for and what the jobs report.
 */
import { z } from 'zod';
import type { DiskLayout } from './iscsi';

/** Image formats Bootchain recognises (by magic bytes; the extension only breaks ties). */
export const IMAGE_FORMATS = ['raw', 'iso', 'gzip', 'xz', 'zstd', 'qcow2', 'vmdk', 'vhdx', 'vdi', 'vpc'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

/** An image as detected before writing (no credentials of a URL in it). */
export interface ImageSummary {
  /** The path or URL, with any user:password@ removed. */
  source: string;
  name: string;
  format: ImageFormat;
  /** Bytes as stored (file size, Content-Length), when known. */
  storedSize?: number | undefined;
  /** Bytes of the decoded disk image, when known before reading. */
  size?: number | undefined;
  /** A size that may be wrong (gzip's ISIZE is the size mod 4 GiB). */
  sizeHint?: number | undefined;
}

/** A local path or an http(s) URL; nothing a shell or QEMU would read specially is pasted anywhere. */
export const ImageRef = z
  .string()
  .min(1)
  .max(4096)
  .refine((v) => !/[\0\r\n]/.test(v), { message: 'a path or URL on one line' })
  .refine((v) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(v) || /^https?:\/\//i.test(v), { message: 'a local file, or an http:// or https:// URL' });

/** The LUN the project gives the workstation, as the job found it. */
export interface LunSummary {
  portal: { address: string; port: number };
  target: string;
  lun: number;
  initiator: string;
  blocks: number;
  blockSize: number;
  sizeBytes: number;
  /** Thin-provisioned and reads zeros after UNMAP (LBPME + LBPRZ): zero runs may be skipped. */
  thin: boolean;
  zeroesAfterUnmap: boolean;
  unmap: boolean;
  /** What is on the disk now. */
  layout: DiskLayout;
}

const Secrets = z.record(z.string().max(128), z.string().max(256)).default({});

/** What every Install request names: the project, its CHAP secrets by reference, the workstation. */
const StationRequest = { project: z.unknown(), secrets: Secrets, station: z.string().min(1).max(63) };

/** Input of install:inspect: the image and the workstation's disk, before anything is written. */
export const InspectInput = z
  .object({
    ...StationRequest,
    image: ImageRef.optional(),
  })
  .strict();

export interface InspectResult {
  station: string;
  lun: LunSummary;
  image?: ImageSummary | undefined;
  /** Reasons the write would be refused now (image larger than the LUN ...). */
  refusals: string[];
  /** The disk holds something: writing needs `overwrite` (the confirm shows `lun.layout.summary`). */
  needsConfirm: boolean;
}

/** Input of install:write. */
export const WriteInput = z
  .object({
    ...StationRequest,
    image: ImageRef,
    /** Read the LUN back and compare its sha256 with the image's (on by default). */
    verify: z.boolean().default(true),
    /** The user saw what is on the disk and agreed to overwrite it. */
    overwrite: z.boolean().default(false),
    /** The disk the user confirmed: the write is refused when the project gives the workstation another. */
    expect: z.object({ target: z.string().min(1).max(223), lun: z.number().int().min(0).max(16383) }).strict().optional(),
    /** auto: skip all-zero runs only where the target guarantees zeros (thin + LBPRZ, after UNMAP); never: write every block. */
    sparse: z.enum(['auto', 'never']).default('auto'),
    /** Writes in flight at once (1 = one at a time). */
    queueDepth: z.number().int().min(1).max(64).default(8),
  })
  .strict();
export type WriteInput = z.input<typeof WriteInput>;

/** One thing the post-write probe found, with the fix when it cannot boot this workstation. */
export interface WriteFinding {
  status: 'pass' | 'warn' | 'fail';
  summary: string;
  fix?: string | undefined;
}

export interface WriteResult {
  station: string;
  lun: Omit<LunSummary, 'layout'>;
  image: ImageSummary;
  /** Bytes of the image (decoded). */
  imageBytes: number;
  /** Bytes sent to the target (zero runs skipped on a thin LUN are not). */
  bytesWritten: number;
  bytesSkipped: number;
  sparse: { used: boolean; why: string };
  sha256: string;
  verify?: { ok: boolean; sha256: string; durationMs: number; mismatchAt?: number | undefined } | undefined;
  durationMs: number;
  /** Write throughput over the image's bytes, MiB/s. */
  mibPerSec: number;
  /** What is on the disk afterwards. */
  layout: DiskLayout;
  findings: WriteFinding[];
  /** Written, verified (when asked) and bootable by this workstation's firmware. */
  ok: boolean;
}

/** Input of install:vm: an installer VM whose disk is the workstation's LUN. */
export const InstallVmInput = z
  .object({
    ...StationRequest,
    /** The installer ISO: a local file or an http(s) URL (downloaded first). */
    iso: ImageRef,
    /** The user saw what is on the disk and agreed the installer may change it. */
    overwrite: z.boolean().default(false),
    /** A fixed loopback VNC port (5900-5999); default: a free one. */
    vncPort: z.number().int().min(5900).max(5999).optional(),
    /** Give up after this many minutes (default 120). */
    timeoutMin: z.number().int().min(1).max(24 * 60).default(120),
  })
  .strict();

/** What the installer VM reports as it runs (to the window that started it). */
export type InstallVmEvent =
  /** The screen: QEMU's VNC on 127.0.0.1 (port for a desktop viewer, url for the VNC view) and this run's one-time VNC password (not the CHAP secret). */
  | { kind: 'screen'; vnc: { host: '127.0.0.1'; port: number; display: number; url: string; password: string } }
  | { kind: 'console'; line: string };

export interface InstallVmResult {
  station: string;
  /** poweroff: the installer powered the VM off (finished); stopped: the user pulled the plug. */
  ended: 'poweroff' | 'stopped';
  durationMs: number;
  consoleTail: string;
  layout?: DiskLayout | undefined;
  findings: WriteFinding[];
}

/** What the user must choose inside the installer so the installed OS boots from the iSCSI disk. */
export function installerAdvice(initramfs: 'genkernel' | 'dracut' | 'initramfs-tools'): string[] {
  switch (initramfs) {
    case 'genkernel':
      return [
        'Build the initramfs with iSCSI support: genkernel --iscsi initramfs (or --iscsi all).',
        'Boot with the kernel parameters below (ip=dhcp and the iscsi_* values); genkernel logs in and finds the root itself.',
      ];
    case 'dracut':
      return [
        'Install dracut-network (Fedora/RHEL: it is in the base set) so the initramfs has the iscsi module; add add_dracutmodules+=" iscsi network " to /etc/dracut.conf.d/iscsi.conf and run dracut -f.',
        'Boot with rd.iscsi.firmware=1 or the rd.iscsi.* / netroot=iscsi:… parameters below, and root= the installed root file system.',
      ];
    case 'initramfs-tools':
      return [
        'Install open-iscsi in the installed system, then: touch /etc/iscsi/iscsi.initramfs (or set ISCSI_AUTO=true in it) and update-initramfs -u.',
        'Write the workstation\'s initiator name into /etc/iscsi/initiatorname.iscsi (InitiatorName=…) before updating the initramfs.',
        'Boot with ip=dhcp, the ISCSI_* parameters below, and root= the installed root file system.',
      ];
  }
}
