/**
 * The verifier's walk: what one run knows about the workstation it walks for, and what each link
 * hands the next — next-server and boot file from DHCP, the binary from TFTP, the scripts' run,
 * the sanboot. Each link is a function over a Walk (dhcp-probe, bootfile-link, script-links,
 * station-link, san-links, kernel-link) that says whether the walk goes on, so a test can build a
 * walk, set what the links before would have found, and run one link alone.
 */
import { BootchainError } from '../../../shared/errors';
import { generateArtifacts, type Secrets } from '../../../shared/gen/artifacts';
import { macHexhyp, parseMac } from '../../../shared/model/mac';
import type { Project, Workstation } from '../../../shared/model/project';
import { CHAIN_LINKS, type ChainLink, type LinkId, type LinkStatus } from '../../../shared/verify';
import type { BuildManifest, ManifestArtifact } from '../bootfiles/manifest';
import type { ClientArch } from '../dhcp/packet';
import { redactSecrets } from '../errors';
import { interfaceBroadcast, listInterfaces } from '../net/interfaces';
import { knownServers, type KnownServers, type Offer } from './dhcp-link';
import type { ScriptEvent, ScriptRun } from './script';

/** How a walk is run: DHCP probed or not and how long, where DISCOVERs go, the build to compare with, callbacks. */
export interface VerifyOptions {
  kernelCmdline?: string | undefined;
  buildDir?: string | undefined;
  dhcp: boolean;
  /** The most offers are collected for, per DISCOVER; they stop earlier once settled. */
  dhcpWaitMs: number;
  /** The interface on the workstations' network: DISCOVERs go to its subnet's broadcast. */
  interface?: string | undefined;
  /** Where DISCOVERs go (default: the interface's subnet broadcast, else the limited broadcast). */
  broadcast?: string | undefined;
  signal?: AbortSignal | undefined;
  log?: ((line: string) => void) | undefined;
  /** 'dhcp': only the router's answers, as the firmware and as iPXE (the Router step's "Check my router"). */
  only?: 'dhcp' | undefined;
  /** Called as each link gets its verdict (the UI colours the picture as it goes). */
  onLink?: ((l: ChainLink) => void) | undefined;
}

/** The sanboot the scripts end with: the iSCSI side starts from it. */
export type Sanboot = Extract<ScriptEvent, { kind: 'sanboot' }>;

/** One link's step: sets its verdict (and the skipped ones after it); false when the walk stops. */
export type LinkStep = (walk: Walk) => boolean | Promise<boolean>;

/** The state of one walk. */
export interface Walk {
  readonly p: Project;
  readonly secrets: Secrets;
  readonly o: VerifyOptions;
  /** The workstation walked for, and its index in the project (the kernel parameters use it). */
  readonly w: Workstation;
  readonly index: number;
  /** Its MAC, canonical aa:bb:cc:dd:ee:ff. */
  readonly mac: string;
  readonly uefi: boolean;
  readonly arch: ClientArch;
  /** The boot file the project gives this firmware. */
  readonly expectedFile: string;
  /** The per-MAC script's name as iPXE asks for it (lower-case, hyphenated). */
  readonly stationFile: string;
  /** The files the project generates (empty when it cannot generate them). */
  readonly generated: Record<string, string>;
  readonly t0: number;
  readonly links: Map<LinkId, ChainLink>;
  /**
   * Every secret this run knows — the project's, and any a served script sets — taken out of
   * each link (summary, evidence, fix) as it is made: links are all that leaves, as the result,
   * onLink and the log.
   */
  readonly secretValues: Set<string>;
  /** Whose offers are whose: the project's router, NAS, boot server, this computer (its proxyDHCP). */
  readonly servers: KnownServers;
  /** Where DISCOVERs go, and the interface named for it. */
  readonly dhcpTo: string;
  readonly dhcpVia?: { name: string } | undefined;
  /** TFTP's UDP port: 69 (a test points the walk at a server on a high port). */
  tftpPort: number;

