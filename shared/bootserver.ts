/** The built-in boot server: what it reports and how the app starts it. */
import { z } from 'zod';
import { absPath } from './build';
import { isIPv4 } from './ipv4';

/** One thing the boot server did (the live panel and the Diagnostics timeline show these). */
export interface ServeEvent {
  kind: 'tftp' | 'http' | 'proxydhcp' | 'server';
  client: string;
  /** File requested, or what the DHCP answer said. */
  file?: string | undefined;
  /** 'marker': a script's stage marker for the live watch (file watch/<mac>/<marker>, message e=<iPXE error> on a failure). */
  status: 'started' | 'done' | 'failed' | 'refused' | 'answered' | 'ignored' | 'warning' | 'listening' | 'marker';
  bytes: number;
  message?: string | undefined;
  at: number;
}

export const ServeInput = z
  .object({
    /** The folder served (the artifact folder). */
    root: absPath,
    /** The address to serve on (an address of this computer on the workstations' LAN). */
    address: z.string().refine(isIPv4, { message: 'an IPv4 address of this computer' }),
    tftpPort: z.number().int().min(1).max(65535).default(69),
    /** HTTP port for iPXE (0: no HTTP). */
    httpPort: z.number().int().min(0).max(65535).default(8080),
    /** Answer PXE clients as a proxyDHCP server (never hands out addresses). */
    proxyDhcp: z.boolean().default(false),
    biosFile: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default('undionly.kpxe'),
    uefiFile: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default('snponly.efi'),
    /** The user-class of Bootchain's embedded script (its iPXE gets option 17 = the HTTP URL). */
    userClass: z.string().regex(/^[A-Za-z0-9._-]{1,32}$/).default('bootchain'),
    /** proxyDHCP answers only these MACs (the project's workstations); absent: every PXE client. */
    macs: z.array(z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/)).max(1024).optional(),
  })
  .strict();
export type ServeInput = z.input<typeof ServeInput>;
export type ServeOptions = z.output<typeof ServeInput>;

/** serve:start — the project's boot files, assembled in the app's data folder, served from here. */
export const ServeStartInput = z
  .object({
    project: z.unknown(),
    secrets: z.record(z.string().max(128), z.string().max(256)).default({}),
    address: z.string().refine(isIPv4, { message: 'an IPv4 address of this computer' }),
    tftpPort: z.number().int().min(1).max(65535).default(69),
    httpPort: z.number().int().min(0).max(65535).default(8080),
    proxyDhcp: z.boolean().default(false),
    /** Serve this computer's stock iPXE binaries (Debian's ipxe package) instead of a build's. */
    stockBinaries: z.boolean().default(false),
  })
  .strict();
export type ServeStartInput = z.input<typeof ServeStartInput>;

/** The end of a serve job (stopped by the user). */
export interface ServeResult {
  root: string;
  tftp: string;
  http?: string | undefined;
  served: number;
  bytes: number;
  failed: number;
  durationMs: number;
}
