/**
 * The real DHCP daemons' own syntax checks (dnsmasq --test, dhcpd -t, kea-dhcp4 -t) over a
 * config text, for the tests that must show a generated file is one the daemon accepts.
 * Nothing is started: each check parses the file and exits.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const pexec = promisify(execFile);
let dir: string | undefined;

/** Writes `text` to a temporary file and runs `bin` with `args(file)`: exit code and output. */
export async function daemonCheck(bin: string, args: (file: string) => string[], text: string, name: string): Promise<{ code: number; out: string }> {
  dir ??= mkdtempSync(path.join(os.tmpdir(), 'bc-dhcp-'));
  const file = path.join(dir, name);
  writeFileSync(file, text);
  try {
    const r = await pexec(bin, args(file));
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout + x.stderr };
  }
}

/** Whether a daemon is installed; when not, prints the SKIP reason. */
export function haveDaemon(bin: string): boolean {
  const ok = existsSync(bin);
  if (!ok) process.stdout.write(`SKIP ${path.basename(bin)} check: ${bin} is not installed (.ci/run installs it)\n`);
  return ok;
}

/** The daemon that checks each generated DHCP file, and how its verdict reads. */
export const DAEMON_CHECKS = {
  dnsmasq: { bin: '/usr/sbin/dnsmasq', args: (f: string) => ['--test', '-C', f], ok: (r: { code: number; out: string }) => r.code === 0 && r.out.includes('syntax check OK') },
  isc: { bin: '/usr/sbin/dhcpd', args: (f: string) => ['-t', '-cf', f], ok: (r: { code: number; out: string }) => r.code === 0 && !/error|expecting/i.test(r.out) },
  kea: { bin: '/usr/sbin/kea-dhcp4', args: (f: string) => ['-t', f], ok: (r: { code: number; out: string }) => r.code === 0 && !/ERROR|FATAL/.test(r.out) },
} as const;
