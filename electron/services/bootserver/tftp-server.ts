/**
 * Bootchain's read-only TFTP server: RFC 1350, with option negotiation (RFC 2347), blksize up to
 * 65464 (RFC 2348), tsize and timeout (RFC 2349) and windowsize (RFC 7440). Serves one folder:
 * a leading "/" means that folder (as tftpd-hpa -s), ".." and links out of it are refused. Each
 * transfer has its own port (its TID); lost packets are sent again after the timeout, duplicate
 * ACKs are ignored, a client that vanishes is dropped after its retries.
 *
 * Made to hold on a LAN where anyone can send it anything (TFTP_LIMITS): a request is admitted
 * or refused at once, before any await, against a per-client and a total limit; the file is
 * read in 64 KiB chunks shared by every transfer of the same file (a bounded cache), and a
 * transfer holds only the chunks its window needs; netascii is converted chunk by chunk as the
 * blocks go out; option values are clamped to documented ceilings; every transfer has an idle
 * and a whole-transfer deadline; refusals are logged once per client per interval.
 */
import dgram from 'node:dgram';
import { realpathSync } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { ServeEvent } from '../../../shared/bootserver';
import { loadPump, type NativePump } from './native';
import { RefusalLog } from './refusal-log';

const Op = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;
const Err = { undefined: 0, notFound: 1, access: 2, illegal: 4, unknownTid: 5, badOption: 8 } as const;

/** The documented limits and ceilings (README, "Serving from this computer"). */
export const TFTP_LIMITS = {
  /** Transfers at once; a request beyond is not answered (the client sends it again later). */
  maxTransfers: 256,
  /** Transfers at once per client address; a request beyond gets an error. */
  maxPerClient: 8,
  /** Wait for an ACK before sending again (the client's `timeout` option, when taken, overrides it). */
  timeoutMs: 1000,
  retries: 5,
  /** Largest `timeout` option taken, seconds; a larger one is left out of the OACK (RFC 2349). */
  maxTimeoutS: 5,
  /** A transfer with no new ACK for this long ends, whatever its timeout and retries. */
  idleMs: 10_000,
  /** No transfer lasts longer (a client that ACKs a block now and then cannot hold a slot). */
  maxTransferMs: 10 * 60_000,
  /** RFC 2348's largest block. */
  maxBlksize: 65464,
  /** RFC 7440 window, in blocks and in bytes (windowsize x blksize): the larger is cut down. */
  maxWindow: 64,
  maxWindowBytes: 64 * 1024,
  /** Chunks of files kept for all transfers together. */
  cacheBytes: 16 << 20,
  /** Refusals: one line per client address per interval. */
  refusalLogMs: 10_000,
} as const;

/** File chunk: the unit of reading, caching and read-ahead. */
export const CHUNK = 64 * 1024;

export interface TftpServerOptions {
  root: string;
  address?: string;
  port?: number;
  timeoutMs?: number;
  retries?: number;
  maxBlksize?: number;
  maxWindow?: number;
  maxTransfers?: number;
  maxPerClient?: number;
  maxTimeoutS?: number;
  idleMs?: number;
  maxTransferMs?: number;
  refusalLogMs?: number;
  /**
   * Octet transfers by the native pump (native/tftp_pump.c: the data loop on its own thread,
   * a few syscalls per block) when it is built and loads; false: always the JS loop. Default true
   * (BOOTCHAIN_TFTP_NATIVE=0 turns it off too).
   */
  native?: boolean;
  onEvent?: (e: ServeEvent) => void;
}

function errorPacket(code: number, msg: string): Buffer {
  return Buffer.concat([Buffer.from([0, Op.ERROR, 0, code]), Buffer.from(`${msg}\0`, 'latin1')]);
}

/** An OACK packet (RFC 2347): the accepted options as name\0value\0 pairs. */
function oackPacket(oack: Record<string, string>): Buffer {
  return Buffer.from(`\0\x06${Object.entries(oack).flatMap(([k, v]) => [k, v]).join('\0')}\0`, 'latin1');
}

