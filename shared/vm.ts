/** VM test boot: what the app asks for and what it reports. */
import { z } from 'zod';

export type VmStageId = 'started' | 'firmware' | 'ipxe' | 'dhcp' | 'script' | 'sanboot' | 'booted';

/** The stages of a test boot in boot order, as the app names them. */
export const VM_STAGES: ReadonlyArray<{ id: Exclude<VmStageId, 'started'>; what: string }> = [
  { id: 'firmware', what: 'firmware started' },
  { id: 'ipxe', what: 'iPXE is running' },
  { id: 'dhcp', what: 'DHCP answered' },
  { id: 'script', what: 'boot scripts fetched' },
  { id: 'sanboot', what: 'SAN boot started' },
  { id: 'booted', what: "the disk's boot code runs" },
];

/** One iPXE that ran in the VM (each prints its banner), and whose it is. */
export interface VmIpxe {
  /** nic-rom: the virtual NIC's own boot ROM; built: Bootchain's build (its embedded script ran, or its sha256 is in the build manifest); stock: any other iPXE. */
  kind: 'nic-rom' | 'built' | 'stock';
  /** As its banner prints it ("1.0.0+git-20190125.36a4c85-5.1", "2.0.0 (g12798)"). */
  version: string;
  /** The boot file it was loaded from, when the console shows it. */
  file?: string | undefined;
  /** sha256 of that file, when the test boot served it itself. */
  sha256?: string | undefined;
  /** The banner line. */
  line: string;
  /** In words, for the user. */
  what: string;
}

/** Where the boot stopped, from the console. */
export interface VmFailure {
  /** The stage that was not reached. */
  stage: VmStageId;
  /** The console line that shows it. */
  line: string;
  why?: string | undefined;
}

export interface VmStage {
  id: VmStageId;
  what: string;
  /** ms after QEMU started. */
  atMs: number;
  /** The console line that showed it ("(implied)" when a later stage showed it). */
  line: string;
}

export interface VmBootResult {
  /** marker: the expected text appeared (whatever QEMU did next); settled: the run was stopped a */
  /** while after the SAN boot; timeout; failed (a boot error on the console); exited (QEMU stopped by itself). */
  ended: 'marker' | 'settled' | 'timeout' | 'failed' | 'exited';
  reached: VmStageId;
  stages: VmStage[];
  /** Where the boot stopped, when the console shows it. */
  failure?: VmFailure | undefined;
  /** Each iPXE that ran, in order (the VM service always fills it in). */
  ipxe?: VmIpxe[] | undefined;
  /** The last 64 KiB of the console, as text (escape codes, backspaces and carriage returns applied). */
  console: string;
  durationMs: number;
}

export const VmNetworkInput = z.discriminatedUnion('kind', [
  /** QEMU's own DHCP/TFTP serving the project's files: an offline dry run of scripts and iSCSI. */
  z.object({ kind: z.literal('user') }).strict(),
  /** An existing tap device on the LAN bridge that this user may use: the real servers answer. */
  z.object({ kind: z.literal('tap'), ifname: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'an interface name like tap0') }).strict(),
]);

export const VmBootInput = z
  .object({
    project: z.unknown(),
    secrets: z.record(z.string().max(128), z.string().max(256)).default({}),
    station: z.string().min(1).max(63),
    network: VmNetworkInput,
    timeoutMs: z.number().int().min(10_000).max(900_000).default(180_000),
  })
  .strict();
export type VmBootInput = z.input<typeof VmBootInput>;
