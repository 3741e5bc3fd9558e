/**
 * VM test boot: a QEMU virtual workstation with the workstation's MAC and firmware (SeaBIOS, or
 * OVMF for UEFI) netboots, its console is captured, and the run reports how far it got: firmware,
 * iPXE banner, DHCP, scripts fetched, "Booting from SAN device", the OS's first output.
 *
 * Networks: `user` — QEMU's own DHCP and TFTP from a folder (an offline dry run of the scripts and
 * the iSCSI login; the NAS is reached through QEMU's NAT); `tap` — an existing tap device the user
 * created and may use (e.g. `ip tuntap add tap0 mode tap user $USER`, added to the LAN bridge), so
 * the real DHCP and TFTP servers answer. No shell strings: argument arrays.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appError, BootchainError, fail } from '../../../shared/errors';
import type { VmBootResult, VmStage, VmStageId } from '../../../shared/vm';

export const QEMU = '/usr/bin/qemu-system-x86_64';
const OVMF = ['/usr/share/OVMF/OVMF_CODE.fd', '/usr/share/ovmf/OVMF.fd', '/usr/share/qemu/OVMF.fd'];

export type VmNetwork = { kind: 'user'; tftpDir: string; bootfile: string; restrict?: boolean } | { kind: 'tap'; ifname: string };

export interface VmBootOptions {
  firmware: 'bios' | 'uefi';
  mac: string;
  network: VmNetwork;
  timeoutMs: number;
  /** Stop when the console shows this (e.g. the OS's first line); default: a short while after "Booting from SAN device". */
  until?: RegExp | undefined;
  signal?: AbortSignal | undefined;
  onStage?: ((s: VmStage) => void) | undefined;
  /** Command prefix (tests run QEMU inside a lab namespace: ['ip', 'netns', 'exec', NS]). */
  wrap?: string[] | undefined;
  qemu?: string | undefined;
}

/** A console line without terminal escapes and control characters. */
const plain = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\x1b[()][A-Za-z0-9]/g, '').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '').trim();

