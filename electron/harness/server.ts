import { defaultGrantHelper } from '../services/privileges/privileges';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { JobEvent } from '../../shared/jobs';
import { createHandlers, dispatch, type Caller } from '../services/api/handlers';
import { JobRunner } from '../services/jobs/runner';
import { DropLog, dropLine } from '../services/net/guard';
import { VNC_CONNECT } from '../main/security';

/** Options of the browser harness. */
export interface HarnessOptions {
  /** Folder of the built renderer (index.html and assets). */
  root: string;
  /** Loopback address to bind; anything else is refused. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Fixed token (tests); random otherwise. */
  token?: string;
  /** Where the line about dropped requests and frames goes (default stderr), at most one per 10 s. */
  log?: (line: string) => void;
}

/** A running harness. */
export interface Harness {
  url: string;
  port: number;
  token: string;
  runner: JobRunner;
  /** Requests and frames dropped as malformed since start. */
  dropped(): number;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

/** The same CSP as the Electron window (VNC_CONNECT: the installer VM's screen), plus the WebSocket back to this origin. */
function csp(origin: string): string {
  const ws = origin.replace(/^http/, 'ws');
  return `default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ${ws} ${VNC_CONNECT}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'`;
}

/** True for loopback addresses, the only ones the harness binds. */
export function isLoopback(host: string): boolean {
  return host === '::1' || host === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Serves the built renderer and the typed contract over a WebSocket on loopback. The client
 * must present the token (printed at start) and come from this origin; messages are
 * `{ id, channel, input, jobId? }` answered by `{ id, result }` (`jobId`: the page's name for the
 * job a call starts), and a job's events are pushed as `{ event }` to the page that started it alone.
 */
export async function startHarness(opts: HarnessOptions): Promise<Harness> {
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopback(host)) throw new Error(`the harness binds loopback only, not ${host}`);
  const token = opts.token ?? randomBytes(24).toString('base64url');
  const tokenBuf = Buffer.from(token);
  const root = path.resolve(opts.root);
  const runner = new JobRunner();
  // No OS keychain here: secrets stay in the session, or come from the environment.
  const handlers = createHandlers(runner, 'harness', { secretEnv: process.env, grantHelper: defaultGrantHelper(__dirname) });
  let origin = '';
  const log = opts.log ?? ((line: string) => process.stderr.write(`bootchain harness: ${line}\n`));
  const drops = new DropLog((d) => log(dropLine('malformed input', d)));
  /**
   * The request's URL (origin-form only: "//x" is a path here, not a host) and its decoded path;
   * undefined, counted, when it has none (a bad %-escape, an absolute or "*" target).
   */
  const parse = (req: http.IncomingMessage): { url: URL; path: string } | undefined => {
    const raw = req.url ?? '/';
    try {
      if (!raw.startsWith('/')) throw new Error('not a path');
      const url = new URL(`http://x${raw}`);
      return { url, path: decodeURIComponent(url.pathname) };
    } catch (e) {
      drops.drop(req.socket.remoteAddress ?? '?', `${(e as Error).message} in ${JSON.stringify(raw.slice(0, 80))}`);
      return undefined;
    }
  };

  const server = http.createServer((req, res) => {
    const decoded = parse(req)?.path;
    const headers = {
      'Content-Security-Policy': csp(origin),
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-store',
    };
    if (decoded === undefined) {
      res.writeHead(400, headers).end('bad request');
      return;
    }
    const rel = decoded === '/' || decoded === '' ? '/index.html' : decoded;
    const file = path.resolve(root, `.${rel}`);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, headers).end();
      return;
    }
    if (!file.startsWith(root + path.sep)) {
      res.writeHead(403, headers).end('forbidden');
      return;
    }
    try {
      const st = statSync(file);
      if (!st.isFile()) throw new Error('not a file');
      res.writeHead(200, { ...headers, 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'Content-Length': st.size });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404, headers).end('not found');
    }
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  const clients = new Set<WebSocket>();
  server.on('upgrade', (req, socket, head) => {
    // Node leaves an upgraded socket's errors to us: a reset must not become an uncaught error.
    socket.on('error', () => undefined);
    const url = parse(req)?.url;
    const given = Buffer.from(url?.searchParams.get('token') ?? '');
    const tokenOk = url?.pathname === '/ws' && given.length === tokenBuf.length && timingSafeEqual(given, tokenBuf);
    // A page from another origin must not drive the services, even if it learnt the port.
    const originOk = req.headers.origin === origin || req.headers.origin === origin.replace('127.0.0.1', 'localhost');
    if (!tokenOk || !originOk) {
      socket.write('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws));
  });

  let nextCaller = 0;
  wss.on('connection', (ws: WebSocket) => {
    clients.add(ws);
    // Each page is the owner of the jobs it starts and hears of those alone.
    const caller: Caller = { id: `ws-${++nextCaller}` };
    const unsubscribe = runner.onEvent(
      (event: JobEvent) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ event }));
      },
      { owner: caller.id },
    );
    // A frame that breaks RFC 6455 closes the connection (the ws library does that); say why once.
    ws.on('error', (e) => drops.drop(caller.id, e.message));
    ws.on('message', (data) => {
      // Only an object message is a call; anything else is dropped and counted, the connection kept.
      let msg: unknown;
      try {
        msg = JSON.parse(String(data));
      } catch {
        return drops.drop(caller.id, 'a message that is not JSON');
      }
      if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return drops.drop(caller.id, 'a message that is not an object');
      const { id, channel, input, jobId } = msg as { id?: unknown; channel?: unknown; input?: unknown; jobId?: unknown };
      dispatch(handlers, channel, input, caller, jobId === undefined ? undefined : { jobId }).then(
        (result) => {
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ id, result }));
        },
        (e: unknown) => drops.drop(caller.id, `the call failed outside its handler: ${String(e)}`),
      );
    });
    ws.on('close', () => {
      clients.delete(ws);
      unsubscribe();
      // Unsubscribing means cancelling: a closed page leaves no job running.
      void runner.cancelAll(caller.id);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  origin = `http://${hostPart}:${port}`;
  return {
    url: `${origin}/#token=${token}`,
    port,
    token,
    runner,
    dropped: () => drops.total,
    close: async () => {
      drops.flush();
      await runner.cancelAll();
      for (const ws of clients) ws.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
