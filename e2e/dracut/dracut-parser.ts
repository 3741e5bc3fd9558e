/**
 * Runs dracut's own parse_iscsi_root, as installed by Debian's dracut-network package, with
 * /bin/sh on a netroot= value and returns what it set, so tests see how a dracut initramfs reads
 * the parameters Bootchain writes. dracut's code is loaded from the installed file at test time,
 * never copied into this repository. The netroot travels as an argument, never in a script.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const pexec = promisify(execFile);

/** Where dracut-network installs parse_iscsi_root (dracut 059: modules.d/40network/net-lib.sh). */
export const DRACUT_NET_LIB = '/usr/lib/dracut/modules.d/40network/net-lib.sh';
/** The Debian package that ships it (.ci/run installs it). */
export const DRACUT_PACKAGE = 'dracut-network';

/** The variables parse_iscsi_root sets (iscsiroot.sh hands them to iscsiadm). */
export interface DracutNetroot {
  /** parse_iscsi_root's exit status: 0 read, 1 refused (with a warning). */
  rc: number;
  username: string;
  password: string;
  inUsername: string;
  inPassword: string;
  targetIp: string;
  port: string;
  lun: string;
  targetName: string;
  iface: string;
  netdev: string;
  warnings: string;
}

const VARS = ['iscsi_username', 'iscsi_password', 'iscsi_in_username', 'iscsi_in_password', 'iscsi_target_ip', 'iscsi_target_port', 'iscsi_lun', 'iscsi_target_name', 'iscsi_iface_name', 'iscsi_netdev_name'] as const;

// net-lib.sh is sourced whole: at top level it only sets IFNETFILE and defines functions (and
// hostname() where no hostname command exists); it does not source dracut-lib.sh. Of
// dracut-lib's functions parse_iscsi_root calls only warn(), so that is the one stub, writing to
// stderr. Values come back NUL-separated.
const SCRIPT = [
  "warn() { printf 'warn: %s\\n' \"$*\" >&2; }",
  '. "$DRACUT_NET_LIB"',
  'parse_iscsi_root "$1"',
  'rc=$?',
  `printf '%s\\0' "$rc" ${VARS.map((v) => `"\${${v}-}"`).join(' ')}`,
].join('\n');

/** Why the parser cannot run here, or undefined. */
export function dracutParserMissing(): string | undefined {
  if (!existsSync('/bin/sh')) return "no /bin/sh to run dracut's shell code with";
  if (!existsSync(DRACUT_NET_LIB)) return `${DRACUT_NET_LIB} is missing (install the Debian package ${DRACUT_PACKAGE})`;
  if (!/^parse_iscsi_root\(\) \{$/m.test(readFileSync(DRACUT_NET_LIB, 'utf8'))) return `${DRACUT_NET_LIB} defines no parse_iscsi_root (this test expects the one of ${DRACUT_PACKAGE}, dracut 059)`;
  return undefined;
}

/** Runs parse_iscsi_root on `netroot` (the value after "netroot="), in `cwd` if given. */
export async function dracutParse(netroot: string, cwd?: string): Promise<DracutNetroot> {
  const r = await pexec('/bin/sh', ['-c', SCRIPT, 'sh', netroot], { env: { PATH: '/usr/bin:/bin', DRACUT_NET_LIB }, ...(cwd ? { cwd } : {}) });
  const f = r.stdout.split('\0');
  const v = (i: number) => f[i + 1] ?? '';
  return { rc: Number(f[0]), username: v(0), password: v(1), inUsername: v(2), inPassword: v(3), targetIp: v(4), port: v(5), lun: v(6), targetName: v(7), iface: v(8), netdev: v(9), warnings: r.stderr };
}

/** The netroot= value of a dracut parameter line. */
export function netrootOf(params: string): string {
  const w = params.split(/\s+/).find((x) => x.startsWith('netroot='));
  if (!w) throw new Error(`no netroot= in ${params.replace(/(iscsi:)[^@\s]*@/, '$1***@')}`);
  return w.slice('netroot='.length);
}
