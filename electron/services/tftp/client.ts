/**
 * TFTP client (RFC 1350) with option negotiation (RFC 2347: blksize RFC 2348, tsize RFC 2349):
 * fetches a file as a PXE ROM would, to compare what the server serves with what was built.
 * Lost packets are retried, duplicates re-acknowledged, packets from a stranger's port refused,
 * and the size is capped.
 */
import dgram from 'node:dgram';
import { appError, BootchainError, fail } from '../../../shared/errors';

const Op = { RRQ: 1, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

export interface TftpOptions {
  port?: number;
  /** Requested block size (RFC 2348); iPXE asks for 1432 on Ethernet. 0: do not ask. */
  blksize?: number;
  /** Ask for the transfer size (RFC 2349). */
  tsize?: boolean;
  /** Blocks per ACK (RFC 7440); 0 or absent: do not ask (one ACK per block). */
  windowsize?: number;
  /** Wait for each packet, ms. */
  timeoutMs?: number;
  retries?: number;
  maxBytes?: number;
  signal?: AbortSignal | undefined;
}

export interface TftpResult {
  data: Buffer;
  blksize: number;
  tsize?: number | undefined;
  /** Options the server acknowledged. */
  options: Record<string, string>;
}

const TFTP_ERRORS: Record<number, string> = {
  0: 'error',
  1: 'file not found',
  2: 'access violation',
  3: 'disk full',
  4: 'illegal TFTP operation',
  5: 'unknown transfer ID',
  6: 'file already exists',
  7: 'no such user',
  8: 'option negotiation refused',
};

function rrq(file: string, o: TftpOptions): Buffer {
  const parts = [file, 'octet'];
  if (o.blksize) parts.push('blksize', String(o.blksize));
  if (o.tsize) parts.push('tsize', '0');
  if (o.windowsize && o.windowsize > 1) parts.push('windowsize', String(o.windowsize));
  return Buffer.concat([Buffer.from([0, Op.RRQ]), ...parts.map((p) => Buffer.from(`${p}\0`, 'latin1'))]);
}

const ack = (block: number) => Buffer.from([0, Op.ACK, (block >> 8) & 0xff, block & 0xff]);

/** Fetches `file` from `host` over TFTP. */
export async function tftpGet(host: string, file: string, o: TftpOptions = {}): Promise<TftpResult> {
  if (file.length === 0 || file.length > 255 || file.includes('\0')) fail('INVALID_INPUT', `"${file.slice(0, 40)}" is not a TFTP file name`);
  const port = o.port ?? 69;
  const timeoutMs = o.timeoutMs ?? 2000;
  const retries = o.retries ?? 4;
  const maxBytes = o.maxBytes ?? 256 << 20;
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, () => r()));
  const chunks: Buffer[] = [];
  let size = 0;
  let blksize = 512;
  let tsize: number | undefined;
  let options: Record<string, string> = {};
  let expected = 1;
  let peerPort: number | undefined;
  let last: Buffer = rrq(file, { ...o, blksize: o.blksize ?? 1432, tsize: o.tsize ?? true });
  let lastTo = port;
  try {
    return await new Promise<TftpResult>((resolve, reject) => {
      let tries = 0;
      let timer: NodeJS.Timeout | undefined;
      const end = (e?: unknown, r?: TftpResult) => {
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
        if (e) reject(e);
        else resolve(r!);
      };
      let window = 1;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          if (++tries > retries) {
            end(new BootchainError(appError('TIMEOUT', `The TFTP server ${host} stopped answering while sending ${file}`, { hint: 'Check that the TFTP server runs and that no firewall drops UDP 69 and the ports after it.' })));
            return;
          }
          send();
        }, timeoutMs);
      };
      const send = () => {
        sock.send(last, lastTo, host);
        clearTimeout(timer);
        timer = setTimeout(() => {
          if (++tries > retries) {
            end(new BootchainError(appError('TIMEOUT', `The TFTP server ${host} stopped answering while sending ${file}`, { hint: 'Check that the TFTP server runs and that no firewall drops UDP 69 and the ports after it.' })));
            return;
          }
          send(); // retransmit the last packet (RFC 1350: the lost one is re-sent by timeout)
        }, timeoutMs);
      };
      const onAbort = () => end(new BootchainError(appError('CANCELLED', 'Cancelled')));
      o.signal?.addEventListener('abort', onAbort, { once: true });
      sock.on('message', (msg, rinfo) => {
        if (rinfo.address !== host) return;
        if (peerPort === undefined) peerPort = rinfo.port;
        else if (rinfo.port !== peerPort) {
          // RFC 1350 §4: a packet from another transfer ID gets an error, the transfer goes on.
          sock.send(Buffer.concat([Buffer.from([0, Op.ERROR, 0, 5]), Buffer.from('unknown transfer ID\0')]), rinfo.port, host);
          return;
        }
        if (msg.length < 4) return end(new BootchainError(appError('PROTOCOL_ERROR', `${host} sent a ${msg.length}-byte TFTP packet`)));
        const op = msg.readUInt16BE(0);
        if (op === Op.ERROR) {
          const code = msg.readUInt16BE(2);
          const text = msg.subarray(4).toString('latin1').replace(/\0.*$/s, '');
          return end(
            new BootchainError(
              appError(code === 1 ? 'NOT_FOUND' : code === 2 ? 'PERMISSION_DENIED' : 'PROTOCOL_ERROR', `TFTP server ${host}: ${file}: ${text || TFTP_ERRORS[code] || `error ${code}`}`, {
                hint: code === 1 ? `Upload ${file} to the TFTP root of ${host} (names are case-sensitive).` : 'Check the TFTP server\'s settings and the file\'s permissions.',
              }),
            ),
          );
        }
        lastTo = peerPort;
        tries = 0;
        if (op === Op.OACK && expected === 1 && chunks.length === 0) {
          const fields = msg.subarray(2).toString('latin1').split('\0');
          options = {};
          for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]) options[fields[i]!.toLowerCase()] = fields[i + 1]!;
          if (options.blksize) blksize = Number(options.blksize);
          if (options.tsize) tsize = Number(options.tsize);
          if (options.windowsize) window = Math.max(1, Number(options.windowsize) || 1);
          if (!(blksize >= 8 && blksize <= 65464)) return end(new BootchainError(appError('PROTOCOL_ERROR', `${host} chose a block size of ${options.blksize}`)));
          if (tsize !== undefined && tsize > maxBytes) return end(new BootchainError(appError('PROTOCOL_ERROR', `${file} is ${tsize} bytes, more than ${maxBytes} allowed`)));
          last = ack(0);
          return send();
        }
        if (op !== Op.DATA) return end(new BootchainError(appError('PROTOCOL_ERROR', `${host} sent TFTP opcode ${op}`)));
        const block = msg.readUInt16BE(2);
        const data = msg.subarray(4);
        if (block !== (expected & 0xffff)) {
          // One ACK per block: a duplicate of the previous block means our ACK was lost, so
          // acknowledge it again. With a window (RFC 7440), a gap is answered with the ACK of
          // the last block received in order, and the server sends again from there.
          if (window === 1 ? block === ((expected - 1) & 0xffff) : block !== ((expected - 1) & 0xffff)) sock.send(ack((expected - 1) & 0xffff), peerPort, host);
          return;
        }
        if (data.length > blksize) return end(new BootchainError(appError('PROTOCOL_ERROR', `${host} sent ${data.length} bytes in a ${blksize}-byte block`)));
        size += data.length;
        if (size > maxBytes) return end(new BootchainError(appError('PROTOCOL_ERROR', `${file} is larger than ${maxBytes} bytes`)));
        chunks.push(Buffer.from(data));
        last = ack(block);
        expected++;
        if (data.length < blksize) {
          sock.send(last, peerPort, host);
          return end(undefined, { data: Buffer.concat(chunks), blksize, tsize, options });
        }
        if ((expected - 1) % window === 0) send();
        else arm();
      });
      send();
    });
  } finally {
    sock.close();
  }
}