/** Parses a request: file name, mode, options (lower-case names); undefined when malformed. */
export function parseRequest(msg: Buffer): { op: number; file: string; mode: string; options: Record<string, string> } | undefined {
  if (msg.length < 4 || msg.length > 1024) return undefined;
  const op = msg.readUInt16BE(0);
  const parts = msg.subarray(2).toString('latin1').split('\0');
  if (parts.length < 3) return undefined;
  const [file, mode, ...rest] = parts as [string, string, ...string[]];
  const options: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i + 1 < rest.length && i < 32; i += 2) if (rest[i]) options[rest[i]!.toLowerCase()] = rest[i + 1]!;
  return { op, file, mode: mode.toLowerCase(), options };
}

/** The file a request names inside root, or a reason to refuse it. */
export async function resolveInRoot(root: string, name: string): Promise<{ ok: true; file: string } | { ok: false; code: number; reason: string }> {
  if (name.length === 0 || name.length > 255 || name.includes('\0')) return { ok: false, code: Err.illegal, reason: 'bad file name' };
  const rel = name.replace(/\\/g, '/').replace(/^\/+/, '');
  if (rel.split('/').some((p) => p === '..')) return { ok: false, code: Err.access, reason: 'no ".." in file names' };
  const file = path.join(root, rel);
  try {
    const real = await realpath(file);
    if (real !== root && !real.startsWith(`${root}${path.sep}`)) return { ok: false, code: Err.access, reason: 'outside the served folder' };
    if (!(await stat(real)).isFile()) return { ok: false, code: Err.notFound, reason: 'not a file' };
    return { ok: true, file: real };
  } catch {
    return { ok: false, code: Err.notFound, reason: 'file not found' };
  }
}

/** A whole number option value (digits only, as RFC 2347 options are), else undefined. */
function intOption(v: string | undefined): number | undefined {
  return v !== undefined && /^\d{1,6}$/.test(v) ? Number(v) : undefined;
}

/**
 * What the server answers to a request's options (RFC 2347): blksize cut to the ceiling (RFC
 * 2348 lets the server choose less), windowsize cut so that the window stays within
 * maxWindowBytes (RFC 7440 likewise), timeout taken only up to maxTimeoutS (RFC 2349 has the
 * server echo the value or leave it out), tsize only in octet mode (the size after netascii
 * conversion is not known before it is sent; tftpd-hpa leaves it out too).
 */
export function negotiate(options: Record<string, string>, mode: string, size: number, o: { maxBlksize?: number; maxWindow?: number; maxTimeoutS?: number } = {}): { blksize: number; window: number; timeoutS?: number; oack: Record<string, string> } {
  const oack: Record<string, string> = {};
  let blksize = 512;
  let window = 1;
  let timeoutS: number | undefined;
  const b = intOption(options.blksize);
  if (b !== undefined && b >= 8) {
    blksize = Math.min(b, o.maxBlksize ?? TFTP_LIMITS.maxBlksize, TFTP_LIMITS.maxBlksize);
    oack.blksize = String(blksize);
  }
  if (options.tsize !== undefined && mode === 'octet') oack.tsize = String(size);
  const t = intOption(options.timeout);
  if (t !== undefined && t >= 1 && t <= (o.maxTimeoutS ?? TFTP_LIMITS.maxTimeoutS)) {
    timeoutS = t;
    oack.timeout = String(t);
  }
  const w = intOption(options.windowsize);
  if (w !== undefined && w >= 1) {
    window = Math.max(1, Math.min(w, o.maxWindow ?? TFTP_LIMITS.maxWindow, Math.floor(TFTP_LIMITS.maxWindowBytes / blksize)));
    oack.windowsize = String(window);
  }
  return { blksize, window, ...(timeoutS !== undefined ? { timeoutS } : {}), oack };
}

