/**
 * A tgtd of a test's own in a lab host (addLabHost), so the test can set per-target iSCSI
 * parameters with tgtadm and kill the target mid-transfer without touching the lab's tgtd.
 */
import { execFile } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync, truncateSync } from 'node:fs';
import { promisify } from 'node:util';
import { listening, type LabHost } from './istgt';

const pexec = promisify(execFile);
const TGTD = '/usr/sbin/tgtd';
const TGTADM = '/usr/sbin/tgtadm';

/** A running tgtd on `ip:3260` with its own control port. */
export interface HostTgtd {
  ctl: number;
  portal: { host: string; port: number };
  tgtadm(args: string[]): Promise<string>;
  /**
   * A target `iqn` with a sparse `sizeMiB` file on LUN 1, open to all, with tgtadm target params
   * (iSCSI keys) and logical unit params (e.g. thin_provisioning=1).
   */
  addTarget(tid: number, iqn: string, file: string, sizeMiB: number, params?: Record<string, string | number>, lunParams?: string): Promise<void>;
  /** Stops tgtd (its own command: it ignores SIGTERM while targets exist) and removes its socket. */
  stop(): Promise<void>;
}

/** Starts tgtd in `host` on `ip`, on a free control port; resolves once the portal accepts connections. */
export async function startHostTgtd(host: LabHost, ip: string): Promise<HostTgtd> {
  let ctl = 4200 + (process.pid % 700);
  while (existsSync(`/var/run/tgtd/socket.${ctl}`)) ctl++;
  host.daemon(`tgtd${ctl}`, TGTD, ['-f', '-C', String(ctl), '--iscsi', `portal=${ip}:3260`]);
  const tgtadm = async (args: string[]) => (await pexec(TGTADM, ['-C', String(ctl), '--lld', 'iscsi', ...args])).stdout;
  const until = Date.now() + 10_000;
  for (;;) {
    const ok = await tgtadm(['--op', 'show', '--mode', 'target']).then(() => true, () => false);
    if (ok && (await listening(ip, 3260))) break;
    if (Date.now() > until) throw new Error(`tgtd (control port ${ctl}) did not come up on ${ip}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    ctl,
    portal: { host: ip, port: 3260 },
    tgtadm,
    async addTarget(tid, iqn, file, sizeMiB, params = {}, lunParams) {
      closeSync(openSync(file, 'w'));
      truncateSync(file, sizeMiB << 20);
      await tgtadm(['--op', 'new', '--mode', 'target', '--tid', String(tid), '-T', iqn]);
      await tgtadm(['--op', 'new', '--mode', 'logicalunit', '--tid', String(tid), '--lun', '1', '-b', file]);
      if (lunParams) await tgtadm(['--op', 'update', '--mode', 'logicalunit', '--tid', String(tid), '--lun', '1', '--params', lunParams]);
      await tgtadm(['--op', 'bind', '--mode', 'target', '--tid', String(tid), '-I', 'ALL']);
      for (const [k, v] of Object.entries(params)) await tgtadm(['--op', 'update', '--mode', 'target', '--tid', String(tid), '--name', k, '--value', String(v)]);
    },
    async stop() {
      await pexec(TGTADM, ['-C', String(ctl), '--op', 'delete', '--mode', 'system']).catch(() => undefined);
      for (const f of [`/var/run/tgtd/socket.${ctl}`, `/var/run/tgtd/socket.${ctl}.lock`]) rmSync(f, { force: true });
    },
  };
}
