/**
 * The watch's DHCP ear: the workstations' DISCOVER and REQUEST broadcasts (RFC 2131 §4.1: a
 * client without an address broadcasts to UDP 67), seen on this computer when Bootchain is not
 * the DHCP server. It never answers. A firmware's request and iPXE's are told apart by iPXE's
 * marks (option 175, its encapsulated options, or a user class "iPXE" / the project's own, RFC
 * 3004 option 77); the requested address (option 50, or ciaddr on a renewal) ties the MAC to the
 * address its later TFTP, HTTP and syslog traffic comes from. Foreign and malformed packets are
 * counted and dropped; only the watched MACs are reported.
 */
import dgram from 'node:dgram';
import { appError, BootchainError } from '../../../shared/errors';
import { formatIPv4 } from '../../../shared/ipv4';
import { parseReply } from '../dhcp/packet';

/** One request a workstation broadcast. */
export interface DhcpSeen {
  mac: string;
  /** The exchange's transaction id: one client's DISCOVER, its retries and REQUEST share it. */
  xid: number;
  type: 'discover' | 'request' | 'inform' | 'other';
  /** The request came from iPXE (its option 175, or an iPXE / our user class). */
  ipxe: boolean;
  userClass?: string | undefined;
  /** Option 60, e.g. "PXEClient:Arch:00000:UNDI:002001". */
  vendorClass?: string | undefined;
  /** The address it asks for or holds (option 50, ciaddr). */
  ip?: string | undefined;
  /** Option 93: the client's architecture (0 BIOS, 7/9 x86-64 UEFI). */
  arch?: number | undefined;
}

const TYPES: Record<number, DhcpSeen['type']> = { 1: 'discover', 3: 'request', 8: 'inform' };

/** RFC 3004 §4: option 77 is length-prefixed classes; some clients (iPXE's `set user-class`) send one plain string. */
function userClassOf(b: Buffer | undefined): string | undefined {
  if (!b || b.length === 0) return undefined;
  const out: string[] = [];
  let i = 0;
  while (i < b.length) {
    const n = b[i]!;
    if (n === 0 || i + 1 + n > b.length) return b.toString('latin1').replace(/[^\x20-\x7e]/g, '?').slice(0, 64);
    out.push(b.subarray(i + 1, i + 1 + n).toString('latin1'));
    i += 1 + n;
  }
  return out.join(',').replace(/[^\x20-\x7e]/g, '?').slice(0, 64);
}

/** Reads a client's request; undefined for what is not one (a server's reply, BOOTREPLY); throws PROTOCOL_ERROR for a malformed packet. */
export function readDhcpRequest(buf: Buffer, ourUserClass = 'bootchain'): DhcpSeen | undefined {
  const p = parseReply(buf);
  if (p.op !== 1) return undefined;
  if (buf[1] !== 1 || buf[2] !== 6) return undefined; // Ethernet MACs only (htype 1, hlen 6)
  const type = p.type === undefined ? 'other' : (TYPES[p.type] ?? 'other');
  const uc = userClassOf(p.options.get(77));
  const vc = p.options.get(60)?.toString('latin1').replace(/[^\x20-\x7e]/g, '?').slice(0, 64);
  const req = p.options.get(50);
  const ciaddr = formatIPv4(buf.readUInt32BE(12));
  const ip = req && req.length === 4 ? formatIPv4(req.readUInt32BE(0)) : ciaddr !== '0.0.0.0' ? ciaddr : undefined;
  const arch = p.options.get(93);
  const ipxe = p.options.has(175) || (uc !== undefined && (uc.split(',').includes('iPXE') || uc.split(',').includes(ourUserClass)));
  return { mac: p.chaddr, xid: p.xid, type, ipxe, ...(uc ? { userClass: uc } : {}), ...(vc ? { vendorClass: vc } : {}), ...(ip ? { ip } : {}), ...(arch && arch.length >= 2 ? { arch: arch.readUInt16BE(0) } : {}) };
}

export interface DhcpListenerOptions {
  /** UDP port (67; tests use another). */
  port?: number | undefined;
  signal: AbortSignal;
  /** The watched MACs (lower case, colons): others are counted as 'foreign' and dropped. */
  macs: ReadonlySet<string>;
  userClass?: string | undefined;
  onSeen(s: DhcpSeen, from: string): void;
  onDrop?: ((reason: 'malformed' | 'foreign' | 'not-a-request', from: string) => void) | undefined;
}

/** Listens until the signal aborts; rejects PERMISSION_DENIED (port 67 needs the ports grant) or BUSY. */
export async function startDhcpListener(o: DhcpListenerOptions): Promise<{ port: number; closed: Promise<void> }> {
  const port = o.port ?? 67;
  // reuseAddr: a DHCP server or Bootchain's own proxyDHCP on this computer keeps working beside it (broadcasts reach every socket).
  const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', (e: NodeJS.ErrnoException) => {
      sock.close();
      if (e.code === 'EACCES' || e.code === 'EPERM')
        reject(new BootchainError(appError('PERMISSION_DENIED', `Bootchain may not listen on UDP port ${port} for the workstations' DHCP broadcasts`, { hint: 'Grant "Ports below 1024" once under Rights in the Verify step (or bootchain privileges grant ports); the watch goes on without the DHCP view until then.' })));
      else if (e.code === 'EADDRINUSE') reject(new BootchainError(appError('BUSY', `UDP port ${port} is in use by a program that does not share it`, { hint: 'A DHCP server on this computer holds it: its own log shows the requests.' })));
      else reject(e);
    });
    sock.bind({ port, address: '0.0.0.0' }, () => resolve());
  });
  sock.removeAllListeners('error');
  sock.on('error', () => undefined);
  sock.on('message', (msg, r) => {
    let seen: DhcpSeen | undefined;
    try {
      seen = readDhcpRequest(msg, o.userClass);
    } catch {
      o.onDrop?.('malformed', r.address);
      return;
    }
    if (!seen) return o.onDrop?.('not-a-request', r.address);
    if (!o.macs.has(seen.mac)) return o.onDrop?.('foreign', r.address);
    o.onSeen(seen, r.address);
  });
  const closed = new Promise<void>((resolve) => {
    const close = () => sock.close(() => resolve());
    if (o.signal.aborted) close();
    else o.signal.addEventListener('abort', close, { once: true });
  });
  return { port: (sock.address() as { port: number }).port, closed };
}
