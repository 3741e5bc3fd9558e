import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { appError, BootchainError } from '../../../shared/errors';
import { describeLanInterfaces } from '../net/interfaces';
import { buildDiscover, Msg, parseReply, type DhcpReply, type DiscoverSpec } from './packet';

/** How long to collect offers. */
export interface CollectOptions {
  /** The bound: never listen longer. */
  timeoutMs: number;
  /**
   * Stop earlier once `enough(offers)` holds and no new offer came for this long (the offers have
   * settled). Without it, or until `enough` holds, collection runs to the bound.
   */
  quietMs?: number | undefined;
  enough?: ((offers: Array<DhcpReply & { from: string }>) => boolean) | undefined;
  signal?: AbortSignal | undefined;
  /** Where the DISCOVER goes (default the limited broadcast 255.255.255.255). */
  broadcast?: string | undefined;
}

/**
 * Sends one DHCP DISCOVER as a PXE client would and collects every OFFER until they settle or
 * the bound. No REQUEST follows, so nothing is leased. Binding UDP port 68 needs privilege (root,
 * or CAP_NET_BIND_SERVICE): without it the error says how to grant it.
 */
export async function discoverOffers(spec: Omit<DiscoverSpec, 'xid'>, opts: CollectOptions): Promise<Array<DhcpReply & { from: string }>> {
  const xid = randomBytes(4).readUInt32BE(0);
  const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  const offers: Array<DhcpReply & { from: string }> = [];
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ port: 68, address: '0.0.0.0' }, () => {
        sock.removeListener('error', reject);
        resolve();
      });
    });
  } catch (e) {
    sock.close();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new BootchainError(
        appError('PERMISSION_DENIED', 'Bootchain may not listen on UDP port 68 (the DHCP client port)', {
          hint: 'Grant it once: "Ports below 1024" under Rights in the Verify step (or bootchain privileges grant ports). The rest of the chain is still checked from the project settings.',
        }),
      );
    }
    if (code === 'EADDRINUSE') {
      throw new BootchainError(appError('BUSY', 'UDP port 68 is in use by another DHCP client on this machine', { hint: 'Stop the other DHCP client (dhclient, NetworkManager test) for the check, or run it from another machine.' }));
    }
    throw e;
  }
  sock.setBroadcast(true);
  const to = opts.broadcast ?? '255.255.255.255';
  let quiet: NodeJS.Timeout | undefined;
  let bound: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      // Each new offer restarts the quiet period: a slow server answering after a fast one is
      // still seen, and the wait ends as soon as the answers have settled.
      const settle = () => {
        if (opts.quietMs === undefined || !(opts.enough?.(offers) ?? true)) return;
        clearTimeout(quiet);
        quiet = setTimeout(resolve, opts.quietMs);
      };
      sock.on('message', (msg, rinfo) => {
        try {
          const r = parseReply(msg);
          if (r.op === 2 && r.xid === xid && (r.type === Msg.Offer || r.type === undefined)) {
            offers.push({ ...r, from: rinfo.address });
            settle();
          }
        } catch {
          // A malformed packet from someone else on the LAN is not our concern here.
        }
      });
      sock.send(buildDiscover({ ...spec, xid }), 67, to, (err) => (err ? reject(sendError(err, to)) : undefined));
      bound = setTimeout(resolve, opts.timeoutMs);
      opts.signal?.addEventListener('abort', () => reject(new BootchainError(appError('CANCELLED', 'Cancelled'))), { once: true });
    });
  } finally {
    clearTimeout(quiet);
    clearTimeout(bound);
    sock.close();
  }
  return offers;
}

/**
 * A DISCOVER that cannot leave: without a default route (or a route of its own) the limited
 * broadcast has no interface to go out of, and the kernel says ENETUNREACH.
 */
function sendError(e: Error, to: string): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (code !== 'ENETUNREACH' && code !== 'EHOSTUNREACH' && code !== 'EADDRNOTAVAIL') return e;
  return new BootchainError(
    appError('UNREACHABLE', `no route for the DHCP broadcast to ${to}: this computer does not know which network the workstations are on`, {
      hint: `Choose the interface on the workstations' network: bootchain verify --interface NAME, or "Interface" in the Verify step (here: ${describeLanInterfaces()}). DISCOVERs then go to that subnet's broadcast address.`,
    }),
  );
}
