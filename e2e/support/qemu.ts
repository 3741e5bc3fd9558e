/**
 * QEMU boots for tests (TCG: no KVM here). The guest's console is read from the serial port;
 * the run ends when the expected text appears, or at the deadline. User-mode networking runs
 * with restrict=on inside an empty network namespace (`unshare -n`), so nothing leaves.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export const QEMU = '/usr/bin/qemu-system-x86_64';
export const haveQemu = () => existsSync(QEMU);

/** Runs a guest until its console shows `until` or the deadline passes; the guest is then killed. */
function runUntil(cmd: string, args: string[], until: RegExp, timeoutMs: number): Promise<{ found: boolean; output: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let done = false;
    const finish = (found: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve({ found, output, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    const onData = (d: Buffer) => {
      output += d.toString('latin1');
      if (until.test(output)) finish(true);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', () => finish(until.test(output)));
  });
}

/** Boots a BIOS guest that netboots `bootfile` from `tftpDir` over QEMU's built-in DHCP/TFTP. */
export function bootSlirp(opts: { tftpDir: string; bootfile: string; until: RegExp; timeoutMs: number; mac?: string }): Promise<{ found: boolean; output: string; ms: number }> {
  const args = [
    '-n',
    QEMU,
    '-machine',
    'pc,accel=tcg',
    '-m',
    '256',
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    '-no-reboot',
    '-boot',
    'n',
    '-netdev',
    `user,id=n0,restrict=on,tftp=${opts.tftpDir},bootfile=${opts.bootfile}`,
    '-device',
    `e1000,netdev=n0,mac=${opts.mac ?? '52:54:00:12:34:56'}`,
  ];
  return runUntil('unshare', args, opts.until, opts.timeoutMs);
}

/**
 * Boots a BIOS guest on the lab bridge: a tap device in the lab's switch namespace, QEMU in that
 * namespace, its console (serial, and SeaBIOS's mirror of the screen) read from stdout.
 */
export async function bootInLab(lab: { namespaces: { switch: string } }, opts: { mac: string; until: RegExp; timeoutMs: number; tap?: string }): Promise<{ found: boolean; output: string; ms: number }> {
  const ns = lab.namespaces.switch;
  const tap = opts.tap ?? 'tapvm0';
  const ip = (args: string[]) => execFileSync('ip', ['-n', ns, ...args], { stdio: 'ignore' });
  try {
    ip(['link', 'del', tap]);
  } catch {
    // not there
  }
  ip(['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
  ip(['link', 'set', tap, 'master', 'br0', 'up']);
  const args = ['netns', 'exec', ns, QEMU, '-machine', 'pc,accel=tcg', '-m', '256', '-nographic', '-no-reboot', '-boot', 'n', '-netdev', `tap,id=n0,ifname=${tap},script=no,downscript=no`, '-device', `e1000,netdev=n0,mac=${opts.mac}`];
  try {
    return await runUntil('ip', args, opts.until, opts.timeoutMs);
  } finally {
    try {
      ip(['link', 'del', tap]);
    } catch {
      // gone with QEMU
    }
  }
}
