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
import { VM_STAGES, type VmBootResult, type VmStage, type VmStageId } from '../../../shared/vm';
import { readConsole, type ConsoleContext, type ConsoleReading } from './console';

export const QEMU = '/usr/bin/qemu-system-x86_64';
const OVMF = ['/usr/share/OVMF/OVMF_CODE.fd', '/usr/share/ovmf/OVMF.fd', '/usr/share/qemu/OVMF.fd'];

export type VmNetwork = { kind: 'user'; tftpDir: string; bootfile: string; restrict?: boolean } | { kind: 'tap'; ifname: string };

export interface VmBootOptions {
  firmware: 'bios' | 'uefi';
  mac: string;
  network: VmNetwork;
  timeoutMs: number;
  /** Stop when the console shows this (the disk's marker; "booted" whatever QEMU does next); default: a short while after the disk's first output. */
  until?: RegExp | undefined;
  /** What is known about the iPXE binaries that may run (to say which one did). */
  console?: Omit<ConsoleContext, 'marker' | 'final'> | undefined;
  signal?: AbortSignal | undefined;
  onStage?: ((s: VmStage) => void) | undefined;
  /** Command prefix (tests run QEMU inside a lab namespace: ['ip', 'netns', 'exec', NS]). */
  wrap?: string[] | undefined;
  qemu?: string | undefined;
}

export function findOvmf(): string | undefined {
  return OVMF.find((f) => existsSync(f));
}

/** The NIC QEMU gives a virtual workstation: e1000 for BIOS (its iPXE ROM is the common one), virtio-net for UEFI. */
export function nicModel(firmware: 'bios' | 'uefi'): string {
  return firmware === 'uefi' ? 'virtio-net-pci' : 'e1000';
}

/** The firmware arguments: OVMF as -bios for UEFI (TOOL_MISSING when it is not installed), none for BIOS (QEMU's SeaBIOS). */
export function firmwareArgs(firmware: 'bios' | 'uefi'): string[] {
  if (firmware !== 'uefi') return [];
  const ovmf = findOvmf();
  if (!ovmf) fail('TOOL_MISSING', 'UEFI test boots need OVMF, which is not installed', { hint: 'Install it: sudo apt-get install ovmf (Debian/Ubuntu), or boot the workstation as BIOS.' });
  return ['-bios', ovmf];
}

/** The -netdev value for an existing tap device, its name checked (it goes into QEMU's option string). */
export function tapNetdev(ifname: string): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(ifname)) fail('INVALID_INPUT', `"${ifname}" is not a network interface name`);
  return `tap,id=n0,ifname=${ifname},script=no,downscript=no`;
}

/** The QEMU argument list for a boot. */
export function qemuArgs(o: VmBootOptions): string[] {
  const nic = nicModel(o.firmware);
  // -nographic: no VGA, the serial port on stdout, and QEMU tells SeaBIOS (etc/sercon-port) to
  // send its text — and iPXE's, which prints through it — to the serial port.
  const args = ['-machine', 'pc,accel=tcg', '-m', o.firmware === 'uefi' ? '512' : '256', '-nographic', '-no-reboot', '-boot', 'n'];
  args.push(...firmwareArgs(o.firmware));
  if (o.network.kind === 'user') {
    args.push('-netdev', `user,id=n0${o.network.restrict ? ',restrict=on' : ''},tftp=${o.network.tftpDir},bootfile=${o.network.bootfile}`);
  } else {
    args.push('-netdev', tapNetdev(o.network.ifname));
  }
  args.push('-device', `${nic},netdev=n0,mac=${o.mac}`);
  return args;
}

