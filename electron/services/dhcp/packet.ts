/**
 * DHCPv4 packets (RFC 2131, options RFC 2132; PXE options 93/94/97 RFC 4578; user class 77
 * RFC 3004; iPXE's encapsulated 175). Only what a virtual PXE client needs to send a DISCOVER and
 * read the OFFERs; decoding refuses malformed packets with a PROTOCOL_ERROR.
 */
import { fail } from '../../../shared/errors';
import { formatIPv4 } from '../../../shared/ipv4';

export const DHCP_MAGIC = 0x63825363;
export const Msg = { Discover: 1, Offer: 2, Request: 3, Ack: 5, Nak: 6 } as const;

/** Client architecture (option 93, RFC 4578 / IANA): 0 BIOS, 7 and 9 x64 UEFI. */
export type ClientArch = 0 | 6 | 7 | 9 | 10 | 11;

/** What the DISCOVER says about the client. */
export interface DiscoverSpec {
  xid: number;
  /** Canonical MAC aa:bb:... */
  mac: string;
  arch: ClientArch;
  /** Option 77 user class (e.g. "iPXE" or Bootchain's). */
  userClass?: string | undefined;
  /** Send option 175 like iPXE does. */
  ipxe?: boolean;
  /** 16-byte client UUID (option 97). */
  uuid?: Buffer | undefined;
}

/** Builds a DISCOVER with the broadcast flag (the client has no address yet). */
export function buildDiscover(s: DiscoverSpec): Buffer {
  const b = Buffer.alloc(240);
  b[0] = 1; // BOOTREQUEST
  b[1] = 1; // Ethernet
  b[2] = 6;
  b.writeUInt32BE(s.xid >>> 0, 4);
  b.writeUInt16BE(0x8000, 10); // broadcast flag
  Buffer.from(s.mac.replace(/:/g, ''), 'hex').copy(b, 28);
  b.writeUInt32BE(DHCP_MAGIC, 236);
  const opts: Buffer[] = [];
  const opt = (code: number, data: Buffer) => opts.push(Buffer.concat([Buffer.from([code, data.length]), data]));
  opt(53, Buffer.from([Msg.Discover]));
  opt(57, Buffer.from([0x05, 0xc0])); // max message size 1472
  opt(55, Buffer.from([1, 3, 6, 12, 15, 17, 28, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203]));
  opt(60, Buffer.from(`PXEClient:Arch:${String(s.arch).padStart(5, '0')}:UNDI:002001`));
  const arch = Buffer.alloc(2);
  arch.writeUInt16BE(s.arch);
  opt(93, arch);
  opt(94, Buffer.from([1, 2, 1]));
  if (s.uuid) opt(97, Buffer.concat([Buffer.from([0]), s.uuid.subarray(0, 16)]));
  if (s.userClass) opt(77, Buffer.from(s.userClass, 'latin1'));
  if (s.ipxe) opt(175, Buffer.from([0xb1, 0x05, 0x01, 0x80, 0x86, 0x10, 0x0e, 0x13, 0x01, 0x01, 0x19, 0x01, 0x01])); // bus-id, sanboot, iscsi
  return Buffer.concat([b, ...opts, Buffer.from([255])]);
}

/** A server's answer. */
export interface DhcpReply {
  op: number;
  xid: number;
  type?: number | undefined;
  yiaddr: string;
  siaddr: string;
  sname: string;
  file: string;
  chaddr: string;
  options: Map<number, Buffer>;
  /** Option 54, or the packet's source when absent. */
  serverId?: string | undefined;
}

/** Decodes a BOOTP/DHCP reply; options 52 (overload) are honoured for file and sname. */
export function parseReply(buf: Buffer): DhcpReply {
  if (buf.length < 240) fail('PROTOCOL_ERROR', `a DHCP packet of ${buf.length} bytes is too short`);
  if (buf.readUInt32BE(236) !== DHCP_MAGIC) fail('PROTOCOL_ERROR', 'not a DHCP packet (no magic cookie)');
  const options = new Map<number, Buffer>();
  const readOptions = (from: number, to: number) => {
    let i = from;
    while (i < to) {
      const code = buf[i]!;
      if (code === 255) break;
      if (code === 0) {
        i++;
        continue;
      }
      if (i + 1 >= to) fail('PROTOCOL_ERROR', 'a DHCP option runs past the packet');
      const len = buf[i + 1]!;
      if (i + 2 + len > to) fail('PROTOCOL_ERROR', `DHCP option ${code} runs past the packet`);
      const prev = options.get(code);
      const data = buf.subarray(i + 2, i + 2 + len);
      options.set(code, prev ? Buffer.concat([prev, data]) : Buffer.from(data)); // RFC 3396 concatenation
      i += 2 + len;
    }
  };
  readOptions(240, buf.length);
  const overload = options.get(52)?.[0] ?? 0;
  if (overload & 1) readOptions(108, 236);
  if (overload & 2) readOptions(44, 108);
  const cstr = (b: Buffer) => {
    const z = b.indexOf(0);
    return (z >= 0 ? b.subarray(0, z) : b).toString('latin1');
  };
  const ip = (o: number) => formatIPv4(buf.readUInt32BE(o));
  const sid = options.get(54);
  return {
    op: buf[0]!,
    xid: buf.readUInt32BE(4),
    type: options.get(53)?.[0],
    yiaddr: ip(16),
    siaddr: ip(20),
    sname: overload & 2 ? '' : cstr(buf.subarray(44, 108)),
    file: overload & 1 ? cstr(options.get(67) ?? Buffer.alloc(0)) : cstr(buf.subarray(108, 236)) || cstr(options.get(67) ?? Buffer.alloc(0)),
    chaddr: [...buf.subarray(28, 34)].map((x) => x.toString(16).padStart(2, '0')).join(':'),
    options,
    serverId: sid && sid.length === 4 ? formatIPv4(sid.readUInt32BE(0)) : undefined,
  };
}

/** Option 17 (root-path) as text, when present. */
export const rootPathOf = (r: DhcpReply): string | undefined => r.options.get(17)?.toString('latin1').replace(/\0+$/, '');
