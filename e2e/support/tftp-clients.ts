/**
 * Scripted TFTP clients for the boot-server tests (unit on loopback, integration in the lab):
 * a raw client that hands every packet to the test, and a netascii client with a window (no
 * other client here speaks both). Test support only.
 */
import dgram from 'node:dgram';

/** An RRQ packet. */
export const rrq = (file: string, opts: string[] = [], mode = 'octet') => Buffer.concat([Buffer.from([0, 1]), Buffer.from([file, mode, ...opts, ''].join('\0'), 'latin1')]);
/** An ACK packet. */
export const ackOf = (n: number) => Buffer.from([0, 4, (n >> 8) & 255, n & 255]);
/** The options of an OACK packet. */
export function oackOptions(m: Buffer): Record<string, string> {
  const f = m.subarray(2).toString('latin1').split('\0');
  const o: Record<string, string> = {};
  for (let i = 0; i + 1 < f.length; i += 2) if (f[i]) o[f[i]!] = f[i + 1]!;
  return o;
}

/** Sends `first` to host:port, then lets the test read (`next`) and answer packets. */
export async function rawClient(host: string, port: number, first: Buffer) {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, () => r()));
  const inbox: Array<{ msg: Buffer; port: number }> = [];
  sock.on('message', (msg, r) => inbox.push({ msg, port: r.port }));
  sock.send(first, port, host);
  const next = async (ms = 1500) => {
    const t0 = Date.now();
    while (inbox.length === 0 && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 5));
    return inbox.shift();
  };
  return { sock, inbox, next, close: () => sock.close() };
}

/** Fetches `file` in netascii mode with a window, acknowledging as fast as blocks come; the raw bytes. */
export function netasciiGet(host: string, port: number, file: string, blksize: number, windowsize: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const parts: Buffer[] = [];
    let expected = 1;
    let peer = 0;
    let win = 1;
    let bs = 512;
    let timer: NodeJS.Timeout | undefined;
    const fail = (e: Error) => {
      clearTimeout(timer);
      sock.close();
      reject(e);
    };
    const watchdog = () => {
      clearTimeout(timer);
      timer = setTimeout(() => fail(new Error(`netascii ${file}: nothing for 10 s after block ${expected - 1}`)), 10000);
    };
    sock.on('message', (m, r) => {
      watchdog();
      const op = m.readUInt16BE(0);
      if (op === 5) return fail(new Error(`netascii ${file}: ${m.subarray(4).toString('latin1')}`));
      peer = r.port;
      if (op === 6) {
        const o = oackOptions(m);
        bs = Number(o.blksize ?? 512);
        win = Number(o.windowsize ?? 1);
        return void sock.send(ackOf(0), peer, host);
      }
      const n = m.readUInt16BE(2);
      if (n !== (expected & 0xffff)) return void sock.send(ackOf((expected - 1) & 0xffff), peer, host);
      parts.push(Buffer.from(m.subarray(4)));
      expected++;
      if (m.length - 4 < bs) {
        sock.send(ackOf(n), peer, host);
        clearTimeout(timer);
        setTimeout(() => sock.close(), 50);
        return resolve(Buffer.concat(parts));
      }
      if ((expected - 1) % win === 0) sock.send(ackOf(n), peer, host);
    });
    sock.bind(0, () => {
      watchdog();
      sock.send(rrq(file, ['blksize', String(blksize), 'windowsize', String(windowsize)], 'netascii'), port, host);
    });
  });
}
