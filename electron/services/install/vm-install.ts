/**
 * Install in a VM onto the LUN: a QEMU virtual workstation (its MAC, its firmware) boots the
 * user's installer ISO from CD once, with the workstation's LUN as its disk through QEMU's own
 * iSCSI driver (libiscsi, Debian's qemu-block-extra), logged in as the workstation (its IQN, its
 * CHAP), so the installer sees a plain disk. The screen is QEMU's VNC on 127.0.0.1 (with its
 * WebSocket listener for noVNC in the window, and a one-run VNC password); the serial console
 * is captured. The run ends when the guest powers off (or reboots: the installer is done), on
 * stop(), on cancel, or at the timeout.
 *
 * The CHAP secret goes to QEMU as a secret object read from a 0600 file in a private folder,
 * never in argv: the folder is removed as soon as QEMU listens on VNC (by then it has read the
 * secret and logged in: QEMU opens its drives before its displays) and again at the end.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { appError, BootchainError, fail, type ErrorCode } from '../../../shared/errors';
import { checkChapSecret, checkChapUser } from '../../../shared/model/chap';
import { checkIqn } from '../../../shared/model/iqn';
import { parseMac } from '../../../shared/model/mac';
import { redactSecrets } from '../errors';
import { screenText } from '../vm/console';
import { firmwareArgs, nicModel, QEMU, tapNetdev } from '../vm/qemu';

/** The workstation's disk as QEMU's iSCSI driver logs in to it. */
export interface IscsiDisk {
  /** Portal address (IPv4 or host name) and port. */
  host: string;
  port: number;
  target: string;
  lun: number;
  /** The workstation's initiator IQN: the target's ACL and CHAP account expect this name. */
  initiator: string;
  /** One-way CHAP (QEMU's iSCSI driver cannot check the target: mutual CHAP is not asked for, which targets accept). */
  chap?: { username: string; secret: string } | undefined;
}

/** The installer VM's own network: QEMU's NAT (the installer can download), an existing tap device, or none. */
export type VmInstallNetwork = { kind: 'user'; restrict?: boolean } | { kind: 'tap'; ifname: string } | { kind: 'none' };

/** What an install run boots: the workstation (MAC, firmware), the ISO, the LUN, and the run's limits. */
export interface VmInstallOptions {
  firmware: 'bios' | 'uefi';
  mac: string;
  /** The installer ISO: a local file (a URL is downloaded by the caller first). */
  iso: string;
  disk: IscsiDisk;
  /** Guest memory (default 2048 MiB: what common installers want). */
  memoryMiB?: number | undefined;
  cpus?: number | undefined;
  network?: VmInstallNetwork | undefined;
  /** Let the guest reboot into the installed disk (the run then ends at power-off only); default: the first reboot ends it. */
  allowReboot?: boolean | undefined;
  /** A fixed VNC port on 127.0.0.1 (5900-5999, for a desktop viewer); default: a free one. */
  vncPort?: number | undefined;
  timeoutMs: number;
  /** How long QEMU may take to log in to the LUN and show its screen (default 60 s): a portal that accepts TCP but never answers the login holds QEMU's driver for minutes. */
  loginTimeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  onEvent?: ((e: VmInstallEvent) => void) | undefined;
  qemu?: string | undefined;
}

/** Where the installer's screen is: QEMU's VNC on loopback and its WebSocket listener (for noVNC). */
export interface VncEndpoint {
  host: '127.0.0.1';
  /** RFB port (5900 + display), for a desktop VNC viewer. */
  port: number;
  display: number;
  websocketPort: number;
  /** ws://127.0.0.1:websocketPort — hand it to the VNC view. */
  url: string;
  /** This run's VNC password (random, not the CHAP secret): for the viewer only, never logged. */
  password: string;
}

/** What a run reports as it goes: the screen's endpoint once QEMU has logged in, each console line, how it ended. */
export type VmInstallEvent =
  | { kind: 'started'; pid: number; vnc: VncEndpoint }
  | { kind: 'console'; line: string }
  | { kind: 'ended'; ended: VmInstallResult['ended'] | 'failed' | 'timeout' | 'cancelled' };

/** How a run that did not fail ended. */
export interface VmInstallResult {
  /** poweroff: the guest powered off or rebooted (with allowReboot off) by itself; stopped: stop() was called. */
  ended: 'poweroff' | 'stopped';
  /** The end of the serial console as text. */
  console: string;
  durationMs: number;
}

/** A running install: `done` settles when QEMU has exited; `stop()` pulls the plug. */
export interface VmInstallRun {
  done: Promise<VmInstallResult>;
  stop(): void;
}

