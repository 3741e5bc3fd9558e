/**
 * The rights Bootchain needs beyond an ordinary user's (style: never run the whole app as root):
 * binding ports below 1024 (DHCP probe on 68, the boot server's TFTP 69 and proxyDHCP 67/4011)
 * and a tap device for the VM test boot on the LAN. Status is read from the kernel (uid,
 * effective capabilities, the unprivileged-port sysctl, the tap device's owner); the grant runs
 * the bootchain-grant helper as root — directly when already root, else through pkexec (the
 * desktop's password dialog) — with argument arrays of validated values.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { appError, BootchainError } from '../../../shared/errors';
import { IFNAME_RE, type PrivilegeId, type PrivilegeItem, type PrivilegeStatus } from '../../../shared/privileges';

const CAP_NET_BIND_SERVICE = 10n;
const IFF_TAP = 0x0002;

/** Effective capabilities of this process, from /proc (Linux). */
export function effectiveCaps(statusText = readProc('/proc/self/status')): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(statusText ?? '');
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

function readProc(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The system's program folders, for tools that live there whatever the caller's PATH. */
export const SYSTEM_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/** Finds a program on PATH. */
export function which(cmd: string, envPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of envPath.split(':').filter(Boolean)) {
    const p = path.join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export interface PrivilegeOptions {
  /** The binary that needs the right (default: this process's). */
  exe?: string;
  /** The helper script (build/privileges/bootchain-grant, or resources/privileges/ when packaged). */
  helper: string;
  tap: string;
  bridge?: string | undefined;
}

const userName = (): string => {
  try {
    return os.userInfo().username;
  } catch {
    return String(process.getuid?.() ?? '');
  }
};

/** Reads what this computer gives this process, and how each missing right is granted. */
export function privilegeStatus(o: PrivilegeOptions): PrivilegeStatus {
  if (!IFNAME_RE.test(o.tap) || (o.bridge !== undefined && !IFNAME_RE.test(o.bridge))) throw new BootchainError(appError('INVALID_INPUT', 'not an interface name', { field: 'tap' }));
  const uid = process.getuid?.() ?? -1;
  const user = userName();
  const exe = o.exe ?? process.execPath;
  const via: PrivilegeItem['via'] = uid === 0 ? 'root' : which('pkexec') ? 'pkexec' : 'none';
  const helperCmd = (args: string[]) => ['sudo', o.helper, ...args].map(shellQuote).join(' ');

  // Ports below 1024.
  const caps = effectiveCaps();
  const portStart = Number(readProc('/proc/sys/net/ipv4/ip_unprivileged_port_start') ?? '1024');
  let portsWhy: string;
  let ports = true;
  if (uid === 0) portsWhy = 'running as root';
  else if ((caps >> CAP_NET_BIND_SERVICE) & 1n) portsWhy = `${path.basename(exe)} has cap_net_bind_service`;
  else if (portStart <= 67) portsWhy = `net.ipv4.ip_unprivileged_port_start is ${portStart}`;
  else {
    ports = false;
    portsWhy = `${user} (uid ${uid}) has no cap_net_bind_service and ports below ${portStart} are privileged`;
  }
  const lowPorts: PrivilegeItem = {
    id: 'low-ports',
    title: 'Ports below 1024',
    neededFor: "Verify's DHCP probe (UDP 68) and Serve from this computer (TFTP 69, proxyDHCP 67 and 4011)",
    granted: ports,
    evidence: portsWhy,
    explanation: `Gives ${exe} the one capability cap_net_bind_service (setcap), so it may listen on those ports as ${user}; nothing else runs with more rights. It lasts until the binary is replaced (an update asks again). Without it the DHCP link is skipped with the reason and the boot server can use ports above 1024.`,
    commands: [helperCmd(['ports', exe]), `# or by hand: sudo setcap cap_net_bind_service=+ep ${shellQuote(exe)}`],
    via,
  };

  // The tap device.
  const dev = `/sys/class/net/${o.tap}`;
  let tapOk = false;
  let tapWhy: string;
  if (!existsSync(dev)) tapWhy = `there is no device ${o.tap}`;
  else {
    const flags = Number(readProc(`${dev}/tun_flags`)?.trim() ?? 'NaN');
    const owner = Number(readProc(`${dev}/owner`)?.trim() ?? 'NaN');
    const up = (readProc(`${dev}/operstate`)?.trim() ?? '') !== 'down' || (Number(readProc(`${dev}/flags`)?.trim() ?? '0') & 1) === 1;
    const master = existsSync(`${dev}/master`);
    if (!Number.isFinite(flags) || !(flags & IFF_TAP)) tapWhy = `${o.tap} exists but is not a tap device`;
    else if (uid !== 0 && owner !== uid) tapWhy = `${o.tap} belongs to uid ${owner === -1 ? 'nobody set' : owner}, not ${user}`;
    else {
      tapOk = up;
      tapWhy = `${o.tap} is a tap device for ${owner === -1 ? 'root' : `uid ${owner}`}${master ? ', in a bridge' : ', in no bridge'}${up ? '' : ', but down'}`;
    }
  }
  const tap: PrivilegeItem = {
    id: 'tap',
    title: `Tap device ${o.tap}`,
    neededFor: 'VM test boot on the LAN (the virtual workstation talks to your real DHCP, TFTP and NAS); the dry run needs nothing',
    granted: tapOk,
    evidence: tapWhy,
    explanation: `Makes a tap device ${o.tap} owned by ${user}${o.bridge ? ` in the LAN bridge ${o.bridge} (a bridge an administrator allows in /etc/bootchain/bridges)` : ''}, so QEMU can use it without root. It lasts until the next reboot; put it in your network configuration to keep it.`,
    commands: [helperCmd(['tap', o.tap, ...(o.bridge ? [o.bridge] : [])]), `# or by hand: sudo ip tuntap add dev ${o.tap} mode tap user ${user}${o.bridge ? ` && sudo ip link set ${o.tap} master ${o.bridge}` : ''} && sudo ip link set ${o.tap} up`],
    via,
  };
  return { user, uid, exe, items: [lowPorts, tap] };
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The argument array that runs the helper as root for one grant (pkexec unless already root).
 * The tap is for the caller: the helper takes the user from pkexec (PKEXEC_UID), never from here.
 */
export function grantCommand(id: PrivilegeId, o: PrivilegeOptions, uid = process.getuid?.() ?? -1, pkexec = which('pkexec')): string[] {
  const args = id === 'low-ports' ? ['ports', o.exe ?? process.execPath] : ['tap', o.tap, ...(o.bridge ? [o.bridge] : [])];
  if (uid === 0) return [o.helper, ...args];
  if (!pkexec) {
    throw new BootchainError(
      appError('PERMISSION_DENIED', 'Bootchain cannot ask for administrator rights here: pkexec is not installed', {
        hint: `Run once, as an administrator: sudo ${o.helper} ${args.join(' ')} (or install pkexec and try again).`,
      }),
    );
  }
  return [pkexec, o.helper, ...args];
}

/** Runs one grant and reads the status again. */
export async function grantPrivilege(id: PrivilegeId, o: PrivilegeOptions, signal?: AbortSignal): Promise<PrivilegeStatus> {
  if (!existsSync(o.helper)) throw new BootchainError(appError('TOOL_MISSING', `The grant helper is missing: ${o.helper}`, { hint: 'Reinstall Bootchain; the helper ships in its resources folder.' }));
  const [cmd, ...args] = grantCommand(id, o);
  const r = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out: out.trim() }));
  });
  // pkexec: 126 = the user dismissed the dialog, 127 = not authorised.
  if (r.code === 126 || r.code === 127) throw new BootchainError(appError('PERMISSION_DENIED', 'The administrator password was not given: nothing was changed', { hint: 'Try again and authenticate, or run the shown command as an administrator.' }));
  if (r.code !== 0) throw new BootchainError(appError('COMMAND_FAILED', `The grant failed: ${r.out || `exit ${r.code}`}`, { hint: 'Nothing else was changed; fix what the message says, or run the shown command by hand.' }));
  return privilegeStatus(o);
}

/** The helper beside the app: resources/privileges when packaged, build/privileges in a checkout. */
export function defaultGrantHelper(fromDir: string, resourcesPath?: string): string {
  const packaged = resourcesPath ? path.join(resourcesPath, 'privileges', 'bootchain-grant') : undefined;
  if (packaged && existsSync(packaged)) return packaged;
  return path.resolve(fromDir, '../../build/privileges/bootchain-grant');
}
