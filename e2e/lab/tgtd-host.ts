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

/** How a test's target looks: its LUN 1's options, target parameters and the CHAP account bound to it. */
export interface TgtTargetOptions {
  params?: Record<string, string | number> | undefined;
  /** Logical unit params (e.g. thin_provisioning=1). */
  lunParams?: string | undefined;
  /** The LUN's block size (tgt's default 512). */
  blockSize?: number | undefined;
  /** A CHAP account (made before) bound to the target. */
  user?: string | undefined;
}

/**
 * Adds target `tid` named `iqn` through a tgtadm (the lab NAS's or a test's own tgtd): a sparse
 * `sizeMiB` file on LUN 1 (`file` created unless `keepFile`), open to every initiator.
 */
export async function addTgtTarget(tgtadm: (args: string[]) => Promise<unknown>, tid: number, iqn: string, file: string, sizeMiB: number, o: TgtTargetOptions & { keepFile?: boolean } = {}): Promise<void> {
  if (!o.keepFile) {
    closeSync(openSync(file, 'w'));
    truncateSync(file, sizeMiB << 20);
  }
  const t = ['--tid', String(tid)];
  await tgtadm(['--op', 'new', '--mode', 'target', ...t, '-T', iqn]);
  await tgtadm(['--op', 'new', '--mode', 'logicalunit', ...t, '--lun', '1', '-b', file, ...(o.blockSize ? [`--blocksize=${o.blockSize}`] : [])]);
  if (o.lunParams) await tgtadm(['--op', 'update', '--mode', 'logicalunit', ...t, '--lun', '1', '--params', o.lunParams]);
  await tgtadm(['--op', 'bind', '--mode', 'target', ...t, '-I', 'ALL']);
  for (const [k, v] of Object.entries(o.params ?? {})) await tgtadm(['--op', 'update', '--mode', 'target', ...t, '--name', k, '--value', String(v)]);
  if (o.user) await tgtadm(['--op', 'bind', '--mode', 'account', ...t, '--user', o.user]);
}

/** The lab NAS's tgtd (its first instance), for tests that add targets of their own to it. */
export const labTgtadm = (ctl: number) => (args: string[]) => pexec(TGTADM, ['-C', String(ctl), '--lld', 'iscsi', ...args]);

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
      await addTgtTarget(tgtadm, tid, iqn, file, sizeMiB, { params, lunParams });
    },
    async stop() {
      await pexec(TGTADM, ['-C', String(ctl), '--op', 'delete', '--mode', 'system']).catch(() => undefined);
      for (const f of [`/var/run/tgtd/socket.${ctl}`, `/var/run/tgtd/socket.${ctl}.lock`]) rmSync(f, { force: true });
    },
  };
}
