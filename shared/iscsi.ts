import { z } from 'zod';

/** One portal of a target, as SendTargets lists it. */
export interface TargetPortal {
  address: string;
  port: number;
  tpgt?: number;
}

/** A target found by discovery. */
export interface DiscoveredTarget {
  name: string;
  portals: TargetPortal[];
}

/** Result of iscsi:discover. */
export interface DiscoveryResult {
  portal: { address: string; port: number };
  targets: DiscoveredTarget[];
  warnings: string[];
  /** Size of the SendTargets reply and the number of Text Response PDUs it came in. */
  replyBytes: number;
  replyPdus: number;
  durationMs: number;
}

/** What the first sectors of a disk hold. */
export interface DiskLayout {
  scheme: 'mbr' | 'gpt' | 'none';
  /** Boot signature 0x55AA at the end of LBA 0. */
  bootSignature: boolean;
  /** MBR partition with the boot flag, or a GPT EFI system partition. */
  bootable: boolean;
  partitions: Array<{ index: number; type: string; startLba: number; sectors: number; bootFlag?: boolean; name?: string }>;
  esp?: { index: number; startLba: number; sectors: number } | undefined;
  /** empty: all zeros; has-os: a partition table; unknown-data: not zero but no table. */
  verdict: 'empty' | 'has-os' | 'unknown-data';
  summary: string;
}

/** One logical unit of a target. */
export interface LunInfo {
  lun: number;
  /** SCSI peripheral device type (0 = disk, 0x0c = storage array controller ...). */
  deviceType: number;
  deviceTypeName: string;
  vendor: string;
  product: string;
  revision: string;
  serial?: string | undefined;
  blockSize?: number;
  blocks?: number;
  sizeBytes?: number;
  layout?: DiskLayout;
}

/** Result of iscsi:probe. */
export interface ProbeResult {
  portal: { address: string; port: number };
  target: string;
  initiator: string;
  luns: LunInfo[];
  /** The LUN that holds the disk (first disk-type LUN): what sanboot must name. */
  bootLun?: number | undefined;
  digests: { header: boolean; data: boolean };
  durationMs: number;
}

const Chap = z
  .object({
    username: z.string().min(1).max(255),
    secret: z.string().min(1).max(255),
    mutual: z.object({ username: z.string().max(255).optional(), secret: z.string().min(1).max(255) }).strict().optional(),
  })
  .strict();

const Host = z.string().min(1).max(253);

const Portal = z.object({ address: Host, port: z.number().int().min(1).max(65535).default(3260) }).strict();

/** Initiator name Bootchain uses for discovery when the user gives none. */
export const DISCOVERY_INITIATOR = 'iqn.2024-01.io.bootchain:discovery';

/** Input of iscsi:discover: SendTargets on each portal, results merged. */
export const DiscoverInput = z
  .object({
    portals: z.array(Portal).min(1).max(32),
    initiatorName: z.string().min(1).max(223).default(DISCOVERY_INITIATOR),
    chap: Chap.optional(),
    timeoutMs: z.number().int().min(100).max(120000).default(10000),
    /** Overall deadline of each portal's discovery (connect to logout), ms; default 6 × timeoutMs. */
    deadlineMs: z.number().int().min(100).max(3_600_000).optional(),
    /**
     * Probe every target found (on its first portal, as this initiator, `chap` the targets' CHAP),
     * a few at a time, each probe an item of the job: the window schedules nothing.
     */
    probe: z
      .object({
        chap: Chap.optional(),
        concurrency: z.number().int().min(1).max(16).default(4),
      })
      .strict()
      .optional(),
  })
  .strict();
export type DiscoverInput = z.input<typeof DiscoverInput>;

/** The probe of one target a discover job found: `running` when it starts, then how it ended. */
export interface TargetProbe {
  target: string;
  portal: { address: string; port: number };
  status: 'running' | 'succeeded' | 'failed';
  result?: ProbeResult | undefined;
  error?: import('./errors').AppError | undefined;
}

/**
 * What a discover job streams: each portal's SendTargets answer, the merged discovery once every
 * portal has answered (the targets to show), then each target's probe (when asked for).
 */
export type DiscoverItem = ({ kind: 'portal' } & DiscoveryResult) | ({ kind: 'discovered' } & DiscoverJobResult) | ({ kind: 'probe' } & TargetProbe);

/** Result of an iscsi:discover job. */
export interface DiscoverJobResult {
  /** Targets of every portal that answered, merged by name. */
  targets: DiscoveredTarget[];
  results: DiscoveryResult[];
  /** Portals that failed, each with its error (the others still count). */
  failures: Array<{ portal: { address: string; port: number }; error: import('./errors').AppError }>;
  /** How each target's probe ended, when the job was asked to probe. */
  probes?: TargetProbe[] | undefined;
}

/** Input of iscsi:probe. */
export const ProbeInput = z
  .object({
    address: Host,
    port: z.number().int().min(1).max(65535).default(3260),
    target: z.string().min(1).max(223),
    initiatorName: z.string().min(1).max(223),
    chap: Chap.optional(),
    /** CHAP for the discovery that explains a "no such target" answer. */
    discoveryChap: Chap.optional(),
    digests: z.enum(['none', 'prefer', 'require']).default('none'),
    timeoutMs: z.number().int().min(100).max(120000).default(10000),
    /** Overall deadline of the probe (connect to logout, every LUN), ms; default 12 × timeoutMs. */
    deadlineMs: z.number().int().min(100).max(3_600_000).optional(),
  })
  .strict();
export type ProbeInput = z.input<typeof ProbeInput>;
