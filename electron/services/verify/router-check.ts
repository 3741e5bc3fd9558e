/**
 * "Check my router" (the Router step): only the DHCP side of the chain, through the same walk as
 * Verify — a DISCOVER as the workstation's firmware (the DHCP link, judged as Verify judges it),
 * then DISCOVERs as iPXE: as Bootchain's iPXE (its user-class) and as any other iPXE. Both must
 * be given default.ipxe (the script), never iPXE again (a loop). No TFTP, no iSCSI, nothing leased.
 */
import { dhcpLink, ipxeDhcp } from './dhcp-probe';
import type { Walk } from './walk';

/** The DHCP link as the firmware and the 'embedded' link as iPXE; every other link is skipped. */
export async function routerCheck(walk: Walk): Promise<void> {
  await dhcpLink(walk);
  const { p } = walk;
  if (!walk.dhcpUsable) {
    walk.set('embedded', 'skip', 'Not asked as iPXE: the firmware DISCOVER got no usable answer', []);
  } else {
    const ours = await ipxeDhcp(walk, p.boot.userClass);
    const other = await ipxeDhcp(walk, undefined);
    const bad: string[] = [];
    if (!ours) bad.push(`Bootchain's iPXE (user-class ${p.boot.userClass}) got no answer`);
    else if (ours.filename !== 'default.ipxe') bad.push(`Bootchain's iPXE (user-class ${p.boot.userClass}) is given "${ours.filename || '(no file)'}" instead of default.ipxe`);
    if (!other) bad.push('a plain iPXE got no answer');
    else if (other.filename !== 'default.ipxe') bad.push(`a plain iPXE is given "${other.filename || '(no file)'}" instead of default.ipxe: it would load iPXE again and loop`);
    if (bad.length === 0) walk.set('embedded', 'pass', 'Asked as iPXE, the router hands out default.ipxe (no loop)', walk.ipxeOffers);
    else walk.set('embedded', 'fail', `${bad.join('; ')}`, walk.ipxeOffers, 'Apply the iPXE part of the router snippet (the lines that match user-class "iPXE" and option 175 and give default.ipxe), then check again.');
  }
  walk.skipRest('bootfile', 'not checked: router check only');
  walk.set('kernel', 'skip', 'not checked: router check only', []);
}
