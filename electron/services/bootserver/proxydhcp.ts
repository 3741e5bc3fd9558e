/**
 * proxyDHCP (PXE 2.1 §2.2.4): answers PXE clients only — DISCOVERs that carry the "PXEClient"
 * vendor class — with where to boot from, on port 67 (broadcast) and 4011 (the client's REQUEST
 * to the boot server), and never offers an address (yiaddr 0.0.0.0): the LAN's DHCP server keeps
 * doing that, untouched. The firmware gets the boot file for its architecture; any iPXE gets the
 * script instead (so nothing loops), over HTTP when it is on; Bootchain's iPXE (its user-class)
 * also gets option 17, the project's root path.
 * Another server's PXE offer seen on the LAN is reported as a warning. A malformed request is
 * dropped and counted (one line per interval), never thrown out of the socket's handler.
 */
import dgram from 'node:dgram';
import type { ServeEvent } from '../../../shared/bootserver';
import { parseIPv4, subnetBroadcast } from '../../../shared/ipv4';
import { DropLog, dropLine, dropOnThrow } from '../net/guard';
import { listInterfaces } from '../net/interfaces';
import { DHCP_MAGIC, Msg, parseReply, type DhcpReply } from '../dhcp/packet';

export interface ProxyDhcpOptions {
  /** Our address: next-server, server identifier, the TFTP/HTTP server. */
  address: string;
  biosFile: string;
  uefiFile: string;
  /** What any iPXE gets instead of iPXE again: default.ipxe (over TFTP) or its URL. */
  ipxeFile: string;
  /** Option 17 for Bootchain's iPXE only (its embedded script checks it; the project's root path). */
  rootPath?: string | undefined;
  userClass: string;
  /** Answer only these MACs (aa:bb:…; the project's workstations); absent: every PXE client. */
  macs?: string[] | undefined;
  /** Bind to this interface (SO_BINDTODEVICE needs root; default all). */
  ports?: { dhcp: number; pxe: number; client: number };
  onEvent?: (e: ServeEvent) => void;
}

const u32ip = (ip: string) => {
  const n = parseIPv4(ip);
  if (!n.ok) throw new Error(n.reason);
  return n.value >>> 0;
};

/** Builds the proxy answer (OFFER on 67, ACK on 4011). */
export function proxyReply(req: DhcpReply, raw: Buffer, type: number, file: string, o: ProxyDhcpOptions, extra: Array<[number, Buffer]>): Buffer {
  const b = Buffer.alloc(240);
  b[0] = 2; // BOOTREPLY
  b[1] = 1;
  b[2] = 6;
  raw.copy(b, 4, 4, 8); // xid
  raw.copy(b, 10, 10, 12); // flags (broadcast)
  b.writeUInt32BE(u32ip(o.address), 20); // siaddr: the boot server
  raw.copy(b, 28, 28, 44); // chaddr
  Buffer.from(o.address, 'latin1').copy(b, 44, 0, 63); // sname
  Buffer.from(file, 'latin1').copy(b, 108, 0, 127); // file
  b.writeUInt32BE(DHCP_MAGIC, 236);
  const opts: Buffer[] = [];
  const opt = (code: number, data: Buffer) => {
    if (data.length > 255) throw new Error(`option ${code} of ${data.length} bytes does not fit one option`);
    opts.push(Buffer.concat([Buffer.from([code, data.length]), data]));
  };
  opt(53, Buffer.from([type]));
  const sid = Buffer.alloc(4);
  sid.writeUInt32BE(u32ip(o.address));
  opt(54, sid);
  opt(60, Buffer.from('PXEClient'));
  // PXE vendor options (option 43): discovery control 8 = boot from the file in this packet.
  opt(43, Buffer.from([6, 1, 8, 255]));
  // The client's UUID (RFC 4578 §2.3: type 0 and 16 bytes) goes back as it came; any other is not echoed.
  const uuid = req.options.get(97);
  if (uuid?.length === 17) opt(97, uuid);
  for (const [code, data] of extra) opt(code, data);
  opt(67, Buffer.from(file, 'latin1'));
  return Buffer.concat([b, ...opts, Buffer.from([255])]);
}

export class ProxyDhcpServer {
  private socks: dgram.Socket[] = [];
  readonly stats = { answered: 0, ignored: 0, dropped: 0 };
  private readonly drops = new DropLog((d) => this.emit({ client: d.client, status: 'ignored', message: dropLine('malformed DHCP packet', d) }));

  constructor(private readonly o: ProxyDhcpOptions) {}

  private drop(client: string, reason: string) {
    this.stats.dropped++;
    this.drops.drop(client, reason);
  }

  private emit(e: Omit<ServeEvent, 'at' | 'kind' | 'bytes'>) {
    this.o.onEvent?.({ kind: 'proxydhcp', bytes: 0, at: Date.now(), ...e });
  }

  /**
   * Where answers to clients without an address go: the broadcast address of our own subnet. A
   * limited broadcast (255.255.255.255) leaves by the default route's interface — the wrong one
   * on a computer with two networks, and none at all without a default route.
   */
  private broadcast = '255.255.255.255';

