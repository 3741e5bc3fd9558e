import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addLabHost } from '../../../e2e/lab/lab';
import { labOrSkipReason } from '../../../e2e/support/lab-guard';
import { FUZZ_CASES, FUZZ_SEED, fuzzHttp, fuzzUdp, httpRequests, mutate, pick, rng } from '../../../e2e/support/fuzz';
import { buildDiscover, Msg, parseReply, type ClientArch } from '../dhcp/packet';

// `bootchain serve` as it runs on a LAN (TFTP 69, HTTP 8080, proxyDHCP 67/4011), in a lab host of
// its own, fed malformed DHCP packets and HTTP requests from the desk: it must not exit, must
// report no uncaught error (its guard prints "kept serving"), must count what it drops, and must
// still answer a good PXE client and a good HTTP client afterwards. FUZZ_CASES sets the count per
// parser (CI: 100 000).
const lab = labOrSkipReason('serve-fuzz.int.test.ts');
const SRV = '10.77.0.61';
const MAC = '52:54:00:f0:22:01';

interface ServeEvent {
  kind: string;
  status: string;
  client: string;
  file?: string;
  message?: string;
}

let serve: ChildProcess;
let host: Awaited<ReturnType<typeof addLabHost>> | undefined;
let exited: string | undefined;
const events: ServeEvent[] = [];
let answeredDhcp = 0;
let stderr = '';