/** Boots the virtual workstation and reports the stages it reached, from its console. */
export function vmBoot(o: VmBootOptions): Promise<VmBootResult> {
  const qemu = o.qemu ?? QEMU;
  if (!existsSync(qemu)) fail('TOOL_MISSING', 'QEMU is not installed', { hint: 'Install it: sudo apt-get install qemu-system-x86 (and ovmf for UEFI).' });
  if (o.network.kind === 'user' && !existsSync(o.network.tftpDir)) fail('NOT_FOUND', `The TFTP folder ${o.network.tftpDir} does not exist`);
  const args = qemuArgs(o);
  const [cmd, ...pre] = o.wrap && o.wrap.length > 0 ? [...o.wrap, qemu] : [qemu];
  const ctx: ConsoleContext = { ...o.console, marker: o.until };
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(cmd!, [...pre, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    // The whole console (a boot prints a few KiB; a runaway keeps its first and last MiB).
    let head = '';
    let tail = '';
    const consoleText = () => head + tail;
    let err = '';
    const atMs = new Map<VmStageId, number>();
    let ended: VmBootResult['ended'] | undefined;
    let error: BootchainError | undefined;
    let closed = false;
    const timers: NodeJS.Timeout[] = [];
    const later = (ms: number, fn: () => void) => timers.push(setTimeout(fn, ms));
    /** Stop QEMU; the verdict is read once it has closed its output (all of the console is in). */
    const stop = (why: VmBootResult['ended'], e?: BootchainError) => {
      if (ended) return;
      ended = why;
      error = e;
      child.kill('SIGKILL');
      // A wrapper (ip netns exec, unshare) that outlives QEMU must not hold the result back.
      later(3000, settle);
    };
    const emit = (r: ConsoleReading) => {
      for (const st of r.stages) {
        if (atMs.has(st.id)) continue;
        atMs.set(st.id, Date.now() - t0);
        o.onStage?.(stageOf(st, atMs.get(st.id)!));
      }
    };
    let lastRead = 0;
    let pending: NodeJS.Timeout | undefined;
    let sanbootTimer = false;
    let bootedTimer = false;
    let failing = false;
    /** Reads the console so far: stages as they show, and whether the run is over. */
    const look = () => {
      pending = undefined;
      lastRead = Date.now();
      if (ended) return;
      const r = readConsole(consoleText(), ctx);
      emit(r);
      const reached = new Set(r.stages.map((s) => s.id));
      if (o.until && reached.has('booted')) return stop('marker');
      // A failed step may be retried (the embedded script asks DHCP three times): stop only when
      // the firmware gives up or iPXE waits at its shell.
      if (/^(No bootable device|Boot failed: |BdsDxe: No bootable option|iPXE>)/m.test(r.screen) && !failing) {
        failing = true;
        later(1000, () => stop('failed')); // a moment for the reason to print
      } else if (!o.until && reached.has('booted') && !bootedTimer) {
        bootedTimer = true;
        later(5000, () => stop('settled')); // a little more of the disk's output (or QEMU ends first: the verdict reads all of it)
      } else if (!o.until && reached.has('sanboot') && !sanbootTimer) {
        sanbootTimer = true;
        later(8000, () => stop('settled')); // the disk had this long to print something
      }
    };
    const onData = (d: Buffer) => {
      const text = d.toString('latin1');
      if (head.length < 1 << 20) head += text;
      else tail = (tail + text).slice(-(1 << 20));
      if (!pending) pending = setTimeout(look, Math.max(0, 100 - (Date.now() - lastRead)));
    };
    /** The verdict, from the whole console. */
    const settle = () => {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t);
      clearTimeout(pending);
      o.signal?.removeEventListener('abort', onAbort);
      if (error) return reject(error);
      const r = readConsole(consoleText(), { ...ctx, final: true });
      emit(r);
      const why = o.until && r.stages.some((s) => s.id === 'booted') ? 'marker' : (ended ?? 'exited');
      resolve({
        ended: why,
        reached: r.stages.at(-1)?.id ?? 'started',
        stages: r.stages.map((st) => stageOf(st, atMs.get(st.id) ?? Date.now() - t0)),
        ...(r.failure ? { failure: r.failure } : {}),
        ipxe: r.ipxe,
        console: r.screen.slice(-64 * 1024),
        durationMs: Date.now() - t0,
      });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      onData(d);
    });
    child.on('error', (e) => {
      stop('failed', new BootchainError(appError('COMMAND_FAILED', `QEMU did not start: ${e.message}`)));
      settle();
    });
    child.on('close', (code) => {
      if (!ended && code !== 0 && readConsole(consoleText()).stages.length === 0) {
        ended = 'failed';
        error = new BootchainError(appError('COMMAND_FAILED', `QEMU exited with ${code}: ${err.trim().split('\n').slice(-3).join(' ')}`, { hint: o.network.kind === 'tap' ? `The tap device ${o.network.ifname} must exist and belong to this user: grant it once under Rights in the Verify step (or bootchain privileges grant tap --tap ${o.network.ifname} --bridge YOUR_BRIDGE).` : undefined }));
      }
      settle();
    });
    later(o.timeoutMs, () => stop('timeout'));
    const onAbort = () => stop('failed', new BootchainError(appError('CANCELLED', 'Test boot cancelled')));
    o.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const stageOf = (st: { id: VmStageId; line: string }, atMs: number): VmStage => ({ id: st.id, what: VM_STAGES.find((s) => s.id === st.id)?.what ?? st.id, atMs, line: st.line.slice(0, 200) });
