/**
 * Runs dracut's own parse_iscsi_root (the fixture beside this file, copied from dracut-ng) with
 * /bin/sh on a netroot= value and returns what it set, so tests see how a dracut initramfs
 * reads the parameters Bootchain writes. The netroot travels as an argument, never in a script.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const pexec = promisify(execFile);

/** The fixture: dracut's function under a header naming its source, commit and licence. */
export const DRACUT_FIXTURE = path.join(import.meta.dirname, 'parse_iscsi_root.sh');

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

// warn() is dracut-lib's; a stand-in writes to stderr. Values come back NUL-separated.
const SCRIPT = [
  "warn() { printf 'warn: %s\\n' \"$*\" >&2; }",
  '. "$DRACUT_FIXTURE"',
  'parse_iscsi_root "$1"',
  'rc=$?',
  `printf '%s\\0' "$rc" ${VARS.map((v) => `"\${${v}-}"`).join(' ')}`,
].join('\n');

/** Why the parser cannot run here, or undefined. */
export function dracutParserMissing(): string | undefined {
  if (!existsSync('/bin/sh')) return 'no /bin/sh to run dracut\'s shell code with';
  if (!existsSync(DRACUT_FIXTURE)) return `${DRACUT_FIXTURE} is missing`;
  return undefined;
}

/** Runs parse_iscsi_root on `netroot` (the value after "netroot="), in `cwd` if given. */
export async function dracutParse(netroot: string, cwd?: string): Promise<DracutNetroot> {
  const r = await pexec('/bin/sh', ['-c', SCRIPT, 'sh', netroot], { env: { PATH: '/usr/bin:/bin', DRACUT_FIXTURE }, ...(cwd ? { cwd } : {}) });
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

/** parse_iscsi_root as it is in a dracut checkout (DRACUT_SRC), to compare the fixture with. */
export function upstreamFunction(src: string): string | undefined {
  const mods = path.join(src, 'modules.d');
  if (!existsSync(mods)) return undefined;
  for (const d of readdirSync(mods)) {
    const f = path.join(mods, d, 'net-lib.sh');
    if (!existsSync(f)) continue;
    const m = /^parse_iscsi_root\(\) \{\n[\s\S]*?\n\}\n/m.exec(readFileSync(f, 'utf8'));
    if (m) return m[0];
  }
  return undefined;
}

/** The function as the fixture holds it (without the header). */
export function fixtureFunction(): string {
  const text = readFileSync(DRACUT_FIXTURE, 'utf8');
  return text.slice(text.indexOf('parse_iscsi_root() {'));
}