const CONSOLE_TAIL = 64 * 1024;

/** QEMU's option strings separate with ","; a literal comma is written twice (QEMU's qemu_opts_parse). */
export const qemuOptValue = (v: string): string => v.replace(/,/g, ',,');

function invalid(field: string, message: string): never {
  fail('INVALID_INPUT', message, { field });
}

/** Checks every value that goes into QEMU's arguments; returns the canonical MAC. */
function validate(o: VmInstallOptions): string {
  const mac = parseMac(o.mac);
  if (!mac.ok) invalid('mac', mac.reason);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(o.iso)) invalid('iso', `${o.iso.slice(0, 200)} is a URL: download the ISO first, then give its local path`);
  if (!path.isAbsolute(o.iso)) invalid('iso', `The installer ISO must be an absolute path (got ${o.iso.slice(0, 200)})`);
  // Control characters would reach QEMU's option parser and logs; nothing real needs them.
  if (/[\x00-\x1f]/.test(o.iso)) invalid('iso', 'The ISO path holds control characters');
  if (!existsSync(o.iso)) fail('NOT_FOUND', `The installer ISO ${o.iso} does not exist`, { field: 'iso' });
  if (!statSync(o.iso).isFile()) invalid('iso', `${o.iso} is not a file`);
  const d = o.disk;
  const ipv4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
  const hostname = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
  if (!ipv4.test(d.host) && !hostname.test(d.host)) invalid('host', `"${d.host.slice(0, 100)}" is not an IPv4 address or host name`);
  if (!Number.isInteger(d.port) || d.port < 1 || d.port > 65535) invalid('port', `Port ${d.port} is not 1 to 65535`);
  if (!Number.isInteger(d.lun) || d.lun < 0 || d.lun > 16383) invalid('lun', `LUN ${d.lun} is not 0 to 16383`);
  for (const [field, name] of [['target', d.target], ['initiator', d.initiator]] as const) {
    const r = checkIqn(name);
    if (!r.ok) invalid(field, `${field === 'target' ? 'Target' : 'Initiator'} name: ${r.reason}`);
  }
  if (d.chap) {
    const u = checkChapUser(d.chap.username);
    if (!u.ok) invalid('chap.username', `CHAP user: ${u.reason}`);
    const s = checkChapSecret(d.chap.secret, { wide: false });
    if (!s.ok) invalid('chap.secret', `CHAP secret: ${s.reason}`);
  }
  const mem = o.memoryMiB ?? 2048;
  if (!Number.isInteger(mem) || mem < 64 || mem > 65536) invalid('memoryMiB', `Memory ${mem} MiB is not 64 to 65536`);
  const cpus = o.cpus ?? 2;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 64) invalid('cpus', `${cpus} CPUs is not 1 to 64`);
  if (!(o.timeoutMs > 0)) invalid('timeoutMs', 'The timeout must be positive');
  if (o.loginTimeoutMs !== undefined && !(o.loginTimeoutMs > 0)) invalid('loginTimeoutMs', 'The login timeout must be positive');
  if (o.vncPort !== undefined && (!Number.isInteger(o.vncPort) || o.vncPort < 5900 || o.vncPort > 5999)) invalid('vncPort', `VNC port ${o.vncPort} is not 5900 to 5999 (display :0 to :99)`);
  return mac.value;
}

