/**
 * The watch's syslog receiver: a UDP socket (RFC 5426: one message per datagram, port 514) that
 * takes iPXE's console lines (ipxe-lines.ts) and a NAS's iSCSI login events, and hands them on as
 * events with a monotonic receive time, per sender and per hostname. Hostile input — too large,
 * binary, no PRI, an unexpected sender, a flood — is counted by reason and dropped; memory stays
 * bounded (a token bucket per source address, capped tables, a capped queue that drops the newest).
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { appError, BootchainError } from '../../../shared/errors';
import { classifyIpxeLine, IpxeLineJoiner, IPXE_SYSLOG_PORT, parseIpxeSyslog, readPri, SYSLOG_DATAGRAM_MAX, type IpxeLineClass, type ParseResult, type SyslogDropReason, type SyslogSource } from './ipxe-lines';

/** A generic syslog line (RFC 3164 or RFC 5424 header), for the NAS's messages. */
export interface SyslogLine {
  format: 'rfc3164' | 'rfc5424';
  pri: number;
  facility: number;
  severity: number;
  /** The sender's own timestamp as written (not trusted for ordering: `at` is). */
  timestamp?: string | undefined;
  hostname?: string | undefined;
  /** RFC 3164 TAG without its "[pid]" / RFC 5424 APP-NAME. */
  app?: string | undefined;
  text: string;
}

const MONTHS = 'Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec';
// RFC 3164 §4.1.2: "Mmm dd hh:mm:ss HOSTNAME TAG[pid]: MSG" (the day space-padded).
const RFC3164 = new RegExp(`^((?:${MONTHS}) [ 0-9]\\d \\d\\d:\\d\\d:\\d\\d) (\\S+) ([^\\s:[]+)(?:\\[[^\\]]*\\])?: ?(.*)$`, 's');
// RFC 5424 §6: "1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG", NILVALUE "-".
const RFC5424 = /^1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: (.*))?$/s;

/** Reads an RFC 3164 or RFC 5424 line (the NAS's); UTF-8 only (RFC 5424 §6.4), a BOM dropped. */
export function parseSyslogLine(datagram: Buffer): ParseResult<SyslogLine> {
  if (datagram.length > SYSLOG_DATAGRAM_MAX) return { ok: false, reason: 'too-large' };
  if (datagram.length === 0) return { ok: false, reason: 'empty' };
  const p = readPri(datagram);
  if ('error' in p) return { ok: false, reason: p.error };
  const body = datagram.subarray(p.end);
  if (body.includes(0)) return { ok: false, reason: 'binary' };
  let s: string;
  try {
    s = new TextDecoder('utf-8', { fatal: true }).decode(body).replace(/\r?\n$/, '');
  } catch {
    return { ok: false, reason: 'invalid-utf8' };
  }
  const base = { pri: p.pri, facility: p.pri >> 3, severity: p.pri & 7 };
  const nil = (v: string | undefined) => (v === undefined || v === '-' ? undefined : v);
  let m = RFC5424.exec(s);
  if (m) return { ok: true, line: { format: 'rfc5424', ...base, timestamp: nil(m[1]), hostname: nil(m[2]), app: nil(m[3]), text: (m[7] ?? '').replace(/^\uFEFF/, '') } };
  m = RFC3164.exec(s);
  if (m) return { ok: true, line: { format: 'rfc3164', ...base, timestamp: m[1], hostname: m[2], app: m[3], text: m[4]! } };
  // RFC 3164 §4.3.3: a line without a valid header is still a message; keep all of it as text.
  return { ok: true, line: { format: 'rfc3164', ...base, text: s } };
}

/** An iSCSI login as the NAS logged it. */
export interface IscsiLoginEvent {
  initiator: string;
  target?: string | undefined;
  ok: boolean;
  /** The NAS's words for the outcome ("Login OK", "Login Fail"). */
  outcome: string;
  sourceIp?: string | undefined;
}

