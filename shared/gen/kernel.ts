/**
 * The kernel side of the recipe: parameters for the initramfs that logs in to the target
 * (genkernel, dracut, Debian's initramfs-tools), and a checker of a kernel .config for the
 * options the recipe needs.
 */
import { checkIqn, sameIqn } from '../model/iqn';
import type { Project, Workstation } from '../model/project';
import { scriptValue, ScriptValueError } from './ipxe';

/** Parameters for one workstation, with warnings the user should read. */
export interface KernelParams {
  initramfs: Workstation['initramfs'];
  params: string;
  warnings: string[];
  /** How to build an initramfs with iSCSI for this flavour. */
  hint: string;
}

/** Kernel parameters for a workstation (recipe step 5; dracut.cmdline(7); Debian open-iscsi). */
export function kernelParams(p: Pick<Project, 'nas'>, w: Workstation, index: number, secret: (ref: string, field: string) => string): KernelParams {
  const f = (k: string) => `workstations[${index}].${k}`;
  const portal = w.portals?.[0] ?? { address: p.nas.address, port: p.nas.iscsiPort };
  const ini = checkIqn(w.initiatorIqn);
  if (!ini.ok) throw new Error(`${f('initiatorIqn')}: ${ini.reason}`);
  const tgt = checkIqn(w.target);
  if (!tgt.ok) throw new ScriptValueError(f('target'), tgt.reason);
  // Names go in as given: targets and dracut match them byte for byte (see model/iqn.ts).
  const target = scriptValue('iqn', tgt.name, f('target'));
  const initiator = scriptValue('iqn', ini.name, f('initiatorIqn'));
  const warnings: string[] = [];
  const chap = w.chap
    ? {
        user: scriptValue('chapUser', w.chap.username, f('chap.username')),
        pass: scriptValue('chapSecret', secret(w.chap.secretRef, f('chap.secretRef')), f('chap.secretRef')),
        muser: w.chap.mutual ? scriptValue('chapUser', w.chap.mutual.username, f('chap.mutual.username')) : undefined,
        mpass: w.chap.mutual ? scriptValue('chapSecret', secret(w.chap.mutual.secretRef, f('chap.mutual.secretRef')), f('chap.mutual.secretRef')) : undefined,
      }
    : undefined;
  if (chap) warnings.push('CHAP secrets on the kernel command line are readable in /proc/cmdline by every local user; prefer an initramfs with the secrets inside (iBFT, or /etc/iscsi.initramfs).');
  let params: string;
  let hint: string;
  switch (w.initramfs) {
    case 'genkernel': {
      const a = [`iscsi_target=${target}`, `iscsi_address=${portal.address}`, `iscsi_initiatorname=${initiator}`];
      if (portal.port !== 3260) a.push(`iscsi_port=${portal.port}`);
      if (chap) {
        a.push(`iscsi_username=${chap.user}`, `iscsi_password=${chap.pass}`);
        if (chap.muser && chap.mpass) a.push(`iscsi_username_in=${chap.muser}`, `iscsi_password_in=${chap.mpass}`);
      }
      a.push('ip=dhcp');
      if (w.root) a.push(`root=${w.root}`);
      params = a.join(' ');
      hint = 'Build the initramfs with iSCSI: genkernel --iscsi initramfs (or iSCSI="yes" in /etc/genkernel.conf).';
      break;
    }
    case 'dracut': {
      dracutTarget(target, f('target'));
      if (chap) {
        dracutAuth(chap.user, f('chap.username'), 'a CHAP user name');
        dracutAuth(chap.pass, f('chap.secretRef'), 'a CHAP secret');
        if (chap.muser !== undefined) dracutAuth(chap.muser, f('chap.mutual.username'), 'a mutual CHAP user name');
        if (chap.mpass !== undefined) dracutAuth(chap.mpass, f('chap.mutual.secretRef'), 'a mutual CHAP secret');
      }
      const auth = chap ? `${chap.user}:${chap.pass}${chap.muser && chap.mpass ? `:${chap.muser}:${chap.mpass}` : ''}@` : '';
      const server = portal.address;
      params = [`netroot=iscsi:${auth}${server}::${portal.port === 3260 ? '' : portal.port}:${w.lun}:${target}`, `rd.iscsi.initiator=${initiator}`, 'ip=dhcp', 'rd.neednet=1', `root=${w.root ?? ''}`].join(' ');
      hint = 'Include dracut\'s iscsi module: dracut --add iscsi -f. With iPXE\'s iBFT, rd.iscsi.ibft=1 can replace netroot= and ip=.';
      break;
    }
    case 'initramfs-tools': {
      const a = [`iscsi_initiator=${initiator}`, `iscsi_target_name=${target}`, `iscsi_target_ip=${portal.address}`, `iscsi_target_port=${portal.port}`];
      if (chap) {
        a.push(`iscsi_username=${chap.user}`, `iscsi_password=${chap.pass}`);
        if (chap.muser && chap.mpass) a.push(`iscsi_in_username=${chap.muser}`, `iscsi_in_password=${chap.mpass}`);
      }
      a.push('ip=dhcp', `root=${w.root ?? ''}`);
      params = a.join(' ');
      hint = 'Debian/Ubuntu: install open-iscsi, touch /etc/iscsi/iscsi.initramfs, then update-initramfs -u.';
      break;
    }
  }
  return { initramfs: w.initramfs, params, warnings, hint };
}

/**
 * What dracut's parse_iscsi_root (dracut 059 modules.d/40network/net-lib.sh, dracut-ng's
 * 45net-lib/net-lib.sh: the same in these parts; e2e/dracut/ runs the installed one) cannot read back
 * from netroot=iscsi:<user>:<secret>[:<in-user>:<in-secret>]@<server>:…: it takes the CHAP part
 * up to the first "@" (${v%%@*}), splits it at every ":" (IFS=: set $authinfo), and that
 * unquoted set also expands "*" into the names of files. The reasons name the rule only, never
 * the value: it may be a secret.
 */
