/** VM test boot: what the app asks for and what it reports. */
import { z } from 'zod';
import { absPath } from './build';

export type VmStageId = 'started' | 'firmware' | 'ipxe' | 'dhcp' | 'script' | 'sanboot' | 'booted';

export interface VmStage {
  id: VmStageId;
  what: string;
  /** ms after QEMU started. */
  atMs: number;
  /** The console line that showed it ("(implied)" when a later stage showed it). */
  line: string;
}

export interface VmBootResult {
  /** marker: the expected text appeared; settled: the disk's output after SAN boot was seen; */
  /** timeout, failed (a boot error on the console), exited (QEMU stopped). */
  ended: 'marker' | 'settled' | 'timeout' | 'failed' | 'exited';
  reached: VmStageId;
  stages: VmStage[];
  /** The last 64 KiB of the console. */
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
    buildDir: absPath.optional(),
    timeoutMs: z.number().int().min(10_000).max(900_000).default(180_000),
  })
  .strict();
export type VmBootInput = z.input<typeof VmBootInput>;