/** Blocks per chunk at a block size (a chunk holds up to 64 KiB of the file). */
const perChunk = (blksize: number) => Math.max(1, Math.floor(CHUNK / blksize));

/**
 * Ready-made DATA packets of served files, by file, block size and chunk (a run of up to 64 KiB
 * of blocks), shared by every transfer: 200 stations fetching snponly.efi at blksize 1432 read
 * it once, and each packet goes out as it is, one buffer, no header to write or copy. Block n's
 * header is the same in every transfer (block numbers are the file's, RFC 1350). A chunk is
 * read with one scattered read straight into its packets, never changed afterwards, and the
 * least recently used are dropped past `maxBytes` (a transfer may keep sending from a dropped
 * one). The raw 64 KiB chunks (netascii's input, HTTP's bodies) come from the same cache.
 */
export class PacketCache {
  private readonly map = new Map<string, Buffer[] | Promise<Buffer[]>>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** The packets of chunk `j` (blocks j·K+1 … (j+1)·K) of the file `id`, read with `fh` when not held. */
  get(id: string, size: number, blksize: number, j: number, fh: FileHandle): Buffer[] | Promise<Buffer[]> {
    const key = `${id}:${blksize}:${j}`;
    const hit = this.map.get(key);
    if (hit) {
      this.map.delete(key); // least recently used first
      this.map.set(key, hit);
      return hit;
    }
    const p = readPackets(fh, size, blksize, j);
    this.map.set(key, p);
    p.then(
      (packets) => {
        if (this.map.get(key) !== p) return;
        this.map.set(key, packets);
        this.bytes += packets.reduce((n, b) => n + b.length, 0);
        for (const [k, v] of this.map) {
          if (this.bytes <= this.maxBytes) break;
          if (v instanceof Promise) continue;
          this.map.delete(k);
          this.bytes -= v.reduce((n, b) => n + b.length, 0);
        }
      },
      () => {
        if (this.map.get(key) === p) this.map.delete(key);
      },
    );
    return p;
  }

  /** Raw chunk `j` (bytes j·64 KiB …) of the file `id`. */
  async chunk(id: string, size: number, j: number, fh: FileHandle): Promise<Buffer> {
    return (await this.get(id, size, CHUNK, j, fh))[0]!.subarray(4);
  }
}

/** The cache of the boot server's files, one per process: TFTP and HTTP share it. */
export const fileCache = new PacketCache(TFTP_LIMITS.cacheBytes);

