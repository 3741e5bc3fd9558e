import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addLabHost } from '../../../e2e/lab/lab';
import { labOrSkipReason } from '../../../e2e/support/lab-guard';
import { netasciiGet, oackOptions, rawClient, rrq } from '../../../e2e/support/tftp-clients';
import { CLI } from '../../cli/run-cli';
import { tftpGet } from '../tftp/client';

// The boot server's limits under load, against the real `bootchain serve` (the built CLI) in
// its own lab namespace (10.77.0.200), measured from outside: a request flood from one address
// and from 200 addresses (a client namespace holding 10.77.0.201 and 10.77.1.41-240, a subnet
// only this test uses, routed on the lab bridge), the server's RSS read from /proc, a client
// that asks for `timeout 255` and vanishes, and a 64 MiB netascii transfer beside small ones.
// The limits below are the documented defaults (README, "Serving from this computer").
const MAX_TRANSFERS = 256;
const MAX_PER_CLIENT = 8;
/** A client that stops answering frees its slot after timeout (1 s) x (1 + 5 retries). */
const VANISHED_FREE_MS = 6000;
/** Documented bound on the server's RSS growth under any flood (README), asserted with 50% slack. */
const RSS_BOUND_MIB = 64;
/** Refusal lines per interval with an address each (the rest share one summary line). */
const REFUSAL_LINES = 64;

const lab = labOrSkipReason('tftp-limits.int.test.ts');
const why = !lab ? 'no lab' : !existsSync(CLI) ? `${CLI} is not built (npm run build)` : undefined;
if (lab && why) process.stdout.write(`SKIP tftp-limits.int.test.ts: ${why}\n`);

const SERVER = '10.77.0.200';
const ONE = '10.77.0.201';
const MANY = Array.from({ length: 200 }, (_, i) => `10.77.1.${41 + i}`);
const FLOOD = path.resolve(import.meta.dirname, '../../../e2e/support/tftp-flood.mjs');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir = '';
let logFile = '';
let serverPid = 0;
let hosts: Array<{ remove(): Promise<void> }> = [];
let client: Awaited<ReturnType<typeof addLabHost>>;

/** The server's resident set, bytes (VmRSS of /proc/PID/status). */
function rss(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${serverPid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** The server's events so far (its --json log). */
function events(): Array<{ kind: string; status: string; client: string; file?: string; message?: string }> {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { kind: string; status: string; client: string; file?: string; message?: string });
}

/** Runs the flood client in the client namespace while sampling the server's RSS. */
async function flood(o: { addresses: string[]; perAddress: number; file: string; options: string[]; listenMs: number }) {
  const before = rss();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rss())), 20);
  try {
    const out = await client.exec(process.execPath, [FLOOD, JSON.stringify({ server: SERVER, port: 69, ...o })]);
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as { sent: number; byAddress: Record<string, { started: number; errors: Record<string, number>; silent: number }> };
    return { ...r, growthMiB: (peak - before) / 1048576 };
  } finally {
    clearInterval(sampler);
  }
}

/** Waits until the server accepts transfers from `from`'s address again (polling with a small fetch). */
async function untilServed(limitMs: number): Promise<boolean> {
  const until = Date.now() + limitMs;
  while (Date.now() < until) {
    const ok = await tftpGet(SERVER, 'small.txt', { timeoutMs: 300, retries: 1 }).then(
      () => true,
      () => false,
    );
    if (ok) return true;
    await sleep(200);
  }
  return false;
}

/** A line of text with CR and LF in it, and its netascii form (RFC 764: LF -> CR LF, CR -> CR NUL). */
const LINE = Buffer.from('#!ipxe echo a line of a long script\rwith a bare CR\n');
const LINE_NETASCII = Buffer.from('#!ipxe echo a line of a long script\r\0with a bare CR\r\n');

beforeAll(async () => {
  if (why) return;
  const L = lab!;
  dir = path.join(L.dir, 'tftp-limits');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'big.bin'), randomBytes(4 << 20));
  writeFileSync(path.join(dir, 'small.txt'), 'a small file\n');
  const lines = Math.ceil((64 << 20) / LINE.length);
  writeFileSync(path.join(dir, 'text64.txt'), Buffer.alloc(lines * LINE.length, LINE));
  const srv = await addLabHost(L, 'tlsrv', [SERVER]);
  client = await addLabHost(L, 'tlcli', [ONE]);
  hosts = [srv, client];
  // 200 more client addresses in a subnet of their own, reachable on the lab bridge.
  const batch = path.join(dir, 'addrs.batch');
  writeFileSync(batch, `${MANY.map((ip) => `addr add ${ip}/24 dev eth0`).join('\n')}\n`);
  await client.exec('ip', ['-batch', batch]);
  await srv.exec('ip', ['route', 'add', '10.77.1.0/24', 'dev', 'eth0']);
  logFile = path.join(L.dir, 'tlsrv-serve.log');
  writeFileSync(logFile, '');
  serverPid = srv.daemon('serve', process.execPath, [CLI, 'serve', '--root', dir, '--address', SERVER, '--http', '8080', '--json']);
  if (!(await untilServed(10000))) throw new Error(`bootchain serve did not come up (see ${logFile})`);
}, 60000);

afterAll(async () => {
  for (const h of hosts) await h.remove();
});

