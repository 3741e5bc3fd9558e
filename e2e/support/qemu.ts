/**
 * QEMU boots for tests (TCG: no KVM here). The guest's console is read from the serial port;
 * the run ends when the expected text appears, or at the deadline. User-mode networking runs
 * with restrict=on inside an empty network namespace (`unshare -n`), so nothing leaves.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export const QEMU = '/usr/bin/qemu-system-x86_64';
export const haveQemu = () => existsSync(QEMU);

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
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn('unshare', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let done = false;
    const finish = (found: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve({ found, output, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish(false), opts.timeoutMs);
    const onData = (d: Buffer) => {
      output += d.toString('latin1');
      if (opts.until.test(output)) finish(true);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', () => finish(opts.until.test(output)));
  });
}
