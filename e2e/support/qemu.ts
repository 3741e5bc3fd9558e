/**
 * QEMU boots for tests (TCG: no KVM here), through the app's own VM service. User-mode
 * networking runs with restrict=on inside an empty network namespace (`unshare -n`), so nothing
 * leaves; lab boots use a tap device on the lab bridge, QEMU inside the lab's switch namespace.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { VmBootResult } from '../../shared/vm';
import { QEMU, vmBoot } from '../../electron/services/vm/qemu';

export { QEMU };
export const haveQemu = () => existsSync(QEMU);

const legacy = (r: VmBootResult) => ({ found: r.ended === 'marker', output: r.console, ms: r.durationMs, result: r });

/** Boots a BIOS guest that netboots `bootfile` from `tftpDir` over QEMU's built-in DHCP/TFTP, with no network beyond. */
export async function bootSlirp(opts: { tftpDir: string; bootfile: string; until: RegExp; timeoutMs: number; mac?: string }) {
  return legacy(await vmBoot({ firmware: 'bios', mac: opts.mac ?? '52:54:00:12:34:56', network: { kind: 'user', tftpDir: opts.tftpDir, bootfile: opts.bootfile, restrict: true }, until: opts.until, timeoutMs: opts.timeoutMs, wrap: ['unshare', '-n'] }));
}

/** Makes a tap device on the lab bridge (in the switch namespace) for the duration of `fn`. */
export async function withLabTap<T>(lab: { namespaces: { switch: string } }, tap: string, fn: (wrap: string[]) => Promise<T>): Promise<T> {
  const ns = lab.namespaces.switch;
  const ip = (args: string[]) => execFileSync('ip', ['-n', ns, ...args], { stdio: 'ignore' });
  try {
    ip(['link', 'del', tap]);
  } catch {
    // not there
  }
  ip(['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
  ip(['link', 'set', tap, 'master', 'br0', 'up']);
  try {
    return await fn(['ip', 'netns', 'exec', ns]);
  } finally {
    try {
      ip(['link', 'del', tap]);
    } catch {
      // gone with QEMU
    }
  }
}

/** Boots a BIOS guest on the lab bridge: the lab's DHCP and TFTP servers answer it. */
export async function bootInLab(lab: { namespaces: { switch: string } }, opts: { mac: string; until: RegExp | undefined; timeoutMs: number; tap?: string; firmware?: 'bios' | 'uefi' }) {
  const tap = opts.tap ?? 'tapvm0';
  return withLabTap(lab, tap, async (wrap) => legacy(await vmBoot({ firmware: opts.firmware ?? 'bios', mac: opts.mac, network: { kind: 'tap', ifname: tap }, until: opts.until, timeoutMs: opts.timeoutMs, wrap })));
}
