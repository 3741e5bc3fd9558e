/**
 * The recipe's own way of putting the OS on the disk, for users who prefer it: attach the
 * workstation's target on their own Linux machine with open-iscsi (iscsiadm(8)), logged in as
 * the workstation, install onto the disk it shows, log out. The commands carry the project's
 * names; an iscsiadm "iface" gives the session the workstation's initiator IQN without touching
 * the machine's own /etc/iscsi/initiatorname.iscsi. The CHAP secret is read into a shell
 * variable (not echoed, not in the shell's history) unless the user asks to see it filled in.
 */
import { checkIqn } from '../model/iqn';
import type { Project, Workstation } from '../model/project';

export interface IscsiadmStep {
  /** What the step does, in words. */
  what: string;
  /** The argument vector (tests run it; the secret as the placeholder unless revealed). */
  argv: string[];
  /** The line to paste into a shell. */
  command: string;
}

export interface IscsiadmHelp {
  steps: IscsiadmStep[];
  /** One script to copy. */
  script: string;
  /** Notes for the user (where the disk appears, what to pick in the installer). */
  notes: string[];
}

/** The iface the commands create (iscsiadm: letters, digits, "-", "_"). */
export const BOOTCHAIN_IFACE = 'bootchain';

/** A word for POSIX sh: bare when it is plainly safe, else single-quoted ("'" written as '\''). */
export function shellWord(s: string): string {
  if (/^[A-Za-z0-9_.:,/@%+=-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The shell variable that holds a secret the user types at the prompt. */
const SECRET_VAR = { initiator: 'CHAP_SECRET', mutual: 'CHAP_MUTUAL_SECRET' } as const;

/**
 * open-iscsi commands for workstation `w` of project `p`. `secrets` (by reference) fill the CHAP
 * secret in only when given: otherwise the script asks for it (echo off).
 */
export function iscsiadmHelp(p: Pick<Project, 'nas'>, w: Workstation, secrets?: Record<string, string>): IscsiadmHelp {
  for (const [what, v] of [
    ['target', w.target],
    ['initiator', w.initiatorIqn],
  ] as const) {
    const c = checkIqn(v);
    if (!c.ok) throw new Error(`the workstation's ${what} name cannot go into a command: ${c.reason}`);
  }
  const portalOf = w.portals?.[0] ?? { address: p.nas.address, port: p.nas.iscsiPort };
  const portal = `${portalOf.address}:${portalOf.port}`;
  const node = ['-m', 'node', '-T', w.target, '-p', portal, '-I', BOOTCHAIN_IFACE];
  const steps: IscsiadmStep[] = [];
  const add = (what: string, argv: string[], shown?: string[]) => steps.push({ what, argv, command: (shown ?? argv).map((a) => (a.startsWith('"$') ? a : shellWord(a))).join(' ') });
  const sudo = (args: string[]) => ['sudo', 'iscsiadm', ...args];
  add(`An iSCSI interface record that logs in as ${w.name} (${w.initiatorIqn}), leaving this machine's own initiator name alone`, sudo(['-m', 'iface', '-I', BOOTCHAIN_IFACE, '-o', 'new']));
  add('Give it the workstation\'s initiator name (the NAS allows this name)', sudo(['-m', 'iface', '-I', BOOTCHAIN_IFACE, '-o', 'update', '-n', 'iface.initiatorname', '-v', w.initiatorIqn]));
  add(`Ask the NAS at ${portal} which targets it offers (${w.target} should be listed)`, sudo(['-m', 'discovery', '-t', 'sendtargets', '-p', portal, '-I', BOOTCHAIN_IFACE]));
  const secretArg = (ref: string, kind: keyof typeof SECRET_VAR) => {
    const v = secrets?.[ref];
    return v !== undefined ? { argv: v, shown: v } : { argv: `"$${SECRET_VAR[kind]}"`, shown: `"$${SECRET_VAR[kind]}"` };
  };
  const update = (name: string, value: string) => [...node, '-o', 'update', '-n', name, '-v', value];
  if (w.chap) {
    add('Log in with CHAP', sudo(update('node.session.auth.authmethod', 'CHAP')));
    add('CHAP user name', sudo(update('node.session.auth.username', w.chap.username)));
    const s = secretArg(w.chap.secretRef, 'initiator');
    add('CHAP secret', sudo(update('node.session.auth.password', s.argv)), sudo(update('node.session.auth.password', s.shown)));
    if (w.chap.mutual) {
      add('Mutual CHAP: the user name the NAS proves itself with', sudo(update('node.session.auth.username_in', w.chap.mutual.username)));
      const m = secretArg(w.chap.mutual.secretRef, 'mutual');
      add('Mutual CHAP: the NAS\'s secret', sudo(update('node.session.auth.password_in', m.argv)), sudo(update('node.session.auth.password_in', m.shown)));
    }
  }
  add('Log in: the disk appears as a new /dev/sdX', sudo([...node, '--login']));
  add('See which /dev/sdX it became ("Attached scsi disk sdX")', sudo(['-m', 'session', '-P3']));
  add('When the installer is done: log out', sudo([...node, '--logout']));
  const asks: string[] = [];
  // POSIX sh has no `read -s`: the terminal's echo is turned off around a plain read instead.
  const ask = (prompt: string, v: string) => `printf '${prompt}: ' >&2; stty -echo 2>/dev/null || true; read -r ${v}; stty echo 2>/dev/null || true; echo >&2`;
  if (w.chap && secrets?.[w.chap.secretRef] === undefined) asks.push(ask(`CHAP secret of ${w.chap.username}`, SECRET_VAR.initiator));
  if (w.chap?.mutual && secrets?.[w.chap.mutual.secretRef] === undefined) asks.push(ask('Mutual CHAP secret of the NAS', SECRET_VAR.mutual));
  const body = steps.slice(0, -1).flatMap((s) => [`# ${s.what}`, s.command]);
  const script = ['#!/bin/sh', `# Attach ${w.name}'s disk (${w.target} LUN ${w.lun}) with open-iscsi, as ${w.name} would`, 'set -e', ...asks, ...body, `# ${steps.at(-1)!.what}:`, `# ${steps.at(-1)!.command}`, ''].join('\n');
  const notes = [
    `LUN ${w.lun} is the workstation's disk${w.lun === 1 ? ' (LUN 0 of tgt is its controller, not a disk)' : ''}: install onto the /dev/sdX that iscsiadm -m session -P3 names for it, nothing else.`,
    `Install for ${w.firmware === 'uefi' ? 'UEFI: a GPT with an EFI system partition holding \\EFI\\BOOT\\BOOTX64.EFI (grub-install --removable)' : 'BIOS: a boot loader in the disk\'s MBR (grub-install --target=i386-pc /dev/sdX)'}.`,
    'Needs open-iscsi (Debian/Ubuntu: sudo apt-get install open-iscsi; Fedora: iscsi-initiator-utils) and its iscsid running (sudo systemctl start iscsid).',
  ];
  return { steps, script, notes };
}
