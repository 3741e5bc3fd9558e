import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { appError, BootchainError } from '../../../shared/errors';
import { buildDiscover, Msg, parseReply, type DhcpReply, type DiscoverSpec } from './packet';

/**
 * Sends one DHCP DISCOVER as a PXE client would and collects every OFFER until the deadline.
 * No REQUEST follows, so nothing is leased. Binding UDP port 68 needs privilege (root, or
 * CAP_NET_BIND_SERVICE): without it the error says how to grant it.
 */
export async function discoverOffers(
  spec: Omit<DiscoverSpec, 'xid'>,
  opts: { timeoutMs: number; signal?: AbortSignal; broadcast?: string },
): Promise<Array<DhcpReply & { from: string }>> {
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
  sock.on('message', (msg, rinfo) => {
    try {
      const r = parseReply(msg);
      if (r.op === 2 && r.xid === xid && (r.type === Msg.Offer || r.type === undefined)) offers.push({ ...r, from: rinfo.address });
    } catch {
      // A malformed packet from someone else on the LAN is not our concern here.
    }
  });
  try {
    await new Promise<void>((resolve, reject) => {
      sock.send(buildDiscover({ ...spec, xid }), 67, opts.broadcast ?? '255.255.255.255', (err) => (err ? reject(err) : undefined));
      const t = setTimeout(resolve, opts.timeoutMs);
      opts.signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          reject(new BootchainError(appError('CANCELLED', 'Cancelled')));
        },
        { once: true },
      );
    });
  } finally {
    sock.close();
  }
  return offers;
}