/** The QEMU arguments of an install run (the secret files are named, never their content). */
export function vmInstallArgs(o: VmInstallOptions, p: { mac: string; vnc: { display: number; websocketPort: number }; vncSecretFile: string; chapSecretFile?: string | undefined }): string[] {
  const d = o.disk;
  const args = ['-machine', 'pc,accel=tcg', '-m', String(o.memoryMiB ?? 2048), '-smp', String(o.cpus ?? 2), '-vga', 'std'];
  // No monitor: from the VNC screen (Ctrl-Alt-2) it could read any file QEMU can.
  args.push('-monitor', 'none', '-serial', 'stdio', ...firmwareArgs(o.firmware));
  if (!o.allowReboot) args.push('-no-reboot');
  args.push('-object', `secret,id=vncpw,file=${qemuOptValue(p.vncSecretFile)}`);
  args.push('-vnc', `127.0.0.1:${p.vnc.display},websocket=127.0.0.1:${p.vnc.websocketPort},password-secret=vncpw`);
  const iscsi = [`initiator-name=${d.initiator}`];
  if (d.chap && p.chapSecretFile) {
    args.push('-object', `secret,id=chap,file=${qemuOptValue(p.chapSecretFile)}`);
    iscsi.push(`user=${d.chap.username}`, 'password-secret=chap');
  }
  args.push('-iscsi', iscsi.join(','));
  args.push('-drive', `file=${qemuOptValue(o.iso)},if=none,id=cd,media=cdrom,readonly=on,format=raw`);
  args.push('-drive', `file=iscsi://${d.host}:${d.port}/${d.target}/${d.lun},if=none,id=lun,format=raw`);
  if (o.firmware === 'uefi') {
    // OVMF boots by bootindex (fw_cfg bootorder), not by -boot: the CD first.
    args.push('-device', 'ide-cd,drive=cd,bootindex=0', '-device', 'virtio-blk-pci,drive=lun,bootindex=1');
  } else {
    // SeaBIOS: the CD once, then (a reboot with allowReboot) the disk.
    args.push('-device', 'ide-cd,drive=cd', '-device', 'virtio-blk-pci,drive=lun', '-boot', 'order=c,once=d');
  }
  const net = o.network ?? { kind: 'user' };
  if (net.kind === 'user') args.push('-netdev', `user,id=n0${net.restrict ? ',restrict=on' : ''}`);
  else if (net.kind === 'tap') args.push('-netdev', tapNetdev(net.ifname));
  if (net.kind === 'none') args.push('-nic', 'none');
  else args.push('-device', `${nicModel(o.firmware)},netdev=n0,mac=${p.mac}`);
  return args;
}

/** A port the OS says is free on loopback now (QEMU binds it a moment later; a lost race is retried). */
function freePort(min = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => (port >= min ? resolve(port) : freePort(min).then(resolve, reject)));
    });
  });
}

/** Whether something accepts connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(500, () => done(false));
  });
}

/**
 * Whether the portal accepts a TCP connection: QEMU's iSCSI driver waits on a silent portal
 * for minutes before it says anything, so an unreachable NAS is told at once instead.
 */
function portalCheck(d: IscsiDisk, signal: AbortSignal | undefined, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(d.port, d.host);
    const done = (e?: BootchainError) => {
      s.destroy();
      signal?.removeEventListener('abort', onAbort);
      if (e) reject(e);
      else resolve();
    };
    const onAbort = () => done(new BootchainError(appError('CANCELLED', 'Install VM cancelled')));
    signal?.addEventListener('abort', onAbort, { once: true });
    const where = `${d.host}:${d.port}`;
    s.once('connect', () => done());
    s.once('error', (e: NodeJS.ErrnoException) =>
      done(new BootchainError(appError('UNREACHABLE', e.code === 'ECONNREFUSED' ? `Nothing listens for iSCSI at ${where}` : `The NAS at ${where} cannot be reached (${e.code ?? e.message})`, { hint: "Check the NAS's address and that its iSCSI service runs.", field: 'host' }))),
    );
    s.setTimeout(timeoutMs, () => done(new BootchainError(appError('UNREACHABLE', `The NAS at ${where} did not answer within ${timeoutMs / 1000} s`, { hint: `Check that the NAS is on and on this network, and that no firewall drops port ${d.port}.`, field: 'host' }))));
  });
}

/** QEMU's words when it could not open the LUN or the ISO, in ours (libiscsi's status names, RFC 7143 §11.13.5). */
export function qemuStartError(stderr: string, o: Pick<VmInstallOptions, 'disk' | 'iso'>): { code: ErrorCode; message: string; hint: string } {
  const d = o.disk;
  const where = `${d.target} LUN ${d.lun} at ${d.host}:${d.port}`;
  if (/Authentication failure/i.test(stderr))
    return {
      code: 'AUTH_FAILED',
      message: `The target refused the workstation's login to ${d.target}${d.chap ? ` as CHAP user ${d.chap.username}` : ' without CHAP'}`,
      hint: d.chap ? "Check the workstation's CHAP user and secret (Identity step) against the target's on the NAS." : 'The target wants CHAP: set the workstation\'s CHAP user and secret (Identity step).',
    };
  if (/Authorization failure|not authorized/i.test(stderr)) return { code: 'AUTH_FAILED', message: `The target does not let ${d.initiator} in (its initiator ACL)`, hint: "Add the workstation's initiator IQN to the target's allowed initiators on the NAS." };
  if (/Target not found|Target removed/i.test(stderr)) return { code: 'TARGET_NOT_FOUND', message: `The NAS at ${d.host}:${d.port} has no target ${d.target}`, hint: 'Run the Target step again and pick a listed target.' };
  if (/LOGICAL_UNIT_NOT_SUPPORTED/.test(stderr)) return { code: 'NOT_FOUND', message: `${d.target} has no LUN ${d.lun}`, hint: 'Take the LUN from the Target step\'s probe (tgt: 1; QNAP and istgt: 0).' };
  if (/reconnect|Connection refused|No route|Network is unreachable|timed out/i.test(stderr)) return { code: 'UNREACHABLE', message: `QEMU could not reach ${where}`, hint: 'Check that the NAS is on and its iSCSI service listens on that address and port.' };
  if (/Could not open|No such file|Permission denied/i.test(stderr) && stderr.includes(o.iso)) return { code: 'NOT_FOUND', message: `QEMU could not read the ISO ${o.iso}`, hint: 'Check the file exists and this user may read it.' };
  return { code: 'COMMAND_FAILED', message: `QEMU did not start the installer VM: ${stderr.trim().split('\n').slice(-2).join(' ').slice(0, 400)}`, hint: 'Read the message; qemu-system-x86 and qemu-block-extra (the iSCSI driver) must be installed.' };
}

