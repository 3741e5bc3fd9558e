import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { tftpGet } from './client';

// A scripted TFTP server on loopback, for what tftpd-hpa never does on purpose: lose packets,
// send duplicates, answer from a stranger's port. The lab test covers the real server.
type Server = { port: number; close(): void; stranger: dgram.Socket };
let servers: Server[] = [];
afterEach(() => {
  for (const s of servers) s.close();
  servers = [];
});

async function lossyServer(file: Buffer, blksize: number, plan: { dropFirstOf?: number; duplicate?: number; strangerAt?: number }): Promise<Server> {
  const listen = dgram.createSocket('udp4');
  const xfer = dgram.createSocket('udp4');
  const stranger = dgram.createSocket('udp4');
  await Promise.all([listen, xfer, stranger].map((s) => new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))));
  const dropped = new Set<number>();
  let client: dgram.RemoteInfo | undefined;
  const blocks = Math.floor(file.length / blksize) + 1;
  const data = (n: number) => Buffer.concat([Buffer.from([0, 3, n >> 8, n & 255]), file.subarray((n - 1) * blksize, n * blksize)]);
  const sendBlock = (n: number) => {
    if (n > blocks || !client) return;
    if (plan.dropFirstOf === n && !dropped.has(n)) {
      dropped.add(n);
      return; // lost on the way
    }
    if (plan.strangerAt === n) stranger.send(data(n), client.port, client.address);
    xfer.send(data(n), client.port, client.address);
    if (plan.duplicate === n) xfer.send(data(n), client.port, client.address);
  };
  listen.on('message', (_m, rinfo) => {
    client = rinfo;
    xfer.send(Buffer.from(`\0\x06blksize\0${blksize}\0tsize\0${file.length}\0`, 'latin1'), rinfo.port, rinfo.address);
  });
  xfer.on('message', (m) => {
    if (m.readUInt16BE(0) === 4) sendBlock(m.readUInt16BE(2) + 1);
  });
  return { port: (listen.address() as { port: number }).port, stranger, close: () => [listen, xfer, stranger].forEach((s) => s.close()) };
}

describe('TFTP client recovers from a lossy, noisy server', () => {
  const file = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
  it('retransmits after a lost block, ignores a duplicate and a stranger', async () => {
    const s = await lossyServer(file, 512, { dropFirstOf: 3, duplicate: 5, strangerAt: 7 });
    servers.push(s);
    const r = await tftpGet('127.0.0.1', 'x.bin', { port: s.port, blksize: 512, timeoutMs: 200 });
    expect(r.data.equals(file)).toBe(true);
    expect(r.tsize).toBe(5000);
  });
  it('gives up with TIMEOUT when the server vanishes', async () => {
    const s = await lossyServer(file, 512, {});
    servers.push(s);
    s.close();
    servers = [];
    await expect(tftpGet('127.0.0.1', 'x.bin', { port: s.port, timeoutMs: 100, retries: 2 })).rejects.toMatchObject({ appError: { code: 'TIMEOUT' } });
  });
  it('refuses a hostile file name', async () => {
    await expect(tftpGet('127.0.0.1', 'a\0b')).rejects.toMatchObject({ appError: { code: 'INVALID_INPUT' } });
  });
});