describe.skipIf(!!why)('boot server limits under a flood (bootchain serve in the lab)', () => {
  it(`2000 RRQs from one address start exactly ${MAX_PER_CLIENT} transfers; refusals are logged once, RSS stays bounded`, async () => {
    const r = await flood({ addresses: [ONE], perAddress: 2000, file: 'big.bin', options: ['blksize', '1432', 'windowsize', '64'], listenMs: 2500 });
    const a = r.byAddress[ONE]!;
    process.stdout.write(`one-address flood: ${r.sent} RRQs, ${a.started} transfers started, errors ${JSON.stringify(a.errors)}, ${a.silent} unanswered; server RSS +${r.growthMiB.toFixed(1)} MiB\n`);
    expect(a.started).toBe(MAX_PER_CLIENT);
    expect(events().filter((e) => e.kind === 'tftp' && e.status === 'started' && e.client.startsWith(`${ONE}:`))).toHaveLength(MAX_PER_CLIENT);
    const refusedLines = events().filter((e) => e.kind === 'tftp' && e.status === 'refused' && e.client.startsWith(ONE));
    expect(refusedLines.length).toBeGreaterThanOrEqual(1);
    expect(refusedLines.length).toBeLessThanOrEqual(2);
    expect(r.growthMiB).toBeLessThan(RSS_BOUND_MIB * 1.5);
  });

  it('a client that asks for timeout 255 and vanishes frees its slots by the deadline', async () => {
    const held = await Promise.all(Array.from({ length: MAX_PER_CLIENT }, () => rawClient(SERVER, 69, rrq('big.bin', ['timeout', '255', 'blksize', '1432']))));
    for (const h of held) {
      const first = await h.next();
      expect(first?.msg.readUInt16BE(0)).toBe(6);
      // RFC 2349: a server that does not take the value leaves the option out of its OACK.
      expect(oackOptions(first!.msg).timeout).toBeUndefined();
    }
    // Every slot of this address is held now: the next request is refused.
    await expect(tftpGet(SERVER, 'small.txt', { timeoutMs: 500, retries: 1 })).rejects.toThrow(/too many transfers/);
    // The held clients never answer again (a machine switched off); after the deadline the
    // address is served again.
    await sleep(VANISHED_FREE_MS + 1500);
    expect((await tftpGet(SERVER, 'small.txt', { timeoutMs: 500, retries: 1 })).data.toString()).toBe('a small file\n');
    for (const h of held) h.close();
  });

  it('a 64 MiB netascii transfer does not stall other transfers', async () => {
    let bigDone = false;
    const t0 = performance.now();
    const big = netasciiGet(SERVER, 69, 'text64.txt', 1432, 16).then(
      (d) => ({ d, t: performance.now() }),
      (e: Error) => ({ e, t: performance.now() }),
    );
    void big.then(() => (bigDone = true));
    // Small transfers back to back while the big one runs, each one's completion time recorded.
    const completions: number[] = [];
    while (!bigDone) {
      const r = await tftpGet(SERVER, 'small.txt', { timeoutMs: 1000, retries: 10 });
      expect(r.data.toString()).toBe('a small file\n');
      completions.push(performance.now());
    }
    const end = await big;
    if ('e' in end) throw end.e;
    const data = end.d;
    const t1 = end.t;
    // Byte for byte: every line converted (the file is whole lines of LINE).
    const lines = Math.ceil((64 << 20) / LINE.length);
    expect(data.length).toBe(lines * LINE_NETASCII.length);
    expect(sha(data)).toBe(sha(Buffer.alloc(lines * LINE_NETASCII.length, LINE_NETASCII)));
    // Small transfers completed all through the big one's run: in each quarter of it (a server
    // that converts the file at once answers nobody while it does).
    const quarters = [0, 1, 2, 3].map((q) => completions.filter((t) => t >= t0 + ((t1 - t0) * q) / 4 && t < t0 + ((t1 - t0) * (q + 1)) / 4).length);
    process.stdout.write(`netascii 64 MiB: ${((t1 - t0) / 1000).toFixed(2)} s; small transfers completed per quarter of it: ${quarters.join(', ')}\n`);
    for (const n of quarters) expect(n).toBeGreaterThan(0);
  });

  it(`2000 RRQs from 200 addresses start exactly ${MAX_TRANSFERS} transfers, none over ${MAX_PER_CLIENT} per address; no log flood, RSS stays bounded`, async () => {
    // (The one-address flood's transfers ended during the tests before: every slot is free.)
    const r = await flood({ addresses: MANY, perAddress: 10, file: 'big.bin', options: ['blksize', '8192', 'windowsize', '64'], listenMs: 2500 });
    const started = Object.values(r.byAddress).map((a) => a.started);
    const total = started.reduce((s, n) => s + n, 0);
    process.stdout.write(`200-address flood: ${r.sent} RRQs, ${total} transfers started (most per address ${Math.max(...started)}); server RSS +${r.growthMiB.toFixed(1)} MiB\n`);
    expect(total).toBe(MAX_TRANSFERS);
    expect(Math.max(...started)).toBeLessThanOrEqual(MAX_PER_CLIENT);
    expect(r.growthMiB).toBeLessThan(RSS_BOUND_MIB * 1.5);
    // No log flood: at most one refusal line per address (and one summary) in the interval.
    const refused = events().filter((e) => e.kind === 'tftp' && e.status === 'refused' && e.client.startsWith('10.77.1.'));
    expect(refused.length).toBeLessThanOrEqual(REFUSAL_LINES);
  });

  it('the server is still up, and serves again once the flood has gone', async () => {
    expect(await untilServed(VANISHED_FREE_MS + 5000)).toBe(true);
    expect(() => process.kill(serverPid, 0)).not.toThrow();
  });
});
