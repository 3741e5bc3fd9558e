import { z } from 'zod';
import { appError, type AppError } from './errors';
import { blockSize, forbiddenReason, isPrivateBlock, parseBlock, type AddressBlock } from './ipv4';

/** Port of iSCSI (RFC 7143 §13.2). */
export const ISCSI_PORT = 3260;
/** Above this many addresses a scan needs confirmLarge (a /16). */
export const LARGE_SCAN = 65536;
/** No scan covers more than this many addresses, confirmed or not (a /8). */
export const MAX_SCAN = 16777216;

/** Input of scan:start. Semantic checks (CIDR syntax, size, public ranges) are in planScan. */
export const ScanStartInput = z
  .object({
    targets: z.array(z.string().max(64)).min(1, 'give at least one address, range or CIDR block').max(64),
    ports: z.array(z.number().int().min(1).max(65535)).min(1).max(64).default([ISCSI_PORT]),
    /** Longest wait for one TCP connect, ms. */
    timeoutMs: z.number().int().min(50).max(30000).default(1000),
    /**
     * Shortest wait for one TCP connect, ms: once hosts answer, the wait adapts to their round
     * trip (like nmap's adaptive RTT timeout) but never drops below this.
     */
    minTimeoutMs: z.number().int().min(20).max(30000).default(250),
    /** Connects in flight at once. */
    concurrency: z.number().int().min(1).max(4096).default(256),
    /** Check each open port with an iSCSI discovery login attempt. */
    confirmIscsi: z.boolean().default(true),
    /**
     * Wait for the login response of that check, ms. Targets answer a login at once; a
     * listener that stays silent this long is reported as not iSCSI.
     */
    checkTimeoutMs: z.number().int().min(50).max(30000).default(500),
    /** Look up reverse-DNS names of open hosts (never delays the scan). */
    resolveNames: z.boolean().default(true),
    /** The user confirmed a scan larger than a /16. */
    confirmLarge: z.boolean().default(false),
    /** The user confirmed scanning addresses outside private ranges. */
    confirmPublic: z.boolean().default(false),
  })
  .strict();
export type ScanStartInput = z.input<typeof ScanStartInput>;
export type ScanRequest = z.output<typeof ScanStartInput>;

/** Input of portal:check: one address and port, checked like a scan hit. */
export const PortalCheckInput = z
  .object({
    address: z.string().max(64),
    port: z.number().int().min(1).max(65535).default(ISCSI_PORT),
    timeoutMs: z.number().int().min(50).max(30000).default(3000),
  })
  .strict();
export type PortalCheckInput = z.input<typeof PortalCheckInput>;

/** One open port found by a scan. */
export interface Portal {
  address: string;
  port: number;
  /** true: answered an iSCSI login; false: something else listens; null: not checked. */
  iscsi: boolean | null;
  /** Reverse-DNS name, when one came back in time. */
  name?: string;
  /** What the check saw, in words (e.g. "iSCSI login response, status 0x0000"). */
  evidence?: string;
  /** Connect round-trip time, ms. */
  rttMs?: number;
}

/** The final result of a scan job. */
export interface ScanResult {
  portals: Portal[];
  /** Address×port probes made. */
  probed: number;
  /** Hosts that refused the connection (host up, port closed). */
  closed: number;
  /** Probes with no answer in time (no host, or filtered). */
  silent: number;
  durationMs: number;
  blocks: string[];
  ports: number[];
}

/** A validated scan: blocks and ports ready to expand. */
export interface ScanPlan {
  blocks: AddressBlock[];
  addresses: number;
  probes: number;
}

/** Checks the meaning of a scan request; the same rules in the UI (instantly) and the service. */
export function planScan(req: Pick<ScanRequest, 'targets' | 'ports' | 'confirmLarge' | 'confirmPublic'>):
  | { ok: true; value: ScanPlan }
  | { ok: false; error: AppError } {
  const blocks: AddressBlock[] = [];
  for (const t of req.targets) {
    const b = parseBlock(t);
    if (!b.ok) return { ok: false, error: appError('INVALID_INPUT', `Bad target: ${b.reason}`, { field: 'targets' }) };
    const why = forbiddenReason(b.value);
    if (why) return { ok: false, error: appError('INVALID_INPUT', `Refused target ${b.value.label}: ${why}`, { field: 'targets' }) };
    blocks.push(b.value);
  }
  if (blocks.length === 0) return { ok: false, error: appError('INVALID_INPUT', 'No target given', { field: 'targets' }) };
  const addresses = blocks.reduce((n, b) => n + blockSize(b), 0);
  if (addresses > MAX_SCAN) {
    return {
      ok: false,
      error: appError('INVALID_INPUT', `${addresses} addresses is more than Bootchain scans (at most a /8)`, {
        field: 'targets',
        hint: 'Scan the subnet your NAS is on, usually a /24.',
      }),
    };
  }
  if (addresses > LARGE_SCAN && !req.confirmLarge) {
    return {
      ok: false,
      error: appError('NEEDS_CONFIRMATION', `${addresses} addresses is larger than a /16 and would take a long time`, {
        field: 'confirmLarge',
        hint: 'Narrow the range to your LAN (usually a /24), or confirm the large scan.',
      }),
    };
  }
  const pub = blocks.filter((b) => !isPrivateBlock(b));
  if (pub.length > 0 && !req.confirmPublic) {
    return {
      ok: false,
      error: appError('NEEDS_CONFIRMATION', `${pub.map((b) => b.label).join(', ')} is outside private address space`, {
        field: 'confirmPublic',
        hint: 'Scan only networks you own. If this one is yours, confirm the public-range scan.',
      }),
    };
  }
  const ports = req.ports ?? [];
  return { ok: true, value: { blocks, addresses, probes: addresses * ports.length } };
}

/** One local interface and its IPv4 subnets, for the subnet picker. */
export interface NetInterface {
  name: string;
  mac?: string;
  internal: boolean;
  subnets: Array<{ address: string; cidr: string; network: string; prefix: number }>;
}
