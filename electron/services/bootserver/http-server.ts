/**
 * Read-only HTTP for iPXE (scripts and large files load faster than over TFTP): GET and HEAD of
 * files inside one folder, with Content-Length and single byte ranges; ".." and links out of the
 * folder are refused.
 *
 * Made to hold on a LAN where anyone can connect (HTTP_LIMITS): headers must arrive within a
 * deadline (slowloris), an idle connection is closed, connections are capped in all and per
 * client address, ranges are parsed within safe bounds, refusals are logged once per client per
 * interval, and no request can throw out of its handler.
 */
import { realpathSync } from 'node:fs';
import { open } from 'node:fs/promises';
import http from 'node:http';
import type net from 'node:net';
import type { ServeEvent } from '../../../shared/bootserver';
import { RefusalLog } from './refusal-log';
import { CHUNK, fileCache, fileId, resolveInRoot, TFTP_LIMITS } from './tftp-server';

/** The documented limits (README, "Serving from this computer"). */
export const HTTP_LIMITS = {
  /** The request line and headers must be in within this (slowloris). */
  headersTimeoutMs: 10_000,
  /** A connection with nothing sent or received for this long is closed. */
  idleMs: 30_000,
  /** A kept-alive connection waits this long for its next request. */
  keepAliveMs: 5000,
  maxConnections: 256,
  maxPerClient: 32,
  maxHeaderBytes: 8192,
} as const;

export interface HttpServerOptions {
  root: string;
  address?: string;
  port: number;
  headersTimeoutMs?: number;
  idleMs?: number;
  maxConnections?: number;
  maxPerClient?: number;
  onEvent?: (e: ServeEvent) => void;
}

