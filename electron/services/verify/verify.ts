/**
 * The boot-chain verifier: a virtual PXE client that walks one workstation's boot exactly as its
 * firmware and iPXE would, from this computer, against the live servers — DHCP (as the firmware,
 * then as iPXE), the boot file over TFTP, the embedded script, default.ipxe, the per-MAC script,
 * the iSCSI portal, a login as the workstation, its LUN and boot sector, and the kernel
 * parameters — and says for each link pass / warn / fail, with the evidence and the fix.
 *
 * Nothing is leased (DISCOVER only), nothing is written. When DHCP cannot be probed (UDP 68 not
 * allowed) the rest of the chain is still checked from the project's settings.
 *
 * Each link is one function over the walk's state (./walk): a link that breaks the chain marks
 * the links after it skipped and stops the walk; the kernel parameters and the identity check
 * are judged whatever was reached.
 */
import type { Secrets } from '../../../shared/gen/artifacts';
import type { Project } from '../../../shared/model/project';
import { CHAIN_LINKS, type VerifyResult } from '../../../shared/verify';
import { bootfileLink } from './bootfile-link';
import { dhcpLink } from './dhcp-probe';
import { identityCheck, kernelLink } from './kernel-link';
import { portalLink, targetLink } from './san-links';
import { defaultLink, embeddedLink } from './script-links';
import { routerCheck } from './router-check';
import { stationLink } from './station-link';
import { startWalk, type LinkStep, type VerifyOptions, type Walk } from './walk';

export type { VerifyOptions };

/** The links of the chain in the order the workstation meets them, up to the iSCSI disk. */
const CHAIN_STEPS: readonly LinkStep[] = [dhcpLink, bootfileLink, embeddedLink, defaultLink, stationLink, portalLink, targetLink];

/** Verifies the boot chain of one workstation. */
export async function verifyStation(p: Project, secrets: Secrets, stationName: string, o: VerifyOptions): Promise<VerifyResult> {
  const walk = startWalk(p, secrets, stationName, o);
  if (o.only === 'dhcp') {
    await routerCheck(walk);
    return resultOf(walk);
  }
  for (const step of CHAIN_STEPS) if (!(await step(walk))) break;
  kernelLink(walk);
  return resultOf(walk);
}

/** The result of a walk: every link in chain order (one never reached is skipped), the identity check. */
function resultOf(walk: Walk): VerifyResult {
  const { w, links } = walk;
  const identity = identityCheck(walk);
  const ordered = CHAIN_LINKS.map((l) => links.get(l.id) ?? { id: l.id, title: l.title, status: 'skip' as const, summary: 'not reached', evidence: [] });
  const firstBroken = ordered.find((l) => l.status === 'fail')?.id;
  return { station: w.name, mac: walk.mac, firmware: w.firmware, links: ordered, identity, ...(firstBroken ? { firstBroken } : {}), ok: !firstBroken && identity.status !== 'fail', durationMs: Date.now() - walk.t0 };
}
