/**
 * Bootchain's read-only TFTP server: RFC 1350, with option negotiation (RFC 2347), blksize up to
 * 65464 (RFC 2348), tsize and timeout (RFC 2349) and windowsize (RFC 7440). Serves one folder:
 * a leading "/" means that folder (as tftpd-hpa -s), ".." and links out of it are refused. Each
 * transfer has its own port (its TID); lost packets are sent again after the timeout, duplicate
 * ACKs are ignored, a client that vanishes is dropped after its retries, and each client address
 * may run a few transfers at once.
 */
import dgram from 'node:dgram';
import { realpathSync } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { ServeEvent } from '../../../shared/bootserver';

const Op = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;
const Err = { undefined: 0, notFound: 1, access: 2, illegal: 4, unknownTid: 5, badOption: 8 } as const;

export interface TftpServerOptions {
  root: string;
  address?: string;
  port?: number;
  /** Wait for an ACK before sending again, ms (a client's "timeout" option overrides it). */
  timeoutMs?: number;
  retries?: number;
  maxBlksize?: number;
  maxWindow?: number;
  /** Transfers at once, in all and per client address. */
  maxTransfers?: number;
  maxPerClient?: number;
  onEvent?: (e: ServeEvent) => void;
}

function errorPacket(code: number, msg: string): Buffer {
  return Buffer.concat([Buffer.from([0, Op.ERROR, 0, code]), Buffer.from(`${msg}\0`, 'latin1')]);
}

/** Parses a request: file name, mode, options (lower-case names). */
export function parseRequest(msg: Buffer): { op: number; file: string; mode: string; options: Record<string, string> } | undefined {
  if (msg.length < 4) return undefined;
  const op = msg.readUInt16BE(0);
  const parts = msg.subarray(2).toString('latin1').split('\0');
  if (parts.length < 3) return undefined;
  const [file, mode, ...rest] = parts as [string, string, ...string[]];
  const options: Record<string, string> = {};
  for (let i = 0; i + 1 < rest.length; i += 2) if (rest[i]) options[rest[i]!.toLowerCase()] = rest[i + 1]!;
  return { op, file, mode: mode.toLowerCase(), options };
}

/** The file a request names inside root, or a reason to refuse it. */
export async function resolveInRoot(root: string, name: string): Promise<{ ok: true; file: string } | { ok: false; code: number; reason: string }> {
  if (name.length === 0 || name.length > 255 || name.includes('\0')) return { ok: false, code: Err.illegal, reason: 'bad file name' };
  const rel = name.replace(/\\/g, '/').replace(/^\/+/, '');
  if (rel.split('/').some((p) => p === '..')) return { ok: false, code: Err.access, reason: 'no ".." in file names' };
  const file = path.join(root, rel);
  let real: string;
  try {
    real = await realpath(file);
  } catch {
    return { ok: false, code: Err.notFound, reason: 'file not found' };
  }
  if (real !== root && !real.startsWith(`${root}${path.sep}`)) return { ok: false, code: Err.access, reason: 'outside the served folder' };
  const st = await stat(real);
  if (!st.isFile()) return { ok: false, code: Err.notFound, reason: 'not a file' };
  return { ok: true, file: real };
}

/** netascii (RFC 764): LF -> CR LF, CR -> CR NUL. */
function toNetascii(b: Buffer): Buffer {
  const out: number[] = [];
  for (const c of b) {
    if (c === 0x0a) out.push(0x0d, 0x0a);
    else if (c === 0x0d) out.push(0x0d, 0x00);
    else out.push(c);
  }
  return Buffer.from(out);
}

export class TftpServer {
  private sock: dgram.Socket | undefined;
  private readonly root: string;
  private readonly transfers = new Set<Transfer>();
  readonly stats = { requests: 0, served: 0, failed: 0, bytes: 0 };

  constructor(private readonly o: TftpServerOptions) {
    this.root = realpathSync(o.root);
  }