/**
 * The byte range a Range header asks for (RFC 9110 §14.1.2: one range; `a-b`, `a-` or `-n`),
 * 'unsatisfiable', or undefined to send the whole file (no header, or one we do not take: several
 * ranges or another unit — a server may ignore Range).
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d{0,20})-(\d{0,20})$/.exec(header?.trim() ?? '');
  if (!m || (!m[1] && !m[2])) return undefined;
  // Past 15 digits a number is beyond any file (and beyond exact doubles): cap it.
  const num = (s: string) => (s.length > 15 ? Number.MAX_SAFE_INTEGER : Number(s));
  let start: number;
  let end: number;
  if (m[1]) {
    start = num(m[1]);
    end = m[2] ? Math.min(num(m[2]), size - 1) : size - 1;
  } else {
    const n = num(m[2]!);
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

export class BootHttpServer {
  private server: http.Server | undefined;
  private readonly root: string;
  private readonly perClient = new Map<string, number>();
  private open = 0;
  private readonly refusals: RefusalLog;
  readonly stats = { requests: 0, served: 0, failed: 0, bytes: 0, refused: 0, markers: 0 };

  constructor(private readonly o: HttpServerOptions) {
    this.root = realpathSync(o.root);
    this.refusals = new RefusalLog({ kind: 'http', intervalMs: TFTP_LIMITS.refusalLogMs, emit: (e) => this.o.onEvent?.(e) });
  }

  async start(): Promise<{ address: string; port: number }> {
    const headersTimeout = this.o.headersTimeoutMs ?? HTTP_LIMITS.headersTimeoutMs;
    const server = http.createServer(
      {
        headersTimeout,
        requestTimeout: Math.max(headersTimeout, 30_000),
        // How often Node checks those deadlines (its default, 30 s, would let them slip).
        connectionsCheckingInterval: Math.max(50, Math.min(1000, headersTimeout / 2)),
        keepAliveTimeout: HTTP_LIMITS.keepAliveMs,
        maxHeaderSize: HTTP_LIMITS.maxHeaderBytes,
      },
      (req, res) => {
        this.handle(req, res).catch((e: unknown) => {
          this.stats.failed++;
          if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' }).end('internal error\n');
          else res.destroy();
          this.o.onEvent?.({ kind: 'http', client: `${req.socket.remoteAddress}:${req.socket.remotePort}`, file: req.url?.slice(0, 200), status: 'failed', bytes: 0, message: e instanceof Error ? e.message : String(e), at: Date.now() });
        });
      },
    );
    server.maxHeadersCount = 64;
    server.setTimeout(this.o.idleMs ?? HTTP_LIMITS.idleMs); // idle sockets are destroyed
    server.on('connection', (sock) => this.admit(sock));
    server.on('clientError', (_e, sock) => {
      if (sock.writable) sock.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else sock.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.address ?? '0.0.0.0', () => resolve());
    });
    this.server = server;
    const a = server.address() as { address: string; port: number };
    return { address: a.address, port: a.port };
  }

  async stop(): Promise<void> {
    this.refusals.flush();
    await new Promise<void>((r) => {
      if (!this.server) return r();
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
    this.server = undefined;
  }

  /** Counts a new connection against the caps (all and per address); closes it when over. */
  private admit(sock: net.Socket) {
    const addr = sock.remoteAddress ?? '?';
    const mine = this.perClient.get(addr) ?? 0;
    if (mine >= (this.o.maxPerClient ?? HTTP_LIMITS.maxPerClient) || this.open >= (this.o.maxConnections ?? HTTP_LIMITS.maxConnections)) {
      this.stats.refused++;
      this.stats.failed++;
      this.refusals.refuse(addr, mine >= (this.o.maxPerClient ?? HTTP_LIMITS.maxPerClient) ? 'too many connections from this address' : 'too many connections');
      sock.on('error', () => undefined);
      sock.destroy();
      return;
    }
    this.perClient.set(addr, mine + 1);
    this.open++;
    sock.once('close', () => {
      this.open--;
      const n = (this.perClient.get(addr) ?? 1) - 1;
      if (n > 0) this.perClient.set(addr, n);
      else this.perClient.delete(addr);
    });
  }

  /**
   * The live watch's stage markers (shared/gen/ipxe.ts markerLines): GET /watch/<mac>/<marker>
   * [?e=<iPXE error number>] answers a one-line iPXE script (harmless if anything ran it) and is
   * reported as a 'marker' event; anything else under /watch/ is refused like a missing file.
   */
  private marker(req: http.IncomingMessage, res: http.ServerResponse, name: string, emit: (status: ServeEvent['status'], bytes: number, message?: string) => void, refuse: (code: number, reason: string) => void): void {
    const m = /^\/watch\/([0-9a-f]{2}(?:-[0-9a-f]{2}){5})\/([a-z][a-z-]{0,23})$/.exec(name);
    const q = new URL(req.url ?? '/', 'http://x').searchParams;
    const e = q.get('e');
    if (!m || [...q.keys()].some((k) => k !== 'e') || (e !== null && !/^(0x[0-9a-f]{1,8}|\d{1,10})$/i.test(e))) return refuse(404, 'not a stage marker');
    const body = '#!ipxe\n';
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': String(body.length), 'Cache-Control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body);
    this.stats.markers++;
    emit('marker', 0, e === null ? undefined : `e=${e.toLowerCase()}`);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.stats.requests++;
    const client = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    let name = '';
    try {
      name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      name = '';
    }
    const emit = (status: ServeEvent['status'], bytes: number, message?: string) => this.o.onEvent?.({ kind: 'http', client, file: name, status, bytes, ...(message ? { message } : {}), at: Date.now() });
    const refuse = (code: number, reason: string, headers: http.OutgoingHttpHeaders = {}) => {
      this.stats.refused++;
      this.stats.failed++;
      res.writeHead(code, { 'Content-Type': 'text/plain', ...headers }).end(`${reason}\n`);
      this.refusals.refuse(req.socket.remoteAddress ?? '?', reason, name);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(405, `method ${req.method} is not served`, { Allow: 'GET, HEAD' });
    if (name.startsWith('/watch/')) return this.marker(req, res, name, emit, refuse);
    const r = await resolveInRoot(this.root, name);
    if (!r.ok) return refuse(r.code === 1 ? 404 : 403, r.reason);
    const fh = await open(r.file, 'r');
    try {
      const st = await fh.stat();
      const size = st.size;
      const range = parseRange(req.headers.range, size);
      if (range === 'unsatisfiable') return refuse(416, 'range not satisfiable', { 'Content-Range': `bytes */${size}` });
      const start = range?.start ?? 0;
      const end = range?.end ?? size - 1;
      const len = size === 0 ? 0 : end - start + 1;
      res.writeHead(range ? 206 : 200, {
        'Content-Type': name.endsWith('.ipxe') ? 'text/plain' : 'application/octet-stream',
        'Content-Length': String(len),
        'Accept-Ranges': 'bytes',
        ...(range ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
      });
      if (req.method === 'HEAD' || len === 0) {
        res.end();
        return emit('done', 0);
      }
      emit('started', 0);
      if (await this.body(res, fh, fileId(st), size, start, end)) {
        this.stats.served++;
        this.stats.bytes += len;
        emit('done', len);
      } else {
        this.stats.failed++;
        emit('failed', 0, 'the client went away');
      }
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  /**
   * Writes bytes start..end from the file chunks that TFTP shares (200 stations fetching the
   * same file read it once and hold no copy each), waiting for the socket to drain; false when
   * the client went away first.
   */
  private async body(res: http.ServerResponse, fh: Awaited<ReturnType<typeof open>>, id: string, size: number, start: number, end: number): Promise<boolean> {
    let closed = false;
    let wake: (() => void) | undefined;
    const onClose = () => {
      closed = true;
      wake?.();
    };
    res.once('close', onClose);
    try {
      for (let pos = start; pos <= end && !closed; ) {
        const j = Math.floor(pos / CHUNK);
        const c = await fileCache.chunk(id, size, j, fh);
        const to = Math.min(c.length, end - j * CHUNK + 1);
        const ok = res.write(c.subarray(pos - j * CHUNK, to));
        pos = j * CHUNK + to;
        if (!ok && !closed)
          await new Promise<void>((r) => {
            wake = r;
            res.once('drain', r);
          });
      }
      if (closed) return false;
      await new Promise<void>((r) => {
        res.once('finish', r);
        wake = r;
        res.end();
      });
      return res.writableFinished;
    } finally {
      res.removeListener('close', onClose);
    }
  }
}
