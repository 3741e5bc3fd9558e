/**
 * The iSCSI links, from the sanboot the per-MAC script ends with: the portal answers, a login as
 * the workstation (its initiator IQN and CHAP, as the script sets them) sees the target and the
 * LUN, and the LUN holds what this firmware boots.
 */
import net from 'node:net';
import { formatBytes } from '../../../shared/bytes';
import { BootchainError } from '../../../shared/errors';
import { parseIscsiUri } from '../../../shared/gen/ipxe';
import { probeTarget } from '../iscsi/probe';
import { errCode, errText, type Sanboot, type Walk } from './walk';

function tcpCheck(host: string, port: number, timeoutMs: number): Promise<{ ok: boolean; error?: string }> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const t = setTimeout(() => {
      s.destroy();
      resolve({ ok: false, error: `no answer in ${timeoutMs} ms` });
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve({ ok: true });
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      resolve({ ok: false, error: e.code === 'ECONNREFUSED' ? 'connection refused: nothing listens there' : e.message });
    });
  });
}

const sanbootOf = (walk: Walk): Sanboot => {
  if (!walk.sanboot) throw new Error('no sanboot yet (stationLink comes first)');
  return walk.sanboot;
};

/** 6. The iSCSI portal the sanboot URI names accepts connections. */
export async function portalLink(walk: Walk): Promise<boolean> {
  const { p, w } = walk;
  const sb = sanbootOf(walk);
  const uri = parseIscsiUri(sb.uris[0] ?? '');
  if (!uri.ok) {
    walk.set('portal', 'fail', `The sanboot URI cannot be read: ${uri.reason}`, [sb.uris[0] ?? ''], 'Use iscsi:<server>::<port>:<lun>:<target> (upload the generated script).');
    walk.skipRest('target', 'not reached');
    return false;
  }
  const u = uri.value;
  const port = u.port ?? 3260;
  const c = await tcpCheck(u.server, port, 1500);
  const wrongServer = u.server !== p.nas.address && !(w.portals ?? []).some((x) => x.address === u.server);
  if (!c.ok) {
    walk.set('portal', 'fail', `The iSCSI portal ${u.server}:${port} does not answer: ${c.error}`, [`TCP connect ${u.server}:${port}: ${c.error}`], wrongServer ? `sanboot points at ${u.server}, but the NAS is ${p.nas.address}: fix the address in the per-MAC script (upload the generated one).` : `Start the iSCSI target service on ${u.server} and allow TCP ${port}.`);
    walk.skipRest('target', 'not reached: no portal');
    return false;
  }
  walk.set('portal', wrongServer ? 'warn' : 'pass', wrongServer ? `sanboot points at ${u.server}, not at the project's NAS ${p.nas.address}` : `${u.server}:${port} accepts connections`, [`TCP connect ${u.server}:${port}: open`], wrongServer ? 'Check that this is the server you mean.' : undefined);
  return true;
}