  /** From DHCP (else the project): where the firmware loads iPXE from; whether iPXE can ask DHCP. */
  nextServer: string;
  bootFile: string;
  dhcpUsable: boolean;
  firmwareOffer?: Offer | undefined;
  /** From TFTP: the binary, the build manifest, and the build's artifact it is (by sha256). */
  bin?: Buffer | undefined;
  manifest?: BuildManifest | undefined;
  own?: ManifestArtifact | undefined;
  /** From iPXE: what its DHCP answered (evidence), its scripts' run, the script it embeds. */
  ipxeOffers: string[];
  run?: ScriptRun | undefined;
  embeddedScript?: string | undefined;
  sanboot?: Sanboot | undefined;
  /** The initiator IQN the kernel parameters name. */
  kernelIqn?: string | undefined;

  set(id: LinkId, status: LinkStatus, summary: string, evidence: string[], fix?: string): void;
  /** Marks every link from `from` on that has no verdict yet as skipped (the kernel link is always checked). */
  skipRest(from: LinkId, why: string): void;
  log(line: string): void;
}

/** An error's message for evidence (a BootchainError's own message, not its wrapper's). */
export const errText = (e: unknown) => (e instanceof BootchainError ? e.appError.message : e instanceof Error ? e.message : String(e));
/** A BootchainError's code, else undefined. */
export const errCode = (e: unknown) => (e instanceof BootchainError ? e.appError.code : undefined);

/** A walk for one workstation of the project, before any link; throws when there is no such workstation. */
export function startWalk(p: Project, secrets: Secrets, stationName: string, o: VerifyOptions): Walk {
  const t0 = Date.now();
  const index = p.workstations.findIndex((w) => w.name === stationName);
  const w: Workstation | undefined = p.workstations[index];
  if (!w) throw new BootchainError({ code: 'NOT_FOUND', message: `The project has no workstation "${stationName}"`, hint: `Workstations: ${p.workstations.map((x) => x.name).join(', ') || 'none'}.`, retryable: false, field: 'station' });
  const parsedMac = parseMac(w.mac);
  if (!parsedMac.ok) throw new BootchainError({ code: 'INVALID_INPUT', message: parsedMac.reason, hint: 'Fix the MAC in the project.', retryable: false });
  const mac = parsedMac.value;
  const g = generateArtifacts(p, secrets);
  const uefi = w.firmware === 'uefi';
  const expectedFile = uefi ? p.boot.uefiFile : p.boot.biosFile;
  const log = o.log ?? (() => undefined);
  const servers = knownServers(p, listInterfaces().flatMap((i) => i.subnets.map((x) => x.address)));
  // Where DISCOVERs go: the chosen interface's subnet broadcast leaves by that interface even
  // without a default route; the limited broadcast needs one.
  const via = o.dhcp && o.interface ? interfaceBroadcast(o.interface) : undefined;
  const links = new Map<LinkId, ChainLink>();
  const secretValues = new Set(Object.values(secrets));
  const walk: Walk = {
    p,
    secrets,
    o,
    w,
    index,
    mac,
    uefi,
    arch: uefi ? 7 : 0,
    expectedFile,
    stationFile: `${macHexhyp(mac)}.ipxe`,
    generated: g.ok ? g.files : {},
    t0,
    links,
    secretValues,
    servers,
    dhcpTo: o.broadcast ?? via?.broadcast ?? '255.255.255.255',
    dhcpVia: via,
    tftpPort: 69,
    nextServer: p.nas.address,
    bootFile: expectedFile,
    dhcpUsable: o.dhcp,
    ipxeOffers: [],
    set(id, status, summary, evidence, fix) {
      const def = CHAIN_LINKS.find((l) => l.id === id)!;
      const l: ChainLink = redactSecrets({ id, title: def.title, status, summary, evidence, ...(fix ? { fix } : {}) }, secretValues);
      links.set(id, l);
      o.onLink?.(l);
      log(`${def.title}: ${status} — ${l.summary}`);
    },
    skipRest(from, why) {
      const start = CHAIN_LINKS.findIndex((l) => l.id === from);
      for (const l of CHAIN_LINKS.slice(start)) if (!links.has(l.id) && l.id !== 'kernel') walk.set(l.id, 'skip', why, []);
    },
    log,
  };
  return walk;
}