/**
 * Starts the installer VM. Throws INVALID_INPUT / NOT_FOUND at once for bad options; `done`
 * rejects with AUTH_FAILED, TARGET_NOT_FOUND, UNREACHABLE, … when QEMU cannot open the LUN,
 * TIMEOUT or COMMAND_FAILED (with the console's end as detail) later, CANCELLED on abort.
 */
export function vmInstall(o: VmInstallOptions): VmInstallRun {
  const qemu = o.qemu ?? QEMU;
  if (!existsSync(qemu)) fail('TOOL_MISSING', 'QEMU is not installed', { hint: 'Install it: sudo apt-get install qemu-system-x86 qemu-block-extra (and ovmf for UEFI).' });
  const mac = validate(o);
  if (o.firmware === 'uefi') firmwareArgs('uefi'); // TOOL_MISSING now, not inside the promise
  const secrets = o.disk.chap ? [o.disk.chap.secret] : [];
  const d = o.disk;
  const loginMs = o.loginTimeoutMs ?? 60_000;
  let stopRequested = false;
  let stopNow: (() => void) | undefined;
  const t0 = Date.now();
  const emit = (e: VmInstallEvent) => {
    try {
      o.onEvent?.(e);
    } catch {
      // a listener's failure is not the VM's
    }
  };

  const attempt = async (): Promise<VmInstallResult | 'port-taken'> => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bootchain-install-'));
    const dropSecrets = () => rmSync(dir, { recursive: true, force: true });
    try {
      // mkdtemp makes the folder 0700; the files are 0600 and never overwritten ('wx').
      const password = randomBytes(6).toString('base64url').slice(0, 8); // VNC passwords are 8 characters (RFB 3.8 §7.2.2, DES)
      const vncSecretFile = path.join(dir, 'vnc');
      writeFileSync(vncSecretFile, password, { mode: 0o600, flag: 'wx' });
      let chapSecretFile: string | undefined;
      if (o.disk.chap) {
        chapSecretFile = path.join(dir, 'chap');
        writeFileSync(chapSecretFile, o.disk.chap.secret, { mode: 0o600, flag: 'wx' });
      }
      const port = o.vncPort ?? (await freePort(5900));
      const websocketPort = await freePort();
      const vnc: VncEndpoint = { host: '127.0.0.1', port, display: port - 5900, websocketPort, url: `ws://127.0.0.1:${websocketPort}`, password };
      const args = vmInstallArgs(o, { mac, vnc, vncSecretFile, chapSecretFile });
      return await new Promise<VmInstallResult | 'port-taken'>((resolve, reject) => {
        const child = spawn(qemu, args, { stdio: ['pipe', 'pipe', 'pipe'] });
        let consoleText = '';
        let partial = '';
        let err = '';
        let started = false;
        let why: 'stopped' | 'timeout' | 'login' | 'cancelled' | undefined;
        let settled = false;
        const timers: NodeJS.Timeout[] = [];
        const finish = (f: () => void) => {
          if (settled) return;
          settled = true;
          for (const t of timers) clearTimeout(t);
          o.signal?.removeEventListener('abort', onAbort);
          stopNow = undefined;
          dropSecrets();
          f();
        };
        const kill = (w: NonNullable<typeof why>) => {
          if (why || settled) return;
          why = w;
          child.kill('SIGKILL');
          // 'close' normally follows at once; never wait longer than this for it.
          timers.push(setTimeout(() => onClose(null), 900));
        };
        const failWith = (code: ErrorCode, message: string, hint: string, detail?: string) => {
          emit({ kind: 'ended', ended: code === 'CANCELLED' ? 'cancelled' : code === 'TIMEOUT' ? 'timeout' : 'failed' });
          finish(() => reject(new BootchainError(appError(code, message, { hint, ...(detail ? { detail: redactSecrets(detail, secrets) } : {}) }))));
        };
        const tail = () => screenText(consoleText).slice(-CONSOLE_TAIL);
        const onClose = (code: number | null) => {
          if (settled) return;
          if (partial) emit({ kind: 'console', line: screenText(partial) });
          partial = '';
          if (why === 'stopped') {
            emit({ kind: 'ended', ended: 'stopped' });
            return finish(() => resolve({ ended: 'stopped', console: tail(), durationMs: Date.now() - t0 }));
          }
          if (why === 'cancelled') return failWith('CANCELLED', 'Install VM cancelled', 'Start it again when you are ready; the disk holds whatever the installer wrote so far.');
          if (why === 'login') return failWith('TIMEOUT', `${d.host}:${d.port} took the connection but did not log the workstation in to ${d.target} within ${Math.round(loginMs / 1000)} s`, 'Check that this address is the NAS\'s iSCSI portal (not another service on port 3260) and that the NAS is not overloaded.', `${err.trim()}`);
          if (why === 'timeout') return failWith('TIMEOUT', `The installer VM was still running after ${Math.round(o.timeoutMs / 1000)} s and was stopped`, 'Give it more time, or watch its screen for a question it is waiting on.', tail());
          if (code === 0) {
            emit({ kind: 'ended', ended: 'poweroff' });
            return finish(() => resolve({ ended: 'poweroff', console: tail(), durationMs: Date.now() - t0 }));
          }
          if (!started && /Failed to find an available port|Address already in use/.test(err)) return finish(() => resolve('port-taken'));
          const e = started
            ? { code: 'COMMAND_FAILED' as const, message: `QEMU ended with ${code}: ${err.trim().split('\n').slice(-2).join(' ').slice(0, 400)}`, hint: 'Read the console below; the disk holds whatever the installer wrote so far.' }
            : qemuStartError(err, o);
          failWith(e.code, e.message, e.hint, `${err.trim()}\n--- console ---\n${tail()}`);
        };
        child.stdout.on('data', (b: Buffer) => {
          const text = b.toString('latin1');
          consoleText = (consoleText + text).slice(-4 * CONSOLE_TAIL);
          const lines = (partial + text).split(/\r?\n/);
          partial = lines.pop() ?? '';
          for (const l of lines) {
            const line = screenText(l).replace(/\r/g, '');
            if (line.trim()) emit({ kind: 'console', line });
          }
        });
        child.stderr.on('data', (b: Buffer) => {
          err = (err + b.toString()).slice(-16384);
        });
        child.on('error', (e) => failWith('COMMAND_FAILED', `QEMU did not start: ${e.message}`, 'Install qemu-system-x86.'));
        child.on('close', (code) => onClose(code));
        const onAbort = () => kill('cancelled');
        o.signal?.addEventListener('abort', onAbort, { once: true });
        stopNow = () => kill('stopped');
        if (stopRequested) kill('stopped');
        if (o.signal?.aborted) kill('cancelled');
        timers.push(setTimeout(() => kill('timeout'), o.timeoutMs));
        timers.push(setTimeout(() => !started && kill('login'), loginMs));
        // Started once VNC listens: QEMU has read its secrets and logged in to the LUN by then.
        const poll = async () => {
          while (!settled && !why) {
            if (await listening(port)) {
              if (settled || why) return;
              started = true;
              dropSecrets();
              emit({ kind: 'started', pid: child.pid ?? 0, vnc });
              return;
            }
            await new Promise((r) => setTimeout(r, 100));
          }
        };
        void poll();
      });
    } finally {
      dropSecrets();
    }
  };

  const done = (async () => {
    if (o.signal?.aborted) fail('CANCELLED', 'Install VM cancelled');
    await portalCheck(o.disk, o.signal);
    for (let i = 0; ; i++) {
      const r = await attempt();
      if (r !== 'port-taken') return r;
      if (o.vncPort !== undefined) fail('BUSY', `VNC port ${o.vncPort} on 127.0.0.1 is taken`, { hint: 'Choose another port (5900-5999), or leave it out for a free one.' });
      if (i === 2) fail('BUSY', 'QEMU found the VNC ports it was given taken three times', { hint: 'Another program is taking loopback ports: try again.' });
    }
  })();
  return {
    done,
    stop: () => {
      stopRequested = true;
      stopNow?.();
    },
  };
}