/** 7 and 8. A login as the workstation: the target and its LUN, then the LUN's boot sector. */
export async function targetLink(walk: Walk): Promise<boolean> {
  const { uefi } = walk;
  const sb = sanbootOf(walk);
  const uri = parseIscsiUri(sb.uris[0] ?? '');
  if (!uri.ok) throw new Error(`the sanboot URI cannot be read (portalLink comes first): ${uri.reason}`);
  const u = uri.value;
  const port = u.port ?? 3260;
  const initiator = sb.settings['initiator-iqn'];
  const chap = sb.settings.username && sb.settings.password ? { username: sb.settings.username, secret: sb.settings.password, ...(sb.settings['reverse-password'] ? { mutual: { username: sb.settings['reverse-username'], secret: sb.settings['reverse-password'] } } : {}) } : undefined;
  try {
    const pr = await probeTarget({ host: u.server, port, initiatorName: initiator ?? 'iqn.2010-04.org.ipxe:bootchain-verify', targetName: u.target, chap, timeoutMs: 5000, ...(walk.o.signal ? { signal: walk.o.signal } : {}) });
    const lun = pr.luns.find((l) => l.lun === u.lun);
    const ev = [`login as ${pr.initiator}${chap ? ` with CHAP user ${chap.username}${chap.mutual ? ' (mutual)' : ''}` : ''}: accepted`, ...pr.luns.map((l) => `LUN ${l.lun}: ${l.deviceTypeName}${l.sizeBytes ? `, ${formatBytes(l.sizeBytes)}` : ''}${l.layout ? `, ${l.layout.summary}` : ''}`)];
    if (!lun) {
      walk.set('target', 'fail', `Target ${u.target} has no LUN ${u.lun}`, ev, `Use LUN ${pr.bootLun ?? 1} in the project (the disk${pr.bootLun !== undefined ? ` is LUN ${pr.bootLun}` : ''}).`);
      walk.skipRest('bootsector', 'not reached');
      return false;
    }
    if (lun.deviceType !== 0) {
      walk.set('target', 'fail', `sanboot names LUN ${u.lun}, which is a ${lun.deviceTypeName}, not a disk`, ev, `Use LUN ${pr.bootLun ?? 1}: on tgt (and many Linux targets) LUN 0 is the controller and the disk is LUN 1. Change the workstation's LUN in the project and upload.`);
      walk.skipRest('bootsector', 'not reached');
      return false;
    }
    walk.set('target', 'pass', `Logged in to ${u.target} as ${pr.initiator}; LUN ${u.lun} is a ${formatBytes(lun.sizeBytes!)} disk`, ev);
    const lay = lun.layout;
    const lev = [lay ? `LBA 0: ${lay.summary}; boot signature 0x55AA ${lay.bootSignature ? 'present' : 'absent'}${lay.esp ? `; EFI system partition ${lay.esp.index}` : ''}` : 'not read'];
    if (!lay || lay.verdict === 'empty') walk.set('bootsector', 'fail', `LUN ${u.lun} is empty: nothing to boot`, lev, 'Put the operating system on this disk first: the Install step writes an image onto it (bootchain write), or attaches it on your own Linux machine with open-iscsi; or point the workstation at the disk that holds it.');
    else if (!uefi && !lay.bootSignature) walk.set('bootsector', 'fail', `LUN ${u.lun} has no boot sector (no 0x55AA signature): a BIOS cannot boot it`, lev, 'Install a boot loader into the disk\'s MBR (e.g. grub-install on the iSCSI disk).');
    else if (uefi && !lay.esp) walk.set('bootsector', 'fail', `A UEFI workstation, but LUN ${u.lun} has ${lay.scheme === 'gpt' ? 'no EFI system partition' : `an ${lay.scheme.toUpperCase()} disk without an EFI system partition`}`, lev, lay.scheme === 'mbr' && lay.bootSignature ? 'The disk is set up for BIOS: switch the workstation to BIOS (legacy) boot in the project and the firmware, or reinstall for UEFI.' : 'Install with a GPT and an EFI system partition holding \\EFI\\BOOT\\BOOTX64.EFI.');
    else if (!uefi && lay.scheme === 'gpt' && !lay.bootSignature) walk.set('bootsector', 'fail', 'A BIOS workstation, but the disk is set up for UEFI only', lev, 'Switch the workstation to UEFI in the project and its firmware, or install a BIOS boot loader.');
    else walk.set('bootsector', 'pass', uefi ? `GPT with an EFI system partition` : `Boot sector present (${lay.summary})`, lev);
    return true;
  } catch (e) {
    if (errCode(e) === 'CANCELLED') throw e;
    const a = e instanceof BootchainError ? e.appError : undefined;
    const code = a?.code;
    const ev = [`login as ${initiator ?? '(iPXE default name)'} to ${u.target}${chap ? ` with CHAP user ${chap.username}` : ''}: ${errText(e)}`];
    if (code === 'AUTH_FAILED') walk.set('target', 'fail', `The NAS refuses the CHAP login of ${chap?.username ?? 'the workstation'}`, ev, `Make the CHAP secret in the project (per-MAC script) equal to the one set for target ${u.target} on the NAS, then upload.`);
    else if (code === 'TARGET_NOT_FOUND') walk.set('target', 'fail', `The NAS does not let ${initiator ?? 'this initiator'} see target ${u.target}`, ev, a?.hint ?? 'Check the target name for typos, and that the target\'s ACL allows this initiator IQN.');
    else walk.set('target', 'fail', `Login to ${u.target} failed: ${errText(e)}`, ev, a?.hint);
    walk.skipRest('bootsector', 'not reached: no login');
    return false;
  }
}