/** Waits until `check` holds on the events seen so far. */
async function until(what: string, check: () => boolean, ms = 20000): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (exited) throw new Error(`serve ended (${exited}) while waiting for ${what}: ${stderr.slice(-2000)}`);
    if (Date.now() - t0 > ms) throw new Error(`no ${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  if (!lab) return;
  const root = path.join(lab.dir, 'fuzz-root');
  mkdirSync(path.join(root, 'sub'), { recursive: true });
  writeFileSync(path.join(root, 'default.ipxe'), '#!ipxe\necho fuzz\n');
  writeFileSync(path.join(root, 'undionly.kpxe'), randomBytes(3000));
  writeFileSync(path.join(root, 'sub', 'x.ipxe'), '#!ipxe\n');
  host = await addLabHost(lab, 'fuzz', [SRV]);
  serve = spawn('ip', ['netns', 'exec', host.ns, process.execPath, '--import', 'tsx', path.resolve('electron/cli/index.ts'), 'serve', '--root', root, '--address', SRV, '--proxy-dhcp', 'eth0', '--http', '8080', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  serve.on('exit', (code, sig) => (exited = `exit ${code ?? sig}`));
  serve.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let partial = '';
  serve.stdout!.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop()!;
    for (const l of lines) {
      // Only what the test looks at is kept (a fuzz run makes a line per request).
      if (/"status":"(done|refused|started)"/.test(l)) continue;
      if (l.includes('"status":"answered"')) answeredDhcp++;
      else if (l.startsWith('{')) events.push(JSON.parse(l) as ServeEvent);
    }
  });
  await until('"listening"', () => events.some((e) => e.kind === 'server' && e.status === 'listening'));
}, 60000);

afterAll(async () => {
  serve?.kill('SIGTERM');
  await host?.remove();
});

/** A client socket in the desk: every answer on 4011 comes back to it. */
async function clientSocket(): Promise<{ sock: dgram.Socket; answer: (xid: number, to: number, ms?: number) => Promise<ReturnType<typeof parseReply> | undefined> }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, () => r()));
  const waiting = new Map<number, (p: ReturnType<typeof parseReply>) => void>();
  sock.on('message', (m) => {
    try {
      const p = parseReply(m);
      waiting.get(p.xid)?.(p);
    } catch {
      // an answer to a mangled request may be mangled too
    }
  });
  const answer = (xid: number, to: number, ms = 3000) =>
    new Promise<ReturnType<typeof parseReply> | undefined>((resolve) => {
      const t = setTimeout(() => (waiting.delete(xid), resolve(undefined)), ms);
      waiting.set(xid, (p) => (clearTimeout(t), waiting.delete(xid), resolve(p)));
      sock.send(buildDiscover({ xid, mac: MAC, arch: 7 }), to, SRV);
    });
  return { sock, answer };
}

/** A PXE DISCOVER with its option 93 replaced by `arch` (any length). */
function withArch(arch: Buffer, xid: number): Buffer {
  const d = buildDiscover({ xid, mac: MAC, arch: 0 });
  const at = d.indexOf(Buffer.from([93, 2, 0, 0]), 240);
  return Buffer.concat([d.subarray(0, at), Buffer.from([93, arch.length]), arch, d.subarray(at + 4)]);
}

/** A good PXE client on 4011 gets its answer (the UEFI file for arch 7). */
async function goodClientServed(c: Awaited<ReturnType<typeof clientSocket>>): Promise<void> {
  const a = await c.answer(randomBytes(4).readUInt32BE(0), 4011);
  expect(exited).toBeUndefined();
  expect(a?.type).toBe(Msg.Offer);
  expect(a?.file).toBe('snponly.efi');
}

function httpGet(p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: SRV, port: 8080, path: p }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

/** Malformed DHCP requests: mutations of valid PXE DISCOVERs/REQUESTs and of their options. */
function dhcpPackets(r: () => number): () => { buf: Buffer; port: number } {
  const archs: ClientArch[] = [0, 6, 7, 9, 10, 11];
  const opt = (code: number, data: Buffer) => Buffer.concat([Buffer.from([code, data.length & 0xff]), data]);
  return () => {
    const valid = buildDiscover({
      xid: randomBytes(4).readUInt32BE(0),
      mac: MAC,
      arch: archs[pick(r, archs.length)]!,
      userClass: r() < 0.3 ? (r() < 0.5 ? 'iPXE' : 'bootchain') : undefined,
      ipxe: r() < 0.2,
      uuid: r() < 0.5 ? randomBytes(16) : undefined,
    });
    const head = valid.subarray(0, 240);
    const body = valid.subarray(240, valid.length - 1);
    const kind = r();
    let buf: Buffer;
    if (kind < 0.25) {
      // An odd option before the rest (the first of a code wins... or is concatenated, RFC 3396).
      const odd = [
        () => opt(93, randomBytes(pick(r, 4))), // option 93 of 0, 1, 2 or 3 bytes
        () => opt(97, randomBytes(pick(r, 40))),
        () => Buffer.concat([opt(97, randomBytes(255)), opt(97, randomBytes(255))]), // a 510-byte UUID
        () => opt(52, Buffer.from([pick(r, 4)])), // overload: options in file/sname
        () => opt(53, Buffer.alloc(pick(r, 2), Msg.Request)),
        () => opt(54, randomBytes(pick(r, 6))),
        () => opt(60, Buffer.concat([Buffer.from('PXEClient'), randomBytes(pick(r, 200))])),
        () => opt(77, randomBytes(pick(r, 255))),
        () => opt(175, randomBytes(pick(r, 30))),
        () => Buffer.from([pick(r, 256), 255]), // a length past the end
      ][pick(r, 10)]!();
      buf = Buffer.concat([head, odd, body, r() < 0.8 ? Buffer.from([255]) : Buffer.alloc(0)]);
      if (r() < 0.2) randomBytes(128).copy(buf, 44 + pick(r, 64)); // junk in sname/file (read when overloaded)
    } else if (kind < 0.45) {
      // One option's length byte set to anything.
      const b = Buffer.from(valid);
      const offsets: number[] = [];
      for (let i = 240; i < b.length - 1 && b[i] !== 255; i += 2 + b[i + 1]!) offsets.push(i + 1);
      b[offsets[pick(r, offsets.length)]!] = r() < 0.3 ? pick(r, 3) : pick(r, 256);
      buf = b;
    } else if (kind < 0.95) buf = mutate(valid, r);
    else buf = randomBytes(pick(r, 700));
    return { buf, port: r() < 0.7 ? 4011 : 67 };
  };
}

describe.skipIf(!lab)(`bootchain serve on a hostile LAN (${FUZZ_CASES} inputs per parser, seed ${FUZZ_SEED})`, () => {
  it('proxyDHCP: a request whose option 93 is 0 or 1 bytes long is dropped, counted, and serve goes on', { timeout: 30000 }, async () => {
    const c = await clientSocket();
    try {
      for (const arch of [Buffer.alloc(0), Buffer.from([7]), Buffer.from([0, 7, 1])]) {
        for (const port of [67, 4011]) c.sock.send(withArch(arch, randomBytes(4).readUInt32BE(0)), port, SRV);
      }
      await goodClientServed(c);
      await until('the count of dropped packets', () => events.some((e) => e.kind === 'proxydhcp' && e.status === 'ignored' && /option 93/.test(e.message ?? '')));
    } finally {
      c.sock.close();
    }
  });

  it('proxyDHCP: malformed packets on 67 and 4011 never stop it, and a good client is answered after them', { timeout: 120000 }, async () => {
    const c = await clientSocket();
    const r = rng(FUZZ_SEED);
    try {
      const before = answeredDhcp;
      const sent = await fuzzUdp(c.sock, dhcpPackets(r), FUZZ_CASES, SRV, async () => {
        // The good request after each batch: its answer means the batch was read (UDP keeps order per socket).
        for (let i = 0; i < 3; i++) if (await c.answer(randomBytes(4).readUInt32BE(0), 4011)) return;
        throw new Error(`serve stopped answering (${exited ?? 'still running'}): ${stderr.slice(-2000)}`);
      });
      await goodClientServed(c);
      const drops = events.filter((e) => e.kind === 'proxydhcp' && e.status === 'ignored').map((e) => e.message ?? '');
      process.stdout.write(`serve proxyDHCP fuzz: ${sent} malformed packets sent, ${answeredDhcp - before} answers; last drop line: ${drops.at(-1)}\n`);
      expect(sent).toBeGreaterThanOrEqual(FUZZ_CASES);
      expect(drops.length).toBeGreaterThan(0);
      expect(events.filter((e) => /kept serving/.test(e.message ?? ''))).toEqual([]);
    } finally {
      c.sock.close();
    }
  });

  it('HTTP: malformed requests get an answer or a close, and a good client is served after them', { timeout: 120000 }, async () => {
    const res = await fuzzHttp(SRV, 8080, httpRequests(['/default.ipxe', '/undionly.kpxe', '/sub/x.ipxe', '/missing', '/'], rng(FUZZ_SEED + 1)), FUZZ_CASES);
    process.stdout.write(`serve HTTP fuzz: ${res.handled} requests handled (${res.answered} answered, ${res.closed} closed by the server), statuses ${JSON.stringify(res.statuses)}, ${res.stalled} stalled\n`);
    expect(res.handled).toBeGreaterThanOrEqual(FUZZ_CASES);
    expect(res.stalled).toBe(0);
    expect(exited).toBeUndefined();
    expect(await httpGet('/default.ipxe')).toEqual({ status: 200, body: '#!ipxe\necho fuzz\n' });
    expect(events.filter((e) => /kept serving/.test(e.message ?? ''))).toEqual([]);
    expect(stderr).not.toMatch(/uncaught|unhandled/i);
  });

  it('stops on SIGTERM and then says how many malformed packets it dropped', { timeout: 30000 }, async () => {
    // 'close': the exit, and everything it printed read.
    const closed = new Promise((r) => serve.once('close', r));
    serve.kill('SIGTERM');
    await closed;
    expect(exited).toBe('exit 0');
    const last = events.filter((e) => e.kind === 'proxydhcp' && e.status === 'ignored').at(-1)?.message ?? '';
    process.stdout.write(`serve's last drop line: ${last}\n`);
    const total = Number(/\((\d+) dropped in all\)/.exec(last)?.[1] ?? 0);
    // Every datagram of the random-bytes share alone is malformed: about 5% of the run.
    expect(total).toBeGreaterThan(FUZZ_CASES / 50);
  });
});