  async start(): Promise<{ address: string; port: number }> {
    const sock = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ port: this.o.port ?? 69, address: this.o.address ?? '0.0.0.0' }, () => {
        sock.removeListener('error', reject);
        resolve();
      });
    });
    sock.on('message', (msg, rinfo) => void this.request(msg, rinfo));
    sock.on('error', () => undefined);
    this.sock = sock;
    const a = sock.address();
    return { address: a.address, port: a.port };
  }

  async stop(): Promise<void> {
    for (const t of this.transfers) t.abort('server stopping');
    await new Promise<void>((r) => (this.sock ? this.sock.close(() => r()) : r()));
    this.sock = undefined;
  }

  private emit(e: ServeEvent) {
    this.o.onEvent?.(e);
  }

  private async request(msg: Buffer, rinfo: dgram.RemoteInfo): Promise<void> {
    const req = parseRequest(msg);
    const reply = (code: number, text: string) => this.sock?.send(errorPacket(code, text), rinfo.port, rinfo.address);
    if (!req) return;
    if (req.op === Op.WRQ) return void reply(Err.access, 'read-only server');
    if (req.op !== Op.RRQ) return;
    this.stats.requests++;
    const client = `${rinfo.address}:${rinfo.port}`;
    const refuse = (code: number, reason: string) => {
      this.stats.failed++;
      reply(code, reason);
      this.emit({ kind: 'tftp', client, file: req.file, status: 'refused', bytes: 0, message: reason, at: Date.now() });
    };
    if (req.mode !== 'octet' && req.mode !== 'netascii') return refuse(Err.illegal, `mode ${req.mode} is not served`);
    const mine = [...this.transfers].filter((t) => t.clientAddress === rinfo.address).length;
    if (this.transfers.size >= (this.o.maxTransfers ?? 64) || mine >= (this.o.maxPerClient ?? 8)) return refuse(Err.undefined, 'too many transfers: try again');
    const r = await resolveInRoot(this.root, req.file);
    if (!r.ok) return refuse(r.code, r.reason);
    let fh: FileHandle;
    try {
      fh = await open(r.file, 'r');
    } catch {
      return refuse(Err.access, 'cannot read the file');
    }
    const size = (await fh.stat()).size;
    const t = new Transfer(fh, size, req, rinfo, this.o, () => this.transfers.delete(t));
    this.transfers.add(t);
    this.emit({ kind: 'tftp', client, file: req.file, status: 'started', bytes: 0, at: Date.now() });
    t.begin().then(
      (bytes) => {
        this.stats.served++;
        this.stats.bytes += bytes;
        this.emit({ kind: 'tftp', client, file: req.file, status: 'done', bytes, at: Date.now() });
      },
      (e: Error) => {
        this.stats.failed++;
        this.emit({ kind: 'tftp', client, file: req.file, status: 'failed', bytes: t.sent, message: e.message, at: Date.now() });
      },
    );
  }
}

/** One read transfer on its own port. */
class Transfer {
  readonly clientAddress: string;
  sent = 0;
  private readonly sock = dgram.createSocket('udp4');
  private blksize = 512;
  private window = 1;
  private timeoutMs: number;
  private netascii: Buffer | undefined;
  private abortWith: ((e: Error) => void) | undefined;
  private cache: { start: number; data: Buffer } | undefined;

  constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
    private readonly req: NonNullable<ReturnType<typeof parseRequest>>,
    private readonly peer: dgram.RemoteInfo,
    private readonly o: TftpServerOptions,
    private readonly done: () => void,
  ) {
    this.clientAddress = peer.address;
    this.timeoutMs = o.timeoutMs ?? 1000;
  }

  abort(reason: string) {
    this.abortWith?.(new Error(reason));
  }

  private send(b: Buffer) {
    this.sock.send(b, this.peer.port, this.peer.address);
  }

  /** Bytes of block `n` (1-based), from the read-ahead cache when it holds them (no await then). */
  private block(n: number): Buffer | Promise<Buffer> {
    const start = (n - 1) * this.blksize;
    if (this.netascii) return this.netascii.subarray(start, start + this.blksize);
    const end = Math.min(start + this.blksize, this.size);
    if (start >= end) return Buffer.alloc(0);
    const c = this.cache;
    if (c && start >= c.start && end <= c.start + c.data.length) return c.data.subarray(start - c.start, end - c.start);
    return this.fill(start).then(() => this.block(n));
  }

  /** Reads ahead from `start` (at least a few windows, 1 MiB or more). */
  private async fill(start: number): Promise<void> {
    const len = Math.min(Math.max(this.blksize * this.window * 4, 1 << 20), this.size - start);
    const buf = Buffer.allocUnsafe(len);
    const { bytesRead } = await this.fh.read(buf, 0, len, start);
    this.cache = { start, data: buf.subarray(0, bytesRead) };
  }

  async begin(): Promise<number> {
    try {
      await new Promise<void>((r) => this.sock.bind(0, () => r()));
      if (this.req.mode === 'netascii') this.netascii = toNetascii(await this.fh.readFile());
      const total = this.netascii ? this.netascii.length : this.size;
      // Options (RFC 2347): answer those we take; an OACK then waits for ACK 0.
      const oack: Record<string, string> = {};
      const opt = this.req.options;
      if (opt.blksize !== undefined) {
        const b = Number(opt.blksize);
        if (Number.isInteger(b) && b >= 8) {
          this.blksize = Math.min(b, this.o.maxBlksize ?? 65464);
          oack.blksize = String(this.blksize);
        }
      }
      if (opt.tsize !== undefined) oack.tsize = String(total);
      if (opt.timeout !== undefined) {
        const t = Number(opt.timeout);
        if (Number.isInteger(t) && t >= 1 && t <= 255) {
          this.timeoutMs = t * 1000;
          oack.timeout = String(t);
        }
      }
      if (opt.windowsize !== undefined) {
        const w = Number(opt.windowsize);
        if (Number.isInteger(w) && w >= 1 && w <= 65535) {
          this.window = Math.min(w, this.o.maxWindow ?? 64);
          oack.windowsize = String(this.window);
        }
      }
      const blocks = Math.floor(total / this.blksize) + 1;
      return await new Promise<number>((resolve, reject) => {
        const retries = this.o.retries ?? 5;
        let tries = 0;
        let acked = Object.keys(oack).length > 0 ? -1 : 0; // -1: waiting for ACK 0 of the OACK
        let timer: NodeJS.Timeout | undefined;
        let finished = false;
        const finish = (e?: Error) => {
          if (finished) return;
          finished = true;
          clearTimeout(timer);
          if (e) reject(e);
          else resolve(this.sent);
        };
        this.abortWith = (e) => {
          this.send(errorPacket(Err.undefined, e.message));
          finish(e);
        };
        // One timer per transfer, re-armed with refresh() on every send (cheap in the hot path).
        const arm = () => {
          if (timer) timer.refresh();
          else
            timer = setTimeout(() => {
              if (finished) return;
              if (++tries > retries) return finish(new Error(`the client stopped answering (after ${retries} retries)`));
              void sendWindow();
            }, this.timeoutMs);
        };
        const sendWindow = async () => {
          if (acked === -1) {
            this.send(Buffer.concat([Buffer.from([0, Op.OACK]), Buffer.from(`${Object.entries(oack).flatMap(([k, v]) => [k, v]).join('\0')}\0`, 'latin1')]));
            return arm();
          }
          const last = Math.min(acked + this.window, blocks);
          for (let n = acked + 1; n <= last; n++) {
            const b = this.block(n);
            const data = b instanceof Promise ? await b : b;
            const head = Buffer.allocUnsafe(4);
            head.writeUInt16BE(Op.DATA, 0);
            head.writeUInt16BE(n & 0xffff, 2); // block numbers roll over to 0 past 65535
            this.sock.send([head, data], this.peer.port, this.peer.address); // gather: no copy
          }
          arm();
        };
        this.sock.on('message', (m, r) => {
          if (finished) return;
          if (r.address !== this.peer.address || r.port !== this.peer.port) {
            // RFC 1350: another TID gets an error; this transfer goes on.
            this.sock.send(errorPacket(Err.unknownTid, 'unknown transfer ID'), r.port, r.address);
            return;
          }
          if (m.length < 4) return;
          const op = m.readUInt16BE(0);
          if (op === Op.ERROR) return finish(new Error(`the client ended the transfer: ${m.subarray(4).toString('latin1').replace(/\0.*$/, '') || `error ${m.readUInt16BE(2)}`}`));
          if (op !== Op.ACK) return;
          const n16 = m.readUInt16BE(2);
          if (acked === -1) {
            if (n16 !== 0) return;
            acked = 0;
          } else {
            // Map the 16-bit number to the block in flight: within (acked, acked + window].
            let n = acked - (acked & 0xffff) + n16;
            if (n < acked) n += 0x10000;
            if (n <= acked || n > acked + this.window) return; // a duplicate or stray ACK
            for (let k = acked + 1; k <= n; k++) this.sent += Math.max(0, Math.min(this.blksize, total - (k - 1) * this.blksize));
            acked = n;
          }
          tries = 0;
          if (acked >= blocks) return finish();
          void sendWindow();
        });
        void sendWindow();
      });
    } finally {
      this.sock.close();
      await this.fh.close().catch(() => undefined);
      this.done();
    }
  }
}