const DRACUT_AUTH_RULES: Array<[RegExp, string]> = [
  [/@/, 'dracut cannot carry "@" here: its parse_iscsi_root ends the CHAP part of netroot= at the first "@"'],
  [/:/, 'dracut cannot carry ":" here: its parse_iscsi_root splits the CHAP part of netroot= at every ":"'],
  [/\*/, 'dracut cannot carry "*" here: its parse_iscsi_root splits the CHAP part with an unquoted shell "set", which expands "*" into file names'],
];

function dracutAuth(value: string, field: string, what: string): void {
  for (const [re, why] of DRACUT_AUTH_RULES) if (re.test(value)) throw new ScriptValueError(field, `${why}; use ${what} without it (and set the same on the NAS)`);
}

/** Target names parse_iscsi_root reads differently from what was written. */
function dracutTarget(name: string, field: string): void {
  if (!/^(iqn|eui|naa)\./.test(name)) throw new ScriptValueError(field, 'dracut finds the target in netroot= only after a lower-case "iqn.", "eui." or "naa."; write the type prefix in lower case');
  if (/:(iqn|eui|naa)\./.test(name)) throw new ScriptValueError(field, 'dracut takes the target name from the last ":iqn." (or ":eui.", ":naa.") in netroot=, so one inside the name cuts it short; use a genkernel or initramfs-tools station, or rename the target');
}

/** Checks a parameter string for the recipe's pitfalls (the verifier reuses this). */
export function checkKernelParams(params: string, expect: { address: string; initiator: string }): string[] {
  const problems: string[] = [];
  const words = params.split(/\s+/);
  if (!words.some((w) => w === 'ip=dhcp' || w.startsWith('ip=') || w === 'rd.iscsi.ibft=1')) problems.push('no ip=dhcp: the kernel has no network and cannot reach the target');
  const addr = words.find((w) => /^(iscsi_address|iscsi_target_ip)=/.test(w))?.split('=')[1] ?? /netroot=iscsi:(?:[^@]*@)?([^:]+):/.exec(params)?.[1];
  if (addr !== undefined && !/^\d{1,3}(\.\d{1,3}){3}$/.test(addr)) problems.push(`the target address ${addr} is a name: use the NAS IP`);
  if (addr !== undefined && addr !== expect.address) problems.push(`the target address is ${addr}, the NAS is ${expect.address}`);
  const ini = words.find((w) => /^(iscsi_initiatorname|iscsi_initiator|rd\.iscsi\.initiator)=/.test(w))?.split('=')[1];
  if (ini !== undefined && !sameIqn(ini, expect.initiator)) problems.push(`the initiator IQN ${ini} differs from iPXE's ${expect.initiator}`);
  return problems;
}

/** Options the recipe needs (step 3), with why. */
export const KERNEL_OPTIONS: Array<{ name: string; why: string; builtInOnly?: boolean; advised?: boolean }> = [
  { name: 'CONFIG_SCSI', why: 'SCSI device support' },
  { name: 'CONFIG_BLK_DEV_SD', why: 'SCSI disk support (the iSCSI disk is a SCSI disk)' },
  { name: 'CONFIG_ISCSI_TCP', why: 'iSCSI Initiator over TCP/IP' },
  { name: 'CONFIG_SCSI_ISCSI_ATTRS', why: 'iSCSI Transport Attributes' },
  { name: 'CONFIG_CRYPTO_CRC32C', why: 'CRC32c, for iSCSI digests' },
  { name: 'CONFIG_IP_PNP', why: 'IP kernel-level autoconfiguration (for ip=dhcp without an initramfs network)', advised: true, builtInOnly: true },
  { name: 'CONFIG_IP_PNP_DHCP', why: 'DHCP during boot (ip=dhcp)', advised: true, builtInOnly: true },
];

/** One line of the kernel check. */
export interface KernelCheck {
  name: string;
  why: string;
  state: 'built-in' | 'module' | 'missing';
  ok: boolean;
  note: string;
}

/** Reads a kernel .config and lists what the recipe needs: built in, module, or missing. */
export function checkKernelConfig(config: string): { checks: KernelCheck[]; hostname?: string | undefined; needsInitramfs: boolean } {
  const values = new Map<string, string>();
  for (const line of config.split('\n')) {
    const m = /^(CONFIG_[A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) values.set(m[1]!, m[2]!);
  }
  const checks: KernelCheck[] = KERNEL_OPTIONS.map((o) => {
    const v = values.get(o.name);
    const state: KernelCheck['state'] = v === 'y' ? 'built-in' : v === 'm' ? 'module' : 'missing';
    let ok = state !== 'missing';
    let note = state === 'built-in' ? 'built in' : state === 'module' ? 'module: the initramfs must load it (genkernel --iscsi)' : `missing: set ${o.name}=y${o.builtInOnly ? '' : ' (or =m with an iSCSI initramfs)'}`;
    if (o.builtInOnly && state === 'module') {
      ok = false;
      note = `must be built in (=y), not a module`;
    }
    if (o.advised && state === 'missing') note = `advised: set ${o.name}=y`;
    return { name: o.name, why: o.why, state, ok: ok || (o.advised === true && state === 'missing'), note };
  });
  const host = values.get('CONFIG_DEFAULT_HOSTNAME')?.replace(/^"|"$/g, '');
  return { checks, hostname: host, needsInitramfs: checks.some((c) => c.state === 'module' && !c.name.startsWith('CONFIG_IP_PNP')) };
}
