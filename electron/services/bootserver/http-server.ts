/**
 * Read-only HTTP for iPXE (scripts and large files load faster than over TFTP): GET and HEAD of
 * files inside one folder, with Content-Length and single byte ranges; ".." and links out of the
 * folder are refused.
 */
import { createReadStream, realpathSync } from 'node:fs';
import http from 'node:http';
import type { ServeEvent } from '../../../shared/bootserver';
import { resolveInRoot } from './tftp-server';

export interface HttpServerOptions {
  root: string;
  address?: string;
  port: number;
  onEvent?: (e: ServeEvent) => void;
}

export class BootHttpServer {
  private server: http.Server | undefined;
  private readonly root: string;
  readonly stats = { requests: 0, served: 0, failed: 0, bytes: 0 };

  constructor(private readonly o: HttpServerOptions) {
    this.root = realpathSync(o.root);
  }

  async start(): Promise<{ address: string; port: number }> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.address ?? '0.0.0.0', () => resolve());
    });
    this.server = server;
    const a = server.address() as { address: string; port: number };
    return { address: a.address, port: a.port };
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => {
      if (!this.server) return r();
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
    this.server = undefined;
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
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return emit('refused', 0, `method ${req.method}`);
    }
    const r = await resolveInRoot(this.root, name);
    if (!r.ok) {
      this.stats.failed++;
      res.writeHead(r.code === 1 ? 404 : 403, { 'Content-Type': 'text/plain' }).end(`${r.reason}\n`);
      return emit('refused', 0, r.reason);
    }
    const { size } = await import('node:fs/promises').then((fs) => fs.stat(r.file));
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (range && (range[1] || range[2])) {
      start = range[1] ? Number(range[1]) : Math.max(0, size - Number(range[2]));
      end = range[1] && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start > end || start >= size) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
        return emit('refused', 0, 'range not satisfiable');
      }
      status = 206;
    }
    const len = size === 0 ? 0 : end - start + 1;
    res.writeHead(status, {
      'Content-Type': name.endsWith('.ipxe') ? 'text/plain' : 'application/octet-stream',
      'Content-Length': String(len),
      'Accept-Ranges': 'bytes',
      ...(status === 206 ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (req.method === 'HEAD' || len === 0) {
      res.end();
      return emit('done', 0);
    }
    emit('started', 0);
    createReadStream(r.file, { start, end, highWaterMark: 1 << 20 })
      .on('error', (e) => {
        this.stats.failed++;
        res.destroy(e);
        emit('failed', 0, e.message);
      })
      .on('end', () => {
        this.stats.served++;
        this.stats.bytes += len;
        emit('done', len);
      })
      .pipe(res);
  }
}
