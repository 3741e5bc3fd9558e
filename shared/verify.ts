/**
 * The boot chain as the verifier sees it: one link per step a diskless workstation takes, each
 * with a verdict, the evidence (what was sent and received) and the fix in plain words.
 */
import { z } from 'zod';

/** The links, in boot order. */
export const CHAIN_LINKS = [
  { id: 'dhcp', title: 'DHCP', what: 'The firmware asks DHCP where to boot from' },
  { id: 'bootfile', title: 'Boot file', what: 'The firmware loads iPXE over TFTP' },
  { id: 'embedded', title: 'Embedded script', what: 'iPXE asks DHCP again, as itself, and goes on without looping' },
  { id: 'default', title: 'default.ipxe', what: 'The shared script that finds the workstation by its MAC' },
  { id: 'station', title: 'Per-MAC script', what: "The workstation's own script: initiator name, CHAP, sanboot" },
  { id: 'portal', title: 'iSCSI portal', what: 'The sanboot server answers on its port' },
  { id: 'target', title: 'Target / LUN', what: 'Login as the workstation, the target and the LUN exist' },
  { id: 'bootsector', title: 'Boot sector', what: 'The LUN holds what the firmware can boot' },
  { id: 'kernel', title: 'Kernel parameters', what: 'The booted kernel finds the same disk again' },
] as const;
export type LinkId = (typeof CHAIN_LINKS)[number]['id'];
export type LinkStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface ChainLink {
  id: LinkId;
  title: string;
  status: LinkStatus;
  /** One sentence: what was found. */
  summary: string;
  /** What was sent and received. */
  evidence: string[];
  /** What to do, in plain words (for warn and fail). */
  fix?: string | undefined;
}

/** One check across links: the same initiator IQN and CHAP in iPXE, on the NAS and in the kernel. */
export interface IdentityCheck {
  status: LinkStatus;
  summary: string;
  evidence: string[];
  fix?: string | undefined;
}

export interface VerifyResult {
  station: string;
  mac: string;
  firmware: 'bios' | 'uefi';
  links: ChainLink[];
  identity: IdentityCheck;
  /** The first link that failed, where the boot would stop. */
  firstBroken?: LinkId | undefined;
  ok: boolean;
  durationMs: number;
}

/** How long Verify collects DHCP offers at most, per DISCOVER, by default (ms). */
export const DHCP_WAIT_MS = 4000;

export const VerifyInput = z
  .object({
    project: z.unknown(),
    secrets: z.record(z.string().max(128), z.string().max(256)).default({}),
    station: z.string().min(1).max(63),
    /** The kernel command line actually in use (from the bootloader), instead of the generated one. */
    kernelCmdline: z.string().max(4096).optional(),
    /** Send DHCP DISCOVERs (needs UDP 68); off: take next-server and file from the project. */
    dhcp: z.boolean().default(true),
    /**
     * The most DHCP offers are collected for, ms, per DISCOVER: the wait ends earlier once the
     * project's server has answered and no new offer came for half a second. The default is a PXE
     * firmware's first DISCOVER round (it sends again after 4 s, RFC 2131 §4.1).
     */
    dhcpWaitMs: z.number().int().min(200).max(10_000).default(DHCP_WAIT_MS),
    /** 'dhcp': only the router's DHCP answers, as the firmware and as iPXE ("Check my router"). */
    only: z.literal('dhcp').optional(),
    /**
     * The user chose stock iPXE (Build step): the boot file is judged as stock iPXE, never against
     * an earlier build still in the project's build folder.
     */
    stockBinaries: z.boolean().default(false),
    /** The interface on the workstations' network: DISCOVERs go to its subnet's broadcast address. */
    interface: z.string().regex(/^[A-Za-z0-9._:@-]{1,15}$/, 'an interface name like eth0 or enp3s0').optional(),
  })
  .strict();
export type VerifyInput = z.input<typeof VerifyInput>;

const MARK: Record<LinkStatus, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

/** The verify result as a Markdown report (Diagnostics export, `bootchain verify --markdown`). */
export function reportMarkdown(r: VerifyResult, when = new Date()): string {
  const lines = [
    `# Boot chain of ${r.station} (${r.mac}, ${r.firmware.toUpperCase()})`,
    '',
    `Checked ${when.toISOString()} in ${r.durationMs} ms: ${r.ok ? '**every link holds**' : `**the boot stops at ${CHAIN_LINKS.find((l) => l.id === r.firstBroken)?.title ?? 'the identity check'}**`}.`,
    '',
    '| link | verdict | what was found |',
    '| --- | --- | --- |',
    ...r.links.map((l) => `| ${l.title} | ${MARK[l.status]} | ${l.summary.replace(/\|/g, '\\|')} |`),
    `| Identity | ${MARK[r.identity.status]} | ${r.identity.summary.replace(/\|/g, '\\|')} |`,
    '',
  ];
  for (const l of [...r.links, { id: 'identity', title: 'Identity', ...r.identity }]) {
    if (l.status === 'skip' && l.evidence.length === 0) continue;
    lines.push(`## ${l.title}: ${MARK[l.status]}`, '', l.summary, '');
    if (l.fix) lines.push(`**Fix:** ${l.fix}`, '');
    if (l.evidence.length > 0) lines.push('```', ...l.evidence, '```', '');
  }
  return lines.join('\n');
}
