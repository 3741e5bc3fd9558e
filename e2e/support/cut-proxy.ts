/**
 * A TCP relay that cuts the connection after a chosen number of bytes: fault injection for the
 * upload tests (a NAS that reboots, a Wi-Fi drop, a killed ssh). Listens on 127.0.0.1 only.
 */
import net from 'node:net';

export interface CutProxy {
  port: number;
  /** Cut every connection opened from now on after `bytes` relayed in both directions (Infinity: never). */
  arm(bytes: number): void;
  /** Connections cut so far. */
  cuts(): number;
  /** Bytes relayed (both directions) by the last connection that closed. */
  lastBytes(): number;
  close(): Promise<void>;
}

export async function startCutProxy(host: string, port: number): Promise<CutProxy> {
  let limit = Infinity;
  let cuts = 0;
  let lastBytes = 0;
  const live = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, host);
    const cutAfter = limit;
    let seen = 0;
    live.add(client);
    live.add(upstream);
    const cut = () => {
      cuts++;
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    };
    const relay = (from: net.Socket, to: net.Socket) =>
      from.on('data', (d: Buffer) => {
        if (seen + d.length > cutAfter) {
          const keep = cutAfter - seen;
          if (keep > 0) to.write(d.subarray(0, keep));
          seen = cutAfter;
          return cut();
        }
        seen += d.length;
        to.write(d);
      });
    relay(client, upstream);
    relay(upstream, client);
    const end = () => {
      if (live.has(client)) lastBytes = seen;
      client.destroy();
      upstream.destroy();
      live.delete(client);
      live.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    arm: (bytes) => {
      limit = bytes;
    },
    cuts: () => cuts,
    lastBytes: () => lastBytes,
    close: () =>
      new Promise((resolve) => {
        for (const s of live) s.destroy();
        server.close(() => resolve());
      }),
  };
}