  async start(): Promise<void> {
    for (const ni of listInterfaces()) {
      const sub = ni.subnets.find((x) => x.address === this.o.address);
      if (sub) this.broadcast = subnetBroadcast(sub.network, sub.prefix);
    }
    const ports = this.o.ports ?? { dhcp: 67, pxe: 4011, client: 68 };
    const bind = async (port: number, address: string, on: (msg: Buffer, r: dgram.RemoteInfo, s: dgram.Socket) => void) => {
      const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind({ port, address }, () => {
          s.removeListener('error', reject);
          resolve();
        });
      });
      s.setBroadcast(true);
      s.on('message', (m, r) =>
        dropOnThrow({ drop: (client, reason) => this.drop(client, reason) }, r.address, () => on(m, r, s)),
      );
      s.on('error', () => undefined);
      this.socks.push(s);
      return s;
    };
    // Broadcast DISCOVERs arrive on 0.0.0.0:67 (the LAN's DHCP server listens there too: reuseAddr).
    await bind(ports.dhcp, '0.0.0.0', (m, r, s) => this.onRequest(m, r, s, ports.client, false));
    await bind(ports.pxe, this.o.address, (m, r, s) => this.onRequest(m, r, s, r.port, true));
    // Watch the client port for other servers' PXE offers (another proxyDHCP is a finding).
    await bind(ports.client, '0.0.0.0', (m, r) => this.watch(m, r)).catch(() => undefined);
    this.emit({ client: `${this.o.address}`, status: 'listening', message: `proxyDHCP on ${ports.dhcp} and ${ports.pxe}` });
  }

  async stop(): Promise<void> {
    this.drops.flush();
    for (const s of this.socks) await new Promise<void>((r) => s.close(() => r()));
    this.socks = [];
  }

  private watch(msg: Buffer, r: dgram.RemoteInfo) {
    if (r.address === this.o.address) return;
    try {
      const p = parseReply(msg);
      const vendor = p.options.get(60)?.toString('latin1') ?? '';
      if (p.op === 2 && vendor.startsWith('PXEClient') && p.yiaddr === '0.0.0.0') {
        this.emit({ client: r.address, status: 'warning', message: `another proxyDHCP server answers PXE clients: ${p.serverId ?? r.address} (file "${p.file}")` });
      }
    } catch {
      // not DHCP
    }
  }

  private onRequest(msg: Buffer, r: dgram.RemoteInfo, sock: dgram.Socket, replyPort: number, direct: boolean) {
    let p: DhcpReply;
    try {
      p = parseReply(msg);
    } catch (e) {
      return this.drop(r.address, (e as Error).message);
    }
    if (p.op !== 1) return;
    const client = p.chaddr;
    if (this.o.macs && !this.o.macs.includes(client.toLowerCase())) {
      this.stats.ignored++;
      return;
    }
    const vendor = p.options.get(60)?.toString('latin1') ?? '';
    const type = p.type;
    if (!vendor.startsWith('PXEClient') || (type !== Msg.Discover && type !== Msg.Request)) {
      this.stats.ignored++;
      return;
    }
    // A broadcast REQUEST on 67 belongs to the DHCP server the client chose, unless that is us.
    if (type === Msg.Request && !direct && p.serverId !== this.o.address) {
      this.stats.ignored++;
      return;
    }
    // Option 93 is a list of 2-byte architecture types (RFC 4578 §2.1); absent means BIOS.
    const a93 = p.options.get(93);
    if (a93 && (a93.length < 2 || a93.length % 2 !== 0)) return this.drop(client, `option 93 (client architecture) of ${a93.length} bytes`);
    const arch = a93 ? a93.readUInt16BE(0) : 0;
    const userClass = p.options.get(77)?.toString('latin1') ?? '';
    const isIpxe = p.options.has(175) || userClass.includes('iPXE') || userClass === this.o.userClass;
    const ours = userClass === this.o.userClass;
    const file = isIpxe ? this.o.ipxeFile : arch === 7 || arch === 9 ? this.o.uefiFile : this.o.biosFile;
    // Option 17 only for Bootchain's iPXE: a stock iPXE (a NIC's own ROM) hooks a root-path as a
    // SAN disk before it boots the file — the "option 17 to every client" fault.
    const extra: Array<[number, Buffer]> = ours && this.o.rootPath ? [[17, Buffer.from(this.o.rootPath, 'latin1')]] : [];
    const reply = proxyReply(p, msg, type === Msg.Discover ? Msg.Offer : Msg.Ack, file, this.o, extra);
    // On 67 the client has no address yet: broadcast to 68. On 4011 it has one: answer it there.
    sock.send(reply, replyPort, direct ? r.address : this.broadcast);
    this.stats.answered++;
    this.emit({ client, file, status: 'answered', message: `${type === Msg.Discover ? 'DISCOVER' : 'REQUEST'}${direct ? ' on 4011' : ''}, arch ${arch}${isIpxe ? `, iPXE${ours ? ' (Bootchain)' : ''}` : ''}` });
  }
}