const IQN = /\b(?:iqn\.\d{4}-\d{2}\.[^\s,;"'()]+|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32})/g;
const IQN_ONE = new RegExp(IQN.source);

/**
 * A NAS's iSCSI login event in a syslog line. NOT A CONFIRMED FORMAT: QNAP's manuals say only that
 * its "Syslog Client" forwards the event and connection logs, the latter with a connection type
 * (ISCSI) and an action (LOGIN_SUCC, LOGIN_FAIL, LOGOUT) — no line format is documented. This reads
 * the plausible shapes: QTS's connection-log fields ("Users: <initiator IQN>, Source IP: …,
 * Connection type: iSCSI, Accessed resources: <target IQN>, Action: Login OK|Login Fail") and any
 * line naming iSCSI, an initiator IQN and a login that succeeded or failed. Check it against a real
 * NAS's lines before relying on it.
 */
export function parseIscsiLogin(text: string): IscsiLoginEvent | undefined {
  if (!/iscsi/i.test(text)) return undefined;
  const outcome = /\b(log ?in[ _-]?(?:ok|succ(?:ess(?:ful)?|eeded)?|fail(?:ed|ure)?)|(?:successful|failed) log ?in|login (?:was )?(?:accepted|rejected|refused|denied))\b/i.exec(text);
  if (!outcome) return undefined;
  const ok = !/fail|reject|refus|denied/i.test(outcome[1]!);
  const iqns = [...text.matchAll(IQN)].map((m) => m[0].replace(/[.:]$/, ''));
  const field = (name: string) => new RegExp(`${name}\\s*[:=]\\s*([^,;]+)`, 'i').exec(text)?.[1]?.trim();
  const users = field('Users?') ?? field('Initiator(?: ?(?:IQN|name))?');
  const resources = field('Accessed resources?') ?? field('Target(?: ?(?:IQN|name))?');
  const initiator = users?.match(IQN_ONE)?.[0] ?? iqns[0];
  if (!initiator) return undefined;
  const target = resources?.match(IQN_ONE)?.[0] ?? iqns.find((q) => q !== initiator);
  const ip = field('Source IP') ?? /\b(\d{1,3}(?:\.\d{1,3}){3})\b/.exec(text)?.[1];
  return { initiator, ...(target ? { target } : {}), ok, outcome: outcome[1]!, ...(ip && isIP(ip) ? { sourceIp: ip } : {}) };
}

/** What the receiver hands on. `at` is monotonic milliseconds (performance.now() unless `now` is given). */
export type SyslogEvent =
  | { kind: 'ipxe'; at: number; from: SyslogSource; hostname: string | undefined; severity: number; text: string; parts: number; partial: boolean; class: IpxeLineClass }
  | ({ kind: 'iscsi-login'; at: number; from: SyslogSource; hostname: string | undefined; app: string | undefined; text: string; formatConfirmed: false } & IscsiLoginEvent);

/** Counts since the start (a snapshot). */
export interface SyslogStats {
  received: number;
  accepted: number;
  dropped: Partial<Record<SyslogDropReason, number>>;
  /** Per source address (at most maxSources, the least recent forgotten). */
  sources: Record<string, { received: number; accepted: number; dropped: number }>;
  /** Per iPXE/NAS hostname (at most maxHostnames): its lines and the address it last came from. */
  hostnames: Record<string, { lines: number; address: string; lastAt: number }>;
  /** Events waiting for the consumer. */
  queued: number;
  /** Senders in the middle of a long (cut) line. */
  joining: number;
}

/** Options of startSyslogReceiver. */
export interface SyslogReceiverOptions {
  /** Address to listen on (default 0.0.0.0); IPv6 addresses get a udp6 socket. */
  address?: string | undefined;
  /** UDP port (default 514, iPXE's fixed SYSLOG_PORT: its `syslog` setting has no port). */
  port?: number | undefined;
  signal: AbortSignal;
  /** Only these source addresses are taken (the workstations' network, the NAS); others: 'unknown-source'. Default: any. */
  allow?: ((address: string) => boolean) | undefined;
  /** Only these hostnames (the stations' per-MAC names) are taken from iPXE; others: 'unknown-source'. Default: any. */
  hostnames?: ReadonlySet<string> | undefined;
  /**
   * The address a station's hostname must come from, when known (the boot server's DHCP lease, the
   * proxyDHCP listener): a datagram naming it from another address is dropped as 'spoofed'.
   */
  addressOf?: ((hostname: string) => string | undefined) | undefined;
  /** Token bucket per source address: datagrams per second and burst (default 200/s, 400). */
  rate?: { perSecond: number; burst: number } | undefined;
  /** Source addresses tracked (buckets and counts), default 1024. */
  maxSources?: number | undefined;
  /** Hostnames tracked, default 1024. */
  maxHostnames?: number | undefined;
  /** Events kept for a slow consumer, default 10000; past it the newest are dropped ('queue-full'). */
  queueMax?: number | undefined;
  /** How long a cut line waits for its next piece before it is handed on partial (default 2000 ms). */
  joinWaitMs?: number | undefined;
  /** Monotonic clock in ms (tests). */
  now?: (() => number) | undefined;
  /** Called for each event as it is queued (optional; the queue is read with next()/for await). */
  onEvent?: ((e: SyslogEvent) => void) | undefined;
}

/** A running receiver: read its events with `for await`, next() or drain(); ends when the signal aborts. */
export interface SyslogReceiver extends AsyncIterable<SyslogEvent> {
  /** The bound address and port (port 0 asks the system for one). */
  readonly address: string;
  readonly port: number;
  /** The next event; undefined once closed and drained. */
  next(): Promise<SyslogEvent | undefined>;
  /** Every queued event, now, without waiting. */
  drain(): SyslogEvent[];
  stats(): SyslogStats;
  /** Resolves when the socket is closed (after the signal aborted). */
  readonly closed: Promise<void>;
}

/** Turns a bind failure into the error a person can act on (the ports grant for 514). */
export function syslogBindError(e: unknown, address: string, port: number, exe = process.execPath): BootchainError | unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EACCES' || code === 'EPERM')
    return new BootchainError(
      appError('PERMISSION_DENIED', `Bootchain may not listen on UDP port ${port} for iPXE's syslog: ${exe} lacks cap_net_bind_service (the "Ports below 1024" right)`, {
        hint: `Grant it once: "Ports below 1024" under Rights in the Verify step, or bootchain privileges grant ports (or by hand: sudo setcap cap_net_bind_service=+ep ${exe}). iPXE always sends to port 514, so a port above 1024 only works for tests or behind a redirect.`,
      }),
    );
  if (code === 'EADDRINUSE') return new BootchainError(appError('BUSY', `UDP port ${port} on ${address} is already in use`, { hint: 'Another syslog server runs here (rsyslog, syslog-ng, journald\'s remote receiver): stop its UDP input, or have it forward to Bootchain.' }));
  if (code === 'EADDRNOTAVAIL') return new BootchainError(appError('INVALID_INPUT', `${address} is not an address of this computer`, { field: 'syslog', hint: "Choose this computer's address on the workstations' network." }));
  return e;
}

/** Starts the receiver; rejects with PERMISSION_DENIED / BUSY / INVALID_INPUT when it cannot bind. */
export async function startSyslogReceiver(o: SyslogReceiverOptions): Promise<SyslogReceiver> {
  const address = o.address ?? '0.0.0.0';
  const port = o.port ?? IPXE_SYSLOG_PORT;
  if (!isIP(address)) throw new BootchainError(appError('INVALID_INPUT', `not an IP address: ${address}`, { field: 'syslog' }));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new BootchainError(appError('INVALID_INPUT', `not a UDP port: ${port}`, { field: 'syslog' }));
  if (o.signal.aborted) throw new BootchainError(appError('CANCELLED', 'cancelled before the syslog receiver started'));
  const now = o.now ?? (() => performance.now());
  const rate = o.rate ?? { perSecond: 200, burst: 400 };
  const maxSources = o.maxSources ?? 1024;
  const maxHostnames = o.maxHostnames ?? 1024;
  const queueMax = o.queueMax ?? 10000;
  const joinWaitMs = o.joinWaitMs ?? 2000;

  const sock = dgram.createSocket({ type: isIP(address) === 6 ? 'udp6' : 'udp4', recvBufferSize: 1 << 20 });
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error) => {
      sock.close();
      reject(syslogBindError(e, address, port));
    };
    sock.once('error', onError);
    sock.bind({ address, port, exclusive: true }, () => {
      sock.off('error', onError);
      resolve();
    });
  });

  const stats = { received: 0, accepted: 0, dropped: {} as Partial<Record<SyslogDropReason, number>> };
  const sources = new Map<string, { tokens: number; refilled: number; received: number; accepted: number; dropped: number }>();
  const hostnames = new Map<string, { lines: number; address: string; lastAt: number }>();
  const queue: SyslogEvent[] = [];
  let head = 0;
  const waiters: Array<(e: SyslogEvent | undefined) => void> = [];
  const joiner = new IpxeLineJoiner({ maxPending: maxSources });
  let closed = false;

  // Maps keep insertion order: touching an entry moves it last, so the first is the least recent.
  const touch = <V>(m: Map<string, V>, key: string, make: () => V, cap: number): V => {
    let v = m.get(key);
    if (v !== undefined) m.delete(key);
    else {
      v = make();
      if (m.size >= cap) m.delete(m.keys().next().value!);
    }
    m.set(key, v);
    return v;
  };
  const drop = (reason: SyslogDropReason, src?: { dropped: number }) => {
    stats.dropped[reason] = (stats.dropped[reason] ?? 0) + 1;
    if (src) src.dropped++;
  };
  const emit = (e: SyslogEvent, src: { accepted: number; dropped: number }) => {
    const w = waiters.shift();
    if (w) w(e);
    else if (queue.length - head >= queueMax) return drop('queue-full', src);
    else queue.push(e);
    stats.accepted++;
    src.accepted++;
    if (e.hostname !== undefined) {
      const h = touch(hostnames, e.hostname, () => ({ lines: 0, address: e.from.address, lastAt: e.at }), maxHostnames);
      h.lines++;
      h.address = e.from.address;
      h.lastAt = e.at;
    }
    o.onEvent?.(e);
  };
  const emitJoined = (lines: ReturnType<IpxeLineJoiner['push']>, at: number) => {
    for (const l of lines) {
      const src = sources.get(l.from.address) ?? { accepted: 0, dropped: 0 };
      emit({ kind: 'ipxe', at, from: l.from, hostname: l.hostname, severity: l.severity, text: l.text, parts: l.parts, partial: l.partial, class: classifyIpxeLine(l.text) }, src);
    }
  };

  sock.on('message', (msg, rinfo) => {
    const at = now();
    stats.received++;
    const src = touch(sources, rinfo.address, () => ({ tokens: rate.burst, refilled: at, received: 0, accepted: 0, dropped: 0 }), maxSources);
    src.received++;
    // Token bucket per source address (a spoofer changing ports is still one source).
    src.tokens = Math.min(rate.burst, src.tokens + ((at - src.refilled) / 1000) * rate.perSecond);
    src.refilled = at;
    if (src.tokens < 1) return drop('rate-limited', src);
    src.tokens -= 1;
    if (o.allow && !o.allow(rinfo.address)) return drop('unknown-source', src);
    const from = { address: rinfo.address, port: rinfo.port };
    const r = parseIpxeSyslog(msg, from);
    if (r.ok) {
      if (o.hostnames && (r.line.hostname === undefined || !o.hostnames.has(r.line.hostname))) return drop('unknown-source', src);
      const expected = r.line.hostname !== undefined ? o.addressOf?.(r.line.hostname) : undefined;
      if (expected !== undefined && expected !== rinfo.address) return drop('spoofed', src);
      return emitJoined(joiner.push(r.line, at), at);
    }
    if (r.reason !== 'not-ipxe') return drop(r.reason, src);
    const g = parseSyslogLine(msg);
    if (!g.ok) return drop(g.reason, src);
    const login = parseIscsiLogin(g.line.text);
    if (!login) return drop('not-ipxe', src);
    emit({ kind: 'iscsi-login', at, from, hostname: g.line.hostname, app: g.line.app, text: g.line.text, formatConfirmed: false, ...login }, src);
  });
  sock.on('error', () => {
    /* a receive error on UDP (ICMP noise) is not fatal; the counts show what arrived */
  });

  const timer = setInterval(() => {
    if (joiner.waiting > 0) emitJoined(joiner.flush(now(), joinWaitMs), now());
  }, Math.max(50, Math.floor(joinWaitMs / 2)));
  timer.unref();

  let markClosed!: () => void;
  const closedP = new Promise<void>((r) => (markClosed = r));
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    sock.close(() => markClosed());
    for (const w of waiters.splice(0)) w(undefined);
  };
  o.signal.addEventListener('abort', close, { once: true });
  const bound = sock.address();

  const take = (): SyslogEvent | undefined => {
    if (head >= queue.length) return undefined;
    const e = queue[head++]!;
    if (head > 1024 && head * 2 > queue.length) {
      queue.splice(0, head);
      head = 0;
    }
    return e;
  };
  const next = (): Promise<SyslogEvent | undefined> => {
    const e = take();
    if (e || closed) return Promise.resolve(e);
    return new Promise((r) => waiters.push(r));
  };
  return {
    address: bound.address,
    port: bound.port,
    next,
    drain: () => {
      const out = queue.slice(head);
      queue.length = 0;
      head = 0;
      return out;
    },
    stats: () => ({
      received: stats.received,
      accepted: stats.accepted,
      dropped: { ...stats.dropped },
      sources: Object.fromEntries([...sources].map(([k, v]) => [k, { received: v.received, accepted: v.accepted, dropped: v.dropped }])),
      hostnames: Object.fromEntries([...hostnames].map(([k, v]) => [k, { ...v }])),
      queued: queue.length - head,
      joining: joiner.waiting,
    }),
    closed: closedP,
    [Symbol.asyncIterator]: async function* () {
      for (;;) {
        const e = await next();
        if (!e) return;
        yield e;
      }
    },
  };
}
