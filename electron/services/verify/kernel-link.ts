/**
 * The kernel side, checked whatever the walk reached: the kernel parameters (generated, or the
 * command line given) find the same disk again, and the identity check — one initiator IQN in
 * the project, the per-MAC script, the kernel parameters and the NAS's answer.
 */
import { checkKernelParams, kernelParams } from '../../../shared/gen/kernel';
import { sameIqn } from '../../../shared/model/iqn';
import type { IdentityCheck } from '../../../shared/verify';
import { errText, type Walk } from './walk';

/**
 * A kernel command line with its CHAP secrets as ***: genkernel's and initramfs-tools'
 * *password*= values, and dracut's netroot=iscsi:<user>:<secret>[:<in-user>:<in-secret>]@…
 * (a command line given by the user may hold secrets the project does not know).
 */
export function hideCmdlineSecrets(params: string): string {
  return params.replace(/(password\w*=)\S+/g, '$1***').replace(/(netroot=iscsi:)(\S*)@/, (_m, pre: string, auth: string) => {
    const parts = auth.split(':');
    return `${pre}${parts[0]}:***${parts.length === 4 ? `:${parts[2]}:***` : ''}@`;
  });
}

/** 9. The kernel parameters against the chain; sets walk.kernelIqn (the initiator they name). */
export function kernelLink(walk: Walk): boolean {
  const { p, w, o, secrets } = walk;
  try {
    const lookup = (ref: string) => secrets[ref] ?? '';
    const k = kernelParams(p, w, walk.index, lookup);
    const params = o.kernelCmdline ?? k.params;
    walk.kernelIqn = /(?:iscsi_initiatorname|iscsi_initiator|rd\.iscsi\.initiator)=(\S+)/.exec(params)?.[1];
    const problems = checkKernelParams(params, { address: w.portals?.[0]?.address ?? p.nas.address, initiator: w.initiatorIqn });
    const ev = [`${o.kernelCmdline ? 'given' : 'generated'} (${k.initramfs}): ${hideCmdlineSecrets(params)}`];
    if (problems.length > 0) walk.set('kernel', 'fail', problems.join('; '), ev, problems.some((x) => x.startsWith('no ip=dhcp')) ? 'Add ip=dhcp to the kernel command line (the initramfs must bring the network up to reach the target).' : 'Use the generated kernel parameters (Identity step, kernel/<station>.txt).');
    else walk.set('kernel', 'pass', `The ${k.initramfs} parameters bring the network up and name ${w.initiatorIqn}`, ev);
  } catch (e) {
    walk.set('kernel', 'fail', errText(e), [], 'Fix the workstation in the project.');
  }
  return true;
}

/** The identity check, from the station and target links and walk.kernelIqn (kernelLink first). */
export function identityCheck(walk: Walk): IdentityCheck {
  const { w, links } = walk;
  const kernelIqn = walk.kernelIqn;
  const st = links.get('station');
  const ipxeIqn = st?.evidence.find((e) => e.startsWith('initiator-iqn '))?.slice('initiator-iqn '.length);
  const ev = [`project: ${w.initiatorIqn}`, `iPXE (per-MAC script): ${ipxeIqn ?? 'not reached'}`, `kernel: ${kernelIqn ?? 'not named'}`, `NAS ACL: ${links.get('target')?.status === 'pass' ? 'accepted this initiator' : links.get('target')?.status === 'fail' ? 'refused or not reached' : 'not checked'}`, `CHAP: ${w.chap ? `user ${w.chap.username}` : 'none'}`];
  const names = [w.initiatorIqn, ipxeIqn, kernelIqn].filter((x): x is string => x !== undefined && !x.startsWith('(') && x !== 'not reached');
  // Initiator names compare the RFC 3722 way (case-folded), as the NAS compares them.
  if (names.some((n) => !sameIqn(n, names[0]!))) return { status: 'fail', summary: 'The initiator IQN is not the same everywhere', evidence: ev, fix: 'Upload the generated per-MAC script and use the generated kernel parameters: all three must name the same IQN, the one the NAS ACL allows.' };
  if (links.get('target')?.status === 'fail') return { status: 'warn', summary: 'Same IQN in iPXE and kernel; the NAS did not accept the login (see Target)', evidence: ev };
  return { status: ipxeIqn ? 'pass' : 'skip', summary: ipxeIqn ? `${w.initiatorIqn} in iPXE, the kernel parameters and the NAS login` : 'The per-MAC script was not reached', evidence: ev };
}