/** The identity of an open file's content in the cache (a changed file is another file). */
export const fileId = (st: { dev: number; ino: number; size: number; mtimeMs: number }) => `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;

/** Reads chunk `j` into DATA packets (one buffer, views per block; a final empty block included). */
async function readPackets(fh: FileHandle, size: number, blksize: number, j: number): Promise<Buffer[]> {
  const k = perChunk(blksize);
  const blocks = Math.floor(size / blksize) + 1;
  const first = j * k + 1;
  const count = Math.min(k, blocks - first + 1);
  const lens = Array.from({ length: count }, (_, s) => Math.max(0, Math.min(blksize, size - (first + s - 1) * blksize)));
  const buf = Buffer.allocUnsafe(lens.reduce((n, l) => n + l + 4, 0));
  const packets: Buffer[] = [];
  const data: Buffer[] = [];
  let off = 0;
  for (let s = 0; s < count; s++) {
    const n = first + s;
    buf[off] = 0;
    buf[off + 1] = Op.DATA;
    buf[off + 2] = (n >> 8) & 0xff; // block numbers roll over to 0 past 65535
    buf[off + 3] = n & 0xff;
    packets.push(buf.subarray(off, off + 4 + lens[s]!));
    if (lens[s]! > 0) data.push(buf.subarray(off + 4, off + 4 + lens[s]!));
    off += 4 + lens[s]!;
  }
  const want = lens.reduce((n, l) => n + l, 0);
  if (want > 0) {
    const { bytesRead } = await fh.readv(data, (first - 1) * blksize);
    if (bytesRead !== want) throw new Error('the file got shorter while being sent');
  }
  return packets;
}

/** netascii (RFC 764): LF -> CR LF, CR -> CR NUL, byte by byte (no state across chunks). */
export function toNetascii(b: Buffer): Buffer {
  let extra = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0x0a || c === 0x0d) extra++;
  }
  if (extra === 0) return b;
  const out = Buffer.allocUnsafe(b.length + extra);
  let j = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0x0a) {
      out[j++] = 0x0d;
      out[j++] = 0x0a;
    } else if (c === 0x0d) {
      out[j++] = 0x0d;
      out[j++] = 0x00;
    } else out[j++] = c;
  }
  return out;
}

export class TftpServer {
  private sock: dgram.Socket | undefined;
  private readonly root: string;
  /** Transfers by client address:port (a repeated RRQ from the same port is the same request). */
  private readonly transfers = new Map<string, Transfer>();
  private readonly perClient = new Map<string, number>();
  private readonly cache = fileCache;
  private readonly refusals: RefusalLog;
  readonly stats = { requests: 0, served: 0, failed: 0, bytes: 0, refused: 0, malformed: 0, native: 0 };
  /** The native pump for octet transfers, or why there is none (then every transfer runs in JS). */
  readonly pump: NativePump | undefined;
  readonly pumpReason: string | undefined;

  constructor(private readonly o: TftpServerOptions) {
    this.root = realpathSync(o.root);
    this.refusals = new RefusalLog({ kind: 'tftp', intervalMs: o.refusalLogMs ?? TFTP_LIMITS.refusalLogMs, emit: (e) => this.emit(e) });
    const p = o.native === false ? { reason: 'turned off (native: false)' } : loadPump();
    this.pump = p.pump;
    this.pumpReason = p.reason;
  }

  /** Transfers running now (for tests and the live panel). */
  get active(): number {
    return this.transfers.size;
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
    sock.on('message', (msg, rinfo) => {
      try {
        this.request(msg, rinfo);
      } catch {
        this.stats.malformed++;
      }
    });
    sock.on('error', () => undefined);
    this.sock = sock;
    const a = sock.address();
    return { address: a.address, port: a.port };
  }

  async stop(): Promise<void> {
    for (const t of this.transfers.values()) t.abort('server stopping');
    this.refusals.flush();
    await new Promise<void>((r) => (this.sock ? this.sock.close(() => r()) : r()));
    this.sock = undefined;
  }

  private emit(e: ServeEvent) {
    this.o.onEvent?.(e);
  }

  /** Admits or refuses a request at once (no await before the slot is counted). */
  private request(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const req = parseRequest(msg);
    const reply = (code: number, text: string) => this.sock?.send(errorPacket(code, text), rinfo.port, rinfo.address);
    if (!req) {
      this.stats.malformed++;
      return this.refusals.refuse(rinfo.address, 'malformed request');
    }
    if (req.op === Op.WRQ) {
      this.stats.refused++;
      reply(Err.access, 'read-only server');
      return this.refusals.refuse(rinfo.address, 'write request (read-only server)', req.file);
    }
    if (req.op !== Op.RRQ) return;
    const key = `${rinfo.address}:${rinfo.port}`;
    if (this.transfers.has(key)) return; // the client sent its RRQ again: the transfer resends by itself
    this.stats.requests++;
    const refuse = (code: number | undefined, reason: string) => {
      this.stats.refused++;
      this.stats.failed++;
      if (code !== undefined) reply(code, reason);
      this.refusals.refuse(rinfo.address, reason, req.file);
    };
    if (req.mode !== 'octet' && req.mode !== 'netascii') return refuse(Err.illegal, `mode ${req.mode} is not served`);
    const mine = this.perClient.get(rinfo.address) ?? 0;
    if (mine >= (this.o.maxPerClient ?? TFTP_LIMITS.maxPerClient)) return refuse(Err.undefined, 'too many transfers: try again');
    // Full: say nothing, as dnsmasq does (it stops reading its socket); the client's next
    // RRQ comes in when a slot is free, where an error would end its boot.
    if (this.transfers.size >= (this.o.maxTransfers ?? TFTP_LIMITS.maxTransfers)) return refuse(undefined, 'server full (all transfers busy)');
    const t = new Transfer(this.root, req, rinfo, this.o, this.cache, req.mode === 'octet' ? this.pump : undefined, () => this.emit({ kind: 'tftp', client: key, file: req.file, status: 'started', bytes: 0, at: Date.now() }));
    this.transfers.set(key, t);
    this.perClient.set(rinfo.address, mine + 1);
    void t.run().then(
      (r) => {
        if (r.kind === 'refused') return refuse(r.code, r.reason);
        this.stats.served++;
        if (t.native) this.stats.native++;
        this.stats.bytes += r.bytes;
        this.emit({ kind: 'tftp', client: key, file: req.file, status: 'done', bytes: r.bytes, at: Date.now() });
      },
      (e: Error) => {
        this.stats.failed++;
        this.emit({ kind: 'tftp', client: key, file: req.file, status: 'failed', bytes: t.sent, message: e.message, at: Date.now() });
      },
    )
      .finally(() => {
        this.transfers.delete(key);
        const n = (this.perClient.get(rinfo.address) ?? 1) - 1;
        if (n > 0) this.perClient.set(rinfo.address, n);
        else this.perClient.delete(rinfo.address);
      })
      .catch(() => undefined); // an event listener that threw: the slot is released all the same
  }
}

type TransferEnd = { kind: 'done'; bytes: number } | { kind: 'refused'; code: number; reason: string };

/**
 * One read transfer on its own port. The hot path — an ACK in, the next window out — runs
 * without an await, a promise or a copy when the chunks it needs are held (they are read
 * ahead while the current one is being sent).
 */
class Transfer {
  sent = 0;
  /** Served by the native pump. */
  native = false;
  private sock: dgram.Socket | undefined;
  private fh: FileHandle | undefined;
  private id = '';
  private size = 0;
  private blksize = 512;
  private window = 1;
  private timeoutMs: number;
  /** Packet chunks held by this transfer (the window's and the one read ahead), by index. */
  private readonly held = new Map<number, Buffer[]>();
  /** Blocks per chunk, and in the file (octet). */
  private k = 1;
  private blocks = 1;
  private loading: number | undefined;
  /** The chunk range the last slide() looked at (it does nothing while that stays the same). */
  private slid = -1;
  private netascii: NetasciiBlocks | undefined;
  private abortWith: ((e: Error) => void) | undefined;
  private aborted: string | undefined;

  constructor(
    private readonly root: string,
    private readonly req: NonNullable<ReturnType<typeof parseRequest>>,
    private readonly peer: dgram.RemoteInfo,
    private readonly o: TftpServerOptions,
    private readonly cache: PacketCache,
    private readonly pump: NativePump | undefined,
    private readonly onStarted: () => void,
  ) {
    this.timeoutMs = o.timeoutMs ?? TFTP_LIMITS.timeoutMs;
  }

  abort(reason: string) {
    this.aborted = reason;
    this.abortWith?.(new Error(reason));
  }

  async run(): Promise<TransferEnd> {
    try {
      const r = await resolveInRoot(this.root, this.req.file);
      if (!r.ok) return { kind: 'refused', code: r.code, reason: r.reason };
      try {
        this.fh = await open(r.file, 'r');
      } catch {
        return { kind: 'refused', code: Err.access, reason: 'cannot read the file' };
      }
      const st = await this.fh.stat();
      this.size = st.size;
      this.id = fileId(st);
      const local = this.o.address && this.o.address !== '0.0.0.0' ? this.o.address : undefined;
      if (this.pump && this.peer.family === 'IPv4') return { kind: 'done', bytes: await this.sendNative(this.pump, local) };
      const sock = dgram.createSocket('udp4');
      this.sock = sock;
      sock.on('error', () => undefined);
      const step = (f: (done: () => void) => void) =>
        new Promise<void>((res, rej) => {
          sock.once('error', rej);
          f(() => {
            sock.removeListener('error', rej);
            res();
          });
        });
      await step((done) => sock.bind(0, local, done));
      // Connected, as tftpd-hpa's: the kernel keeps the route and drops other senders' packets
      // (they get ICMP port unreachable), and a client that is gone shows as ECONNREFUSED.
      await step((done) => sock.connect(this.peer.port, this.peer.address, done));
      if (this.aborted) throw new Error(this.aborted);
      this.onStarted();
      return { kind: 'done', bytes: await this.send() };
    } finally {
      this.sock?.close();
      await this.fh?.close().catch(() => undefined);
    }
  }

  /**
   * An octet transfer by the native pump: the same options, OACK, timeouts and deadlines as
   * send(); the pump makes its own socket (bound to the server's address, connected to the
   * client) and reads the file by its descriptor, which stays open until the pump has ended.
   */
  private sendNative(pump: NativePump, local: string | undefined): Promise<number> {
    const { blksize, window, timeoutS, oack } = negotiate(this.req.options, this.req.mode, this.size, this.o);
    if (timeoutS !== undefined) this.timeoutMs = timeoutS * 1000;
    return new Promise<number>((resolve, reject) => {
      const h = pump.start(
        {
          ...(local ? { local } : {}),
          peer: this.peer.address,
          port: this.peer.port,
          fd: this.fh!.fd,
          size: this.size,
          blksize,
          window,
          timeoutMs: this.timeoutMs,
          retries: this.o.retries ?? TFTP_LIMITS.retries,
          idleMs: this.o.idleMs ?? TFTP_LIMITS.idleMs,
          maxMs: this.o.maxTransferMs ?? TFTP_LIMITS.maxTransferMs,
          ...(Object.keys(oack).length > 0 ? { oack: oackPacket(oack) } : {}),
        },
        (done, error, bytes) => {
          this.sent = bytes;
          if (!done) return;
          this.abortWith = undefined;
          if (error !== null) reject(new Error(error));
          else resolve(bytes);
        },
      );
      this.native = true;
      this.abortWith = (e) => h.abort(e.message);
      this.onStarted();
      if (this.aborted) h.abort(this.aborted);
    });
  }

  /** The DATA packet of block `n` (1-based) when held now, else undefined (then `need(n)` gets it). */
  private packetNow(n: number): Buffer | Buffer[] | undefined {
    if (this.netascii) {
      const b = this.netascii.get(n);
      if (!b) return undefined;
      const h = Buffer.allocUnsafe(4);
      h[0] = 0;
      h[1] = Op.DATA;
      h[2] = (n >> 8) & 0xff;
      h[3] = n & 0xff;
      return [h, b];
    }
    const k = this.k;
    return this.held.get(Math.floor((n - 1) / k))?.[(n - 1) % k];
  }

  /** Makes block `n` available (reads or converts what it needs). */
  private async need(n: number): Promise<void> {
    if (this.netascii) return this.netascii.fill(n);
    const j = Math.floor((n - 1) / this.k);
    if (!this.held.has(j)) this.held.set(j, await this.cache.get(this.id, this.size, this.blksize, j, this.fh!));
  }

  /** After block `n` is acknowledged: drops chunks behind the window, reads the next one ahead. */
  private slide(n: number): void {
    if (this.netascii) return this.netascii.release(n);
    const k = this.k;
    const first = Math.floor(n / k); // the chunk of block n + 1
    const ahead = Math.min(Math.floor((n + this.window - 1) / k) + 1, Math.floor(this.blocks / k) + 1);
    if (first * 65536 + ahead === this.slid) return; // the per-ACK path: nothing to do
    this.slid = first * 65536 + ahead;
    for (const j of this.held.keys()) if (j < first) this.held.delete(j);
    for (let j = first; j <= ahead && j * k < this.blocks; j++) {
      if (this.held.has(j) || this.loading === j) continue;
      const c = this.cache.get(this.id, this.size, this.blksize, j, this.fh!);
      if (!(c instanceof Promise)) this.held.set(j, c);
      else if (this.loading === undefined) {
        this.loading = j;
        c.then(
          (packets) => {
            if (this.loading === j) this.loading = undefined;
            this.held.set(j, packets);
            this.slid = -1; // look again: another chunk may be wanted ahead
          },
          () => {
            if (this.loading === j) this.loading = undefined;
          },
        );
      }
    }
  }

  /** Bytes of blocks (from, to] (for the sent count). */
  private bytesIn(from: number, to: number): number {
    if (!this.netascii) return Math.min(to * this.blksize, this.size) - Math.min(from * this.blksize, this.size);
    let n = 0;
    for (let k = from + 1; k <= to; k++) n += this.netascii.get(k)?.length ?? 0;
    return n;
  }

  private send(): Promise<number> {
    const sock = this.sock!;
    const { blksize, window, timeoutS, oack } = negotiate(this.req.options, this.req.mode, this.size, this.o);
    this.blksize = blksize;
    this.window = window;
    if (timeoutS !== undefined) this.timeoutMs = timeoutS * 1000;
    this.k = perChunk(blksize);
    this.blocks = Math.floor(this.size / blksize) + 1;
    // netascii reads the file's chunks as one 64 KiB "block" each, and converts them.
    if (this.req.mode === 'netascii') this.netascii = new NetasciiBlocks(blksize, (j) => this.cache.chunk(this.id, this.size, j, this.fh!), this.size);
    // Octet: the block count is known; netascii: it is known when the last block is made.
    let blocks = this.netascii ? Infinity : this.blocks;
    const idleMs = this.o.idleMs ?? TFTP_LIMITS.idleMs;
    const retries = this.o.retries ?? TFTP_LIMITS.retries;
    const maxMs = this.o.maxTransferMs ?? TFTP_LIMITS.maxTransferMs;
    return new Promise<number>((resolve, reject) => {
      let tries = 0;
      let acked = Object.keys(oack).length > 0 ? -1 : 0; // -1: waiting for ACK 0 of the OACK
      let cursor = 1; // the next block to send in the current window
      let lastProgress = Date.now();
      let timer: NodeJS.Timeout | undefined;
      let finished = false;
      let waiting = false; // for a chunk to be read (or converted)
      const deadline = setTimeout(() => this.abort(`the transfer took longer than ${Math.round(maxMs / 1000)} s`), maxMs);
      const finish = (e?: Error) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        clearTimeout(deadline);
        if (e) reject(e);
        else resolve(this.sent);
      };
      this.abortWith = (e) => {
        if (!finished) sock.send(errorPacket(Err.undefined, e.message));
        finish(e);
      };
      if (this.aborted) return this.abort(this.aborted);
      // The resend timer is not touched per packet (that was the lockstep path's largest cost):
      // a send notes the time; the one timer, when it fires, waits on for what is left of
      // the timeout after the last send, or resends.
      let sentAt = 0;
      const onTimer = () => {
        timer = undefined;
        if (finished) return;
        const now = Date.now();
        if (now - sentAt < this.timeoutMs) {
          timer = setTimeout(onTimer, this.timeoutMs - (now - sentAt));
          return;
        }
        if (now - lastProgress >= idleMs) return finish(new Error(`the client stopped answering (nothing for ${Math.round(idleMs / 1000)} s)`));
        if (++tries > retries) return finish(new Error(`the client stopped answering (after ${retries} retries)`));
        cursor = acked + 1;
        pump();
      };
      const arm = () => {
        sentAt = Date.now();
        timer ??= setTimeout(onTimer, this.timeoutMs);
      };
      // Sends the rest of the window; a block not held yet is fetched, then it goes on.
      const pump = (): void => {
        if (finished || waiting) return;
        if (acked === -1) {
          sock.send(oackPacket(oack));
          return arm();
        }
        const last = Math.min(acked + window, blocks);
        while (cursor <= last) {
          const packet = this.packetNow(cursor);
          if (packet === undefined) {
            waiting = true;
            this.need(cursor).then(
              () => {
                waiting = false;
                pump();
              },
              (e: Error) => finish(e),
            );
            return;
          }
          sock.send(packet); // connected to the client: no address to look up per packet
          if (this.netascii?.last === cursor) {
            blocks = cursor++;
            break;
          }
          cursor++;
        }
        arm();
      };
      // The client's port is closed (ICMP port unreachable): it is gone.
      sock.on('error', (e: NodeJS.ErrnoException) => finish(new Error(e.code === 'ECONNREFUSED' ? 'the client is gone (its port is closed)' : `socket error: ${e.message}`)));
      sock.on('message', (m) => {
        // Only the client's packets arrive (the socket is connected to its address and port).
        if (finished || m.length < 4) return;
        const op = m.readUInt16BE(0);
        if (op === Op.ERROR) return finish(new Error(`the client ended the transfer: ${m.subarray(4).toString('latin1').replace(/\0.*$/s, '') || `error ${m.readUInt16BE(2)}`}`));
        if (op !== Op.ACK) return;
        const n16 = m.readUInt16BE(2);
        if (acked === -1) {
          if (n16 !== 0) return;
          acked = 0;
        } else {
          // Map the 16-bit number to the block in flight: within (acked, acked + window].
          let n = acked - (acked & 0xffff) + n16;
          if (n < acked) n += 0x10000;
          if (n <= acked || n >= cursor) return; // a duplicate, or an ACK of a block not sent
          this.sent += this.bytesIn(acked, n);
          acked = n;
        }
        tries = 0;
        lastProgress = Date.now();
        if (acked >= blocks) return finish();
        this.slide(acked);
        cursor = acked + 1;
        pump();
      });
      this.slide(0);
      pump();
    });
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * netascii blocks made as they are needed: the file's chunks converted one at a time, cut into
 * blocks; only the blocks of the window (not yet acknowledged) are kept, for resending.
 */
class NetasciiBlocks {
  /** Blocks made and not yet acknowledged, by number. */
  private readonly blocks = new Map<number, Buffer>();
  private made = 0;
  private nextChunk = 0;
  /** Converted bytes not yet cut into blocks. */
  private rest: Buffer = EMPTY;
  private eof = false;
  /** The number of the last block (shorter than blksize), once made. */
  last: number | undefined;

  constructor(
    private readonly blksize: number,
    private readonly chunk: (index: number) => Buffer | Promise<Buffer>,
    private readonly size: number,
  ) {}

  /** Block `n` if it is made or can be cut from what is converted, else undefined. */
  get(n: number): Buffer | undefined {
    while (this.made < n && this.last === undefined && (this.rest.length >= this.blksize || this.eof)) this.cut();
    return this.blocks.get(n);
  }

  /** Drops the blocks through `n` (acknowledged). */
  release(n: number): void {
    for (const k of this.blocks.keys()) if (k <= n) this.blocks.delete(k);
  }

  /** Converts chunks until block `n` can be cut (an await between chunks: the server goes on). */
  async fill(n: number): Promise<void> {
    while (this.get(n) === undefined && this.last === undefined) {
      if (this.nextChunk * CHUNK >= this.size) {
        this.eof = true;
        continue;
      }
      const conv = toNetascii(await this.chunk(this.nextChunk++));
      this.rest = this.rest.length === 0 ? conv : Buffer.concat([this.rest, conv]);
    }
  }

  private cut() {
    const take = Math.min(this.blksize, this.rest.length);
    const b = this.rest.subarray(0, take);
    this.rest = this.rest.subarray(take);
    this.made++;
    this.blocks.set(this.made, b);
    if (b.length < this.blksize) this.last = this.made;
  }
}
