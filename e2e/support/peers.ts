/**
 * Small TCP peers for tests on loopback. `fakeIscsiTarget` answers any Login Request with a
 * well-formed Login Response header: it stands in for an iSCSI target only in unit tests of
 * the scanner itself; the integration tests use the real tgtd of the lab.
 */
import net from 'node:net';

export interface Peer {
  port: number;
  close(): Promise<void>;
}

async function listen(server: net.Server, host = '127.0.0.1'): Promise<Peer> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  const addr = server.address() as net.AddressInfo;
  return {
    port: addr.port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Answers a Login Request with a Login Response (status 0x0201: authentication failure). */
export function fakeIscsiTarget(host?: string): Promise<Peer> {
  return listen(
    net.createServer((s) => {
      s.once('data', () => {
        const bhs = Buffer.alloc(48);
        bhs[0] = 0x23;
        bhs[36] = 0x02;
        bhs[37] = 0x01;
        s.write(bhs);
      });
    }),
    host,
  );
}

/** Answers anything like a web server would. */
export function httpLikeListener(host?: string): Promise<Peer> {
  return listen(
    net.createServer((s) => {
      s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    }),
    host,
  );
}

/** Accepts and never answers. */
export function silentListener(host?: string): Promise<Peer> {
  return listen(net.createServer(() => undefined), host);
}

/** A loopback port with nothing listening (bound then closed). */
export async function closedPort(): Promise<number> {
  const p = await listen(net.createServer());
  await p.close();
  return p.port;
}