/** Console patterns of each stage, in boot order. */
const STAGES: Array<{ id: VmStageId; re: RegExp; what: string }> = [
  { id: 'firmware', re: /SeaBIOS|BdsDxe|UEFI|Booting from ROM|iPXE \(http/i, what: 'firmware started' },
  { id: 'ipxe', re: /iPXE \d+\.\d+|iPXE initialising|Open Source Network Boot Firmware/, what: 'iPXE is running' },
  { id: 'dhcp', re: /Configuring \(net\d|DHCP \(net\d| ok\r?\n.*(?:tftp|http):\/\/|Bootchain: asking DHCP/i, what: 'DHCP answered' },
  { id: 'script', re: /\.ipxe|Bootchain: loading/, what: 'boot scripts fetched' },
  { id: 'sanboot', re: /Booting from SAN device|Registered SAN device|Bootchain: booting/, what: 'SAN boot started' },
  { id: 'booted', re: /(?!)/, what: "the disk's boot code runs" },
];

export function findOvmf(): string | undefined {
  return OVMF.find((f) => existsSync(f));
}

/** The QEMU argument list for a boot. */
export function qemuArgs(o: VmBootOptions): string[] {
  const nic = o.firmware === 'uefi' ? 'virtio-net-pci' : 'e1000';
  // -nographic: no VGA, the serial port on stdout, and QEMU tells SeaBIOS (etc/sercon-port) to
  // send its text — and iPXE's, which prints through it — to the serial port.
  const args = ['-machine', 'pc,accel=tcg', '-m', o.firmware === 'uefi' ? '512' : '256', '-nographic', '-no-reboot', '-boot', 'n'];
  if (o.firmware === 'uefi') {
    const ovmf = findOvmf();
    if (!ovmf) fail('TOOL_MISSING', 'UEFI test boots need OVMF, which is not installed', { hint: 'Install it: sudo apt-get install ovmf (Debian/Ubuntu), or boot the workstation as BIOS.' });
    args.push('-bios', ovmf);
  }
  if (o.network.kind === 'user') {
    args.push('-netdev', `user,id=n0${o.network.restrict ? ',restrict=on' : ''},tftp=${o.network.tftpDir},bootfile=${o.network.bootfile}`);
  } else {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(o.network.ifname)) fail('INVALID_INPUT', `"${o.network.ifname}" is not a network interface name`);
    args.push('-netdev', `tap,id=n0,ifname=${o.network.ifname},script=no,downscript=no`);
  }
  args.push('-device', `${nic},netdev=n0,mac=${o.mac}`);
  return args;
}

/** Boots the virtual workstation and reports the stages it reached. */
export function vmBoot(o: VmBootOptions): Promise<VmBootResult> {
  const qemu = o.qemu ?? QEMU;
  if (!existsSync(qemu)) fail('TOOL_MISSING', 'QEMU is not installed', { hint: 'Install it: sudo apt-get install qemu-system-x86 (and ovmf for UEFI).' });
  if (o.network.kind === 'user' && !existsSync(o.network.tftpDir)) fail('NOT_FOUND', `The TFTP folder ${o.network.tftpDir} does not exist`);
  const args = qemuArgs(o);
  const [cmd, ...pre] = o.wrap && o.wrap.length > 0 ? [...o.wrap, qemu] : [qemu];
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(cmd!, [...pre, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const stages: VmStage[] = [];
    let done = false;
    let grace: NodeJS.Timeout | undefined;
    const finish = (why: VmBootResult['ended'], error?: BootchainError) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(grace);
      o.signal?.removeEventListener('abort', onAbort);
      child.kill('SIGKILL');
      if (error) return reject(error);
      const last = stages.at(-1);
      resolve({ ended: why, reached: last?.id ?? 'started', stages, console: out.slice(-64 * 1024), durationMs: Date.now() - t0 });
    };
    const reach = (id: VmStageId, line: string) => {
      if (stages.some((s) => s.id === id)) return;
      const def = STAGES.find((s) => s.id === id)!;
      // Earlier stages are implied by a later one (a console may not show every banner).
      for (const s of STAGES.slice(0, STAGES.indexOf(def))) if (!stages.some((x) => x.id === s.id)) stages.push({ id: s.id, what: s.what, atMs: Date.now() - t0, line: '(implied)' });
      const st = { id, what: def.what, atMs: Date.now() - t0, line: plain(line).slice(0, 200) };
      stages.push(st);
      o.onStage?.(st);
    };
    const onData = (d: Buffer) => {
      const text = d.toString('latin1');
      out += text;
      if (out.length > 1 << 20) out = out.slice(-(512 << 10));
      const lines = out.split(/\r?\n/);
      for (const s of STAGES) {
        if (stages.some((x) => x.id === s.id)) continue;
        const line = lines.find((l) => s.re.test(l));
        if (line !== undefined) reach(s.id, line);
      }
      if (o.until?.test(out)) {
        reach('booted', lines.find((l) => o.until!.test(l)) ?? '');
        finish('marker');
      } else if (!o.until && stages.some((s) => s.id === 'sanboot') && !grace) {
        // Without a marker: what the disk prints in the next seconds is "the OS's first output".
        const mark = out.length;
        grace = setTimeout(() => {
          const after = out
            .slice(mark)
            .split(/\r?\n/)
            .slice(1)
            .map(plain)
            .filter((l) => l !== '');
          if (after.length > 0 && !/Could not boot|No bootable device|Boot failed/i.test(after.join('\n'))) reach('booted', after.at(-1)!);
          finish('settled');
        }, 8000);
      }
      if (/Could not boot|No bootable device|Boot failed: /i.test(text) && !grace) finish('failed');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      onData(d);
    });
    child.on('error', (e) => finish('failed', new BootchainError(appError('COMMAND_FAILED', `QEMU did not start: ${e.message}`))));
    child.on('close', (code) => {
      if (done) return;
      if (code !== 0 && stages.length === 0) return finish('failed', new BootchainError(appError('COMMAND_FAILED', `QEMU exited with ${code}: ${err.trim().split('\n').slice(-3).join(' ')}`, { hint: o.network.kind === 'tap' ? `The tap device ${o.network.ifname} must exist and belong to this user: grant it once under Rights in the Verify step (or bootchain privileges grant tap --tap ${o.network.ifname} --bridge YOUR_BRIDGE).` : undefined })));
      finish('exited');
    });
    const timer = setTimeout(() => finish('timeout'), o.timeoutMs);
    const onAbort = () => finish('failed', new BootchainError(appError('CANCELLED', 'Test boot cancelled')));
    o.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
