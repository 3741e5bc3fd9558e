/**
 * A scriptable fake iSCSI target on loopback, for the tests that need a peer misbehaving in ways
 * tgtd never does (hostile replies, redirects, SHA-256 CHAP, LIO-style ACL status). Each test
 * says it uses this stand-in; the lab's real tgtd covers the normal behaviour.
 */
import net from 'node:net';
import { decodeTextKeys, encodePdu, encodeTextKeys, BHS_LENGTH, pad4 } from '../../electron/services/iscsi/pdu';

export interface Request {
  opcode: number;
  flags: number;
  itt: number;
  ttt: number;
  keys: Array<[string, string]>;
  bhs: Buffer;
}

export interface FakeTarget {
  port: number;
  requests: Request[];
  close(): Promise<void>;
}

/** Reads initiator PDUs (no digests) from a socket and hands each to `onRequest`. */
export async function fakeTarget(
  onRequest: (req: Request, sock: net.Socket) => void,
  onConnect?: (sock: net.Socket) => void,
  /** Expect CRC32C header and data digests on requests after the login. */
  digests = false,
): Promise<FakeTarget> {
  const requests: Request[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    onConnect?.(sock);
    let buf = Buffer.alloc(0);
    let loggedIn = false;
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= BHS_LENGTH) {
        const len = buf.readUIntBE(5, 3);
        const dg = digests && loggedIn && (buf[0]! & 0x3f) !== 0x03;
        const head = BHS_LENGTH + buf[4]! * 4 + (dg ? 4 : 0);
        const total = head + pad4(len) + (dg && len > 0 ? 4 : 0);
        if (buf.length < total) break;
        const bhs = buf.subarray(0, BHS_LENGTH);
        const data = buf.subarray(head, head + len);
        // The last login response (T bit, NSG=3) switches digests on for what follows.
        if ((bhs[0]! & 0x3f) === 0x03 && (bhs[1]! & 0x83) === 0x83) loggedIn = true;
        const req: Request = { opcode: bhs[0]! & 0x3f, flags: bhs[1]!, itt: bhs.readUInt32BE(16), ttt: bhs.readUInt32BE(20), keys: decodeTextKeys(Buffer.from(data)), bhs: Buffer.from(bhs) };
        requests.push(req);
        buf = buf.subarray(total);
        onRequest(req, sock);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A Login Response answering `req`: transit to its NSG unless `opts.transit` is false. */
export function loginResponse(req: Request, keys: Array<[string, string]>, opts: { status?: number; transit?: boolean; statSN?: number } = {}): Buffer {
  const bhs = Buffer.alloc(BHS_LENGTH);
  bhs[0] = 0x23;
  const transit = opts.transit ?? (req.flags & 0x80) !== 0;
  const csg = (req.flags >> 2) & 3;
  const nsg = req.flags & 3;
  bhs[1] = (transit ? 0x80 : 0) | (csg << 2) | (transit ? nsg : 0);
  bhs.writeUInt32BE(req.itt, 16);
  bhs.writeUInt32BE(opts.statSN ?? 1, 24);
  bhs.writeUInt32BE(1, 28);
  bhs.writeUInt32BE(64, 32);
  bhs[36] = (opts.status ?? 0) >> 8;
  bhs[37] = (opts.status ?? 0) & 0xff;
  return encodePdu(bhs, encodeTextKeys(keys));
}

/** A Text Response for `req`; `more` sets the C bit with a transfer tag. */
export function textResponse(req: Request, data: Buffer, more: boolean, ttt = 0x1234, digests = false): Buffer {
  const bhs = Buffer.alloc(BHS_LENGTH);
  bhs[0] = 0x24;
  bhs[1] = more ? 0x40 : 0x80;
  bhs.writeUInt32BE(req.itt, 16);
  bhs.writeUInt32BE(more ? ttt : 0xffffffff, 20);
  bhs.writeUInt32BE(2, 24);
  return encodePdu(bhs, data, { header: digests, data: digests });
}

/** A Logout Response for `req`. */
export function logoutResponse(req: Request): Buffer {
  const bhs = Buffer.alloc(BHS_LENGTH);
  bhs[0] = 0x26;
  bhs[1] = 0x80;
  bhs.writeUInt32BE(req.itt, 16);
  return encodePdu(bhs);
}

/** A well-behaved discovery target: None auth, answers SendTargets with `reply` in chunks of `chunk` bytes. */
export function discoveryHandler(reply: Array<[string, string]>, chunk = 1 << 20) {
  const data = encodeTextKeys(reply);
  let sent = 0;
  return (req: Request, sock: net.Socket) => {
    if (req.opcode === 0x03) sock.write(loginResponse(req, [['AuthMethod', 'None']]));
    else if (req.opcode === 0x04) {
      if (req.ttt === 0xffffffff) sent = 0;
      const part = data.subarray(sent, sent + chunk);
      sent += part.length;
      sock.write(textResponse(req, part, sent < data.length));
    } else if (req.opcode === 0x06) sock.write(logoutResponse(req));
  };
}

/** A NOP-In ping from the target (RFC 7143 §11.19): a tag other than 0xffffffff asks for a NOP-Out back. */
export function nopIn(ttt: number, statSN = 2): Buffer {
  const bhs = Buffer.alloc(BHS_LENGTH);
  bhs[0] = 0x20;
  bhs[1] = 0x80;
  bhs.writeUInt32BE(0xffffffff, 16);
  bhs.writeUInt32BE(ttt, 20);
  bhs.writeUInt32BE(statSN, 24);
  return encodePdu(bhs);
}
