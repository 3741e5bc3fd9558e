import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BootchainError } from '../../../shared/errors';
import { openImage, probeImage, type ImageFormat, type OpenedImage } from './image-source';

// Every compressed or qemu image here is made by the real tool (gzip, xz, zstd, qemu-img) from a
// raw disk the test writes; each must decode to exactly that disk.
const tool = (t: string) => ['/usr/bin', '/bin', '/usr/local/bin'].map((d) => join(d, t)).find((p) => existsSync(p));
const GZIP = tool('gzip');
const XZ = tool('xz');
const ZSTD = tool('zstd');
const QEMU_IMG = tool('qemu-img');
for (const [n, p, pkg] of [['gzip', GZIP, 'gzip'], ['xz', XZ, 'xz-utils'], ['zstd', ZSTD, 'zstd'], ['qemu-img', QEMU_IMG, 'qemu-utils']] as const) {
  if (!p) process.stdout.write(`SKIP image-source.test.ts ${n} cases: ${n} is missing (apt-get install ${pkg})\n`);
}

let dir = '';
let raw = '';
let rawSha = '';
const RAW_SIZE = 6 * 1024 * 1024 + 4096; // not a multiple of 1 MiB: the tail is decoded too
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const run = (cmd: string, args: string[], out?: string) => {
  const r = execFileSync(cmd, args, { maxBuffer: 256 * 1024 * 1024 });
  if (out) writeFileSync(join(dir, out), r);
  return r;
};
const signal = () => new AbortController().signal;

async function drain(img: OpenedImage): Promise<{ sha: string; n: number }> {
  const h = createHash('sha256');
  let n = 0;
  for await (const c of img.chunks()) {
    h.update(c);
    n += c.length;
  }
  await img.close();
  return { sha: h.digest('hex'), n };
}
async function failure(p: Promise<unknown>): Promise<BootchainError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof BootchainError) return e;
    throw e;
  }
  throw new Error('expected an error');
}
const decodeAll = async (src: string) => drain(await openImage(src, { signal: signal() }));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hs-image-'));
  // A disk with an MBR-ish first sector, random data, a long zero run (sparse in qcow2) and text.
  const disk = Buffer.alloc(RAW_SIZE);
  let x = 12345;
  for (let i = 0; i < 3 * 1024 * 1024; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    disk[i] = x >>> 24;
  }
  disk.write('bootchain image-source test tail', RAW_SIZE - 100, 'latin1');
  disk[510] = 0x55;
  disk[511] = 0xaa;
  raw = join(dir, 'disk.img');
  writeFileSync(raw, disk);
  rawSha = sha(disk);
  if (GZIP) {
    run(GZIP, ['-c', raw], 'disk.img.gz');
    // Two members: the first half and the second half, concatenated (what `cat a.gz b.gz` makes).
    writeFileSync(join(dir, 'a'), disk.subarray(0, 1_000_000));
    writeFileSync(join(dir, 'b'), disk.subarray(1_000_000));
    writeFileSync(join(dir, 'members.gz'), Buffer.concat([run(GZIP, ['-c', join(dir, 'a')]), run(GZIP, ['-c', join(dir, 'b')])]));
  }
  if (XZ) {
    run(XZ, ['-c', raw], 'disk.img.xz');
    run(XZ, ['-c', '--block-size=1MiB', raw], 'blocks.img.xz');
    run(XZ, ['-c', '-T2', '-1', raw], 'threads.img.xz');
    writeFileSync(join(dir, 'streams.xz'), Buffer.concat([run(XZ, ['-c', join(dir, 'a')]), run(XZ, ['-c', join(dir, 'b')])]));
  }
  if (ZSTD) {
    run(ZSTD, ['-q', '-c', raw], 'disk.img.zst');
    run(ZSTD, ['-q', '-c', '--no-content-size', raw], 'nosize.img.zst');
    writeFileSync(join(dir, 'frames.zst'), Buffer.concat([run(ZSTD, ['-q', '-c', join(dir, 'a')]), run(ZSTD, ['-q', '-c', join(dir, 'b')])]));
  }
  if (QEMU_IMG) {
    run(QEMU_IMG, ['convert', '-f', 'raw', '-O', 'qcow2', raw, join(dir, 'disk.qcow2')]);
    run(QEMU_IMG, ['convert', '-f', 'raw', '-O', 'vmdk', raw, join(dir, 'disk.vmdk')]);
    run(QEMU_IMG, ['convert', '-f', 'raw', '-O', 'vhdx', raw, join(dir, 'disk.vhdx')]);
    run(QEMU_IMG, ['convert', '-f', 'raw', '-O', 'vdi', raw, join(dir, 'disk.vdi')]);
    // force_size: the VHD keeps the exact size instead of rounding it to a CHS geometry.
    run(QEMU_IMG, ['convert', '-f', 'raw', '-O', 'vpc', '-o', 'force_size=on', raw, join(dir, 'disk.vhd')]);
    run(QEMU_IMG, ['convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=fixed,force_size=on', raw, join(dir, 'fixed.vhd')]);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('openImage decodes what the real tools made to the raw disk', () => {
  const cases: Array<[string, ImageFormat, string | undefined, 'size' | 'hint' | 'none']> = [
    ['disk.img', 'raw', 'always', 'size'],
    ['disk.img.gz', 'gzip', GZIP, 'hint'],
    ['members.gz', 'gzip', GZIP, 'hint'],
    ['disk.img.xz', 'xz', XZ, 'size'],
    ['blocks.img.xz', 'xz', XZ, 'size'],
    ['threads.img.xz', 'xz', XZ, 'size'],
    ['streams.xz', 'xz', XZ, 'size'],
    ['disk.img.zst', 'zstd', ZSTD, 'size'],
    ['frames.zst', 'zstd', ZSTD, 'size'],
    ['nosize.img.zst', 'zstd', ZSTD, 'none'],
    ['disk.qcow2', 'qcow2', QEMU_IMG, 'size'],
    ['disk.vmdk', 'vmdk', QEMU_IMG, 'size'],
    ['disk.vhdx', 'vhdx', QEMU_IMG, 'size'],
    ['disk.vdi', 'vdi', QEMU_IMG, 'size'],
    ['disk.vhd', 'vpc', QEMU_IMG, 'size'],
    ['fixed.vhd', 'vpc', QEMU_IMG, 'size'],
  ];
  it.each(cases)('%s (%s)', async (file, format, have, sized) => {
    if (!have) return;
    const path = join(dir, file);
    const info = await probeImage(path, { signal: signal() });
    expect(info.format).toBe(format);
    expect(info.storedSize).toBe(statSync(path).size);
    expect(info.detected).toMatch(file === 'fixed.vhd' ? /fixed VHD: the footer/ : /magic bytes/);
    if (sized === 'size') expect(info.size).toBe(RAW_SIZE);
    else expect(info.size).toBeUndefined();
    // gzip's ISIZE is the LAST member's length only (mod 2^32): a hint, never a size.
    if (file === 'disk.img.gz') expect(info.sizeHint).toBe(RAW_SIZE);
    if (file === 'members.gz') expect(info.sizeHint).toBe(RAW_SIZE - 1_000_000);
    const img = await openImage(path, { signal: signal(), tmpDir: dir });
    const r = await drain(img);
    expect(r.n).toBe(RAW_SIZE);
    expect(r.sha).toBe(rawSha);
    if (!['qcow2', 'vmdk', 'vhdx', 'vdi', 'vpc'].includes(format)) expect(img.storedRead).toBe(statSync(path).size);
    if (format === 'qcow2') {
      // qemu-img map: the zero run after the random 3 MiB is known to be zero (all but the text's cluster).
      const zero = info.zeroRanges!.reduce((s, z) => s + z.length, 0);
      expect(zero).toBeGreaterThanOrEqual(RAW_SIZE - 3 * 1024 * 1024 - 128 * 1024);
      expect(info.zeroRanges!.every((z) => z.start >= 3 * 1024 * 1024)).toBe(true);
      // The raw copy is gone once closed.
      expect(readdirSync(dir).filter((f) => f.startsWith('bootchain-image-'))).toEqual([]);
    }
  });

  it('an ISO is told by CD001 at 0x8001; a name that lies does not change the format', async () => {
    const iso = Buffer.alloc(64 * 1024);
    iso.write('\x01CD001\x01', 0x8000, 'latin1');
    writeFileSync(join(dir, 'cd.img'), iso);
    expect((await probeImage(join(dir, 'cd.img'), { signal: signal() })).format).toBe('iso');
    if (!XZ) return;
    writeFileSync(join(dir, 'lies.img'), readFileSync(join(dir, 'disk.img.xz')));
    const info = await probeImage(join(dir, 'lies.img'), { signal: signal() });
    expect(info.format).toBe('xz');
    expect(info.detected).toMatch(/name says raw/);
  });

  it('a raw image never reaches qemu-img (it is never asked to guess a format: CVE-2008-2004)', async () => {
    // With a qemu-img that does not exist, raw still opens: nothing ran it.
    const img = await openImage(raw, { signal: signal(), qemuImg: join(dir, 'no-qemu-img') });
    expect((await drain(img)).sha).toBe(rawSha);
  });

  it('a compressed qcow2 (.qcow2.xz) is refused with how to decompress it', async () => {
    if (!QEMU_IMG || !XZ) return;
    run(XZ, ['-c', join(dir, 'disk.qcow2')], 'disk.qcow2.xz');
    const e = await failure(decodeAll(join(dir, 'disk.qcow2.xz')));
    expect(e.appError).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/holds a qcow2 image/), hint: expect.stringMatching(/xz -dk disk.qcow2.xz/) });
  });
});

describe('bad input', () => {
  it('a missing path, a folder, an empty file, a URL of another scheme', async () => {
    expect((await failure(probeImage(join(dir, 'nope.img'), { signal: signal() }))).appError.code).toBe('NOT_FOUND');
    expect((await failure(probeImage(dir, { signal: signal() }))).appError).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/folder/) });
    writeFileSync(join(dir, 'empty.img'), '');
    expect((await failure(probeImage(join(dir, 'empty.img'), { signal: signal() }))).appError.message).toMatch(/empty/);
    for (const u of ['ftp://example.invalid/a.img', 'file:///etc/passwd', 'nbd://x/y']) {
      expect((await failure(probeImage(u, { signal: signal() }))).appError.code).toBe('INVALID_INPUT');
    }
  });

  const damaged: Array<[string, string | undefined, (b: Buffer) => Buffer, RegExp]> = [
    ['disk.img.gz', GZIP, (b) => b.subarray(0, b.length >> 1), /gzip image .* damaged at decoded byte \d+ \(\d+ stored bytes read\)/],
    ['disk.img.gz', GZIP, (b) => flip(b, b.length >> 1), /gzip image .* damaged/],
    ['disk.img.xz', XZ, (b) => b.subarray(0, b.length >> 1), /xz image .* (damaged|decoded to)/],
    ['nosize.xz', XZ, (b) => b.subarray(0, b.length >> 1), /xz image .* damaged .*truncated/],
    ['disk.img.xz', XZ, (b) => flip(b, b.length >> 1), /xz image .* damaged .*corrupt/],
    ['disk.img.zst', ZSTD, (b) => b.subarray(0, b.length >> 1), /zstd image .* (damaged|decoded to)/],
    ['nosize.img.zst', ZSTD, (b) => b.subarray(0, b.length >> 1), /zstd image .* damaged/],
    ['disk.img.zst', ZSTD, (b) => flip(b, b.length >> 1), /zstd image .* damaged/],
  ];
  it.each(damaged)('%s damaged: a clear error naming the format and where', async (file, have, harm, re) => {
    if (!have) return;
    // nosize.xz: an xz stream piped through xz (no index to read ahead from a truncated file).
    const src = file === 'nosize.xz' ? readFileSync(join(dir, 'disk.img.xz')) : readFileSync(join(dir, file));
    const bad = join(dir, `bad-${file}`);
    writeFileSync(bad, harm(src));
    const e = await failure(decodeAll(bad));
    expect(e.appError.code).toBe('INVALID_INPUT');
    expect(e.appError.message).toMatch(re);
  });

  it.each(['disk.qcow2', 'disk.vmdk'])('%s truncated: refused (qemu-img would read the missing part as zeros), no raw copy is left', async (file) => {
    if (!QEMU_IMG) return;
    const src = readFileSync(join(dir, file));
    const cut = join(dir, `cut-${file}`);
    writeFileSync(cut, src.subarray(0, src.length >> 1));
    const e = await failure(openImage(cut, { signal: signal(), tmpDir: dir }).then(drain));
    expect(e.appError).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/(qcow2|vmdk) image .* is truncated: its data reach byte \d+ but the file has \d+ bytes/) });
    expect(readdirSync(dir).filter((f) => f.startsWith('bootchain-image-'))).toEqual([]);
  });

  it('qemu-img missing: TOOL_MISSING with the package to install', async () => {
    if (!QEMU_IMG) return;
    const e = await failure(probeImage(join(dir, 'disk.qcow2'), { signal: signal(), qemuImg: join(dir, 'no-qemu-img') }));
    expect(e.appError).toMatchObject({ code: 'TOOL_MISSING', hint: expect.stringMatching(/apt-get install qemu-utils/) });
  });

  it('a qcow2 overlay naming a backing file is refused (an image naming other host files)', async () => {
    if (!QEMU_IMG) return;
    run(QEMU_IMG, ['create', '-f', 'qcow2', '-F', 'raw', '-b', raw, join(dir, 'overlay.qcow2')]);
    const e = await failure(probeImage(join(dir, 'overlay.qcow2'), { signal: signal() }));
    expect(e.appError).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/overlay/) });
  });
});

function flip(b: Buffer, at: number): Buffer {
  const c = Buffer.from(b);
  for (let i = 0; i < 64; i++) c[at + i] = c[at + i]! ^ 0x5a;
  return c;
}

describe('backpressure: a consumer that stops reading does not make us buffer the image', () => {
  // 128 MiB of zeros decode from a few hundred KiB: a decoder that ran ahead of the consumer would
  // fill memory while it waits. After one chunk we wait, then look at the external memory.
  const BIG = 128 * 1024 * 1024;
  const make = (name: string) => {
    const p = join(dir, name);
    if (name === 'big.img') {
      writeFileSync(p, '');
      execFileSync('truncate', ['-s', String(BIG), p]);
    } else if (name === 'big.img.gz' && GZIP) execFileSync('sh', ['-c', `head -c ${BIG} /dev/zero | ${GZIP} -1 -c > ${p}`]);
    else if (name === 'big.img.xz' && XZ) execFileSync('sh', ['-c', `head -c ${BIG} /dev/zero | ${XZ} -1 -c > ${p}`]);
    else if (name === 'big.img.zst' && ZSTD) execFileSync('sh', ['-c', `head -c ${BIG} /dev/zero | ${ZSTD} -q -1 -c > ${p}`]);
    else return undefined;
    return p;
  };
  it.each(['big.img', 'big.img.gz', 'big.img.xz', 'big.img.zst', 'http big.img'])('%s', async (name) => {
    const p = make(name.replace('http ', ''));
    if (!p) return;
    let server: http.Server | undefined;
    let src = p;
    if (name.startsWith('http ')) {
      // The server streams the file with backpressure of its own (pipe): what piles up would be ours.
      server = http.createServer((_q, res) => {
        res.writeHead(200, { 'content-length': String(BIG) });
        createReadStream(p).pipe(res);
      });
      await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
      src = `http://127.0.0.1:${(server.address() as AddressInfo).port}/big.img`;
    }
    global.gc?.();
    const before = process.memoryUsage().arrayBuffers;
    const img = await openImage(src, { signal: signal() });
    const it = img.chunks()[Symbol.asyncIterator]();
    let n = (await it.next()).value!.length;
    await new Promise((r) => setTimeout(r, 400));
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(grown).toBeLessThan(24 * 1024 * 1024);
    for (let r = await it.next(); !r.done; r = await it.next()) n += r.value.length;
    expect(n).toBe(BIG);
    await img.close();
    rmSync(p);
    if (server) {
      server.closeAllConnections();
      await new Promise((r) => server!.close(r));
    }
  });
});

describe('HTTP(S) URLs, streamed from a server on 127.0.0.1', () => {
  let server: http.Server;
  let base = '';
  let xzBody = Buffer.alloc(0);
  let rawBody = Buffer.alloc(0);
  let gzBody = Buffer.alloc(0);
  let rangeRequests = 0;
  beforeAll(async () => {
    rawBody = readFileSync(raw);
    if (XZ) xzBody = readFileSync(join(dir, 'disk.img.xz'));
    if (GZIP) gzBody = readFileSync(join(dir, 'disk.img.gz'));
    server = http.createServer((req, res) => {
      const u = req.url ?? '';
      const send = (body: Buffer, length: boolean) => {
        res.writeHead(200, length ? { 'content-length': String(body.length) } : {});
        res.end(body);
      };
      if (u === '/disk.img') return send(rawBody, true);
      if (u === '/chunked/disk.img') return send(rawBody, false);
      if (u === '/disk.img.xz') return send(xzBody, true);
      if (u === '/chunked/disk.img.xz') return send(xzBody, false);
      if (u === '/ranged/disk.img.xz' || u === '/ranged/disk.img.gz') {
        // A server that takes Range requests (RFC 9110 §14): the xz index is read before the body.
        const body = u.endsWith('.xz') ? xzBody : gzBody;
        const m = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''));
        if (!m) {
          res.writeHead(200, { 'content-length': String(body.length), 'accept-ranges': 'bytes' });
          return res.end(body);
        }
        rangeRequests++;
        const part = body.subarray(Number(m[1]), Number(m[2]) + 1);
        res.writeHead(206, { 'content-length': String(part.length), 'content-range': `bytes ${m[1]}-${m[2]}/${body.length}` });
        return res.end(part);
      }
      if (u === '/auth/disk.img') {
        if (req.headers.authorization !== `Basic ${Buffer.from('u:p@ss').toString('base64')}`) return res.writeHead(401).end();
        return send(rawBody, true);
      }
      if (u === '/disk.qcow2') return send(readFileSync(join(dir, 'disk.qcow2')), true);
      if (u.startsWith('/hop/')) {
        const n = Number(u.slice(5));
        res.writeHead(302, { location: n > 0 ? `/hop/${n - 1}` : '/disk.img' });
        return res.end();
      }
      if (u === '/cut/disk.img' || u === '/cut-chunked/disk.img') {
        // The connection is dropped halfway through the body.
        res.writeHead(200, u.startsWith('/cut/') ? { 'content-length': String(rawBody.length) } : {});
        res.write(rawBody.subarray(0, 2 * 1024 * 1024), () => setTimeout(() => res.socket?.destroy(), 50));
        return;
      }
      if (u === '/slow/disk.img') {
        // Sends a little, then nothing: for cancel.
        res.writeHead(200, { 'content-length': String(rawBody.length) });
        res.write(rawBody.subarray(0, 256 * 1024));
        return;
      }
      res.writeHead(404, 'Not Found').end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it.each([
    ['/disk.img', true],
    ['/chunked/disk.img', false],
    ['/disk.img.xz', true],
    ['/chunked/disk.img.xz', false],
    ['/hop/4', true],
  ])('%s decodes to the raw disk', async (path, withLength) => {
    if (path.includes('.xz') && !XZ) return;
    const img = await openImage(base + path, { signal: signal() });
    expect(img.info.format).toBe(path.endsWith('.xz') ? 'xz' : 'raw');
    if (withLength) expect(img.info.storedSize).toBe(path.endsWith('.xz') ? xzBody.length : RAW_SIZE);
    else expect(img.info.storedSize).toBeUndefined();
    if (!path.endsWith('.xz')) expect(img.info.size).toBe(withLength ? RAW_SIZE : undefined);
    const r = await drain(img);
    expect(r).toEqual({ sha: rawSha, n: RAW_SIZE });
  });

  it('a server that takes Range requests: the xz size (from its index) and the gzip hint are known before the body', async () => {
    if (!XZ || !GZIP) return;
    const info = await probeImage(`${base}/ranged/disk.img.xz`, { signal: signal() });
    expect(info).toMatchObject({ format: 'xz', size: RAW_SIZE, storedSize: xzBody.length });
    expect(rangeRequests).toBeGreaterThan(0);
    expect((await probeImage(`${base}/ranged/disk.img.gz`, { signal: signal() })).sizeHint).toBe(RAW_SIZE);
    const img = await openImage(`${base}/ranged/disk.img.xz`, { signal: signal() });
    expect(await drain(img)).toEqual({ sha: rawSha, n: RAW_SIZE });
  });

  it('credentials in the URL are sent, and never shown', async () => {
    const lines: string[] = [];
    const url = `${base.replace('http://', 'http://u:p%40ss@')}/auth/disk.img`;
    const img = await openImage(url, { signal: signal(), log: (l) => lines.push(l) });
    expect(img.info.source).toBe(`${base}/auth/disk.img`);
    expect((await drain(img)).sha).toBe(rawSha);
    expect(lines.join('\n')).not.toMatch(/p%40ss|p@ss/);
  });

  it('a 404, six redirects, a qcow2 URL: clear errors', async () => {
    expect((await failure(probeImage(`${base}/missing.img`, { signal: signal() }))).appError).toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/404/) });
    expect((await failure(probeImage(`${base}/hop/5`, { signal: signal() }))).appError.message).toMatch(/redirects more than 5/);
    if (QEMU_IMG) expect((await failure(probeImage(`${base}/disk.qcow2`, { signal: signal() }))).appError.hint).toMatch(/download it first/);
  });

  it.each(['/cut/disk.img', '/cut-chunked/disk.img'])('%s: a download cut short says how far it got', async (path) => {
    const e = await failure(decodeAll(base + path));
    expect(e.appError.code).toBe('UNREACHABLE');
    expect(e.appError.message).toMatch(path.startsWith('/cut/') ? new RegExp(`stopped after \\d+ of ${RAW_SIZE} bytes`) : /stopped after \d+ of an unknown number of bytes/);
  });

  it('cancel while the server stalls: the read ends as CANCELLED', async () => {
    const ac = new AbortController();
    const img = await openImage(`${base}/slow/disk.img`, { signal: ac.signal });
    const it = img.chunks()[Symbol.asyncIterator]();
    await it.next();
    setTimeout(() => ac.abort(), 100);
    const e = await failure((async () => {
      for (let r = await it.next(); !r.done; r = await it.next());
    })());
    expect(e.appError.code).toBe('CANCELLED');
  });
});

describe('cancel mid-stream', () => {
  it.each(['disk.img', 'disk.img.gz', 'disk.img.xz', 'disk.img.zst'])('%s: the read ends as CANCELLED and the next image opens', async (file) => {
    const path = join(dir, file);
    if (!existsSync(path)) return;
    const ac = new AbortController();
    const img = await openImage(path, { signal: ac.signal });
    const it = img.chunks()[Symbol.asyncIterator]();
    await it.next();
    ac.abort();
    const e = await failure((async () => {
      for (let r = await it.next(); !r.done; r = await it.next());
    })());
    expect(e.appError.code).toBe('CANCELLED');
    // xz-decompress runs one decoder at a time behind a lock: a cancelled one must let go of it.
    expect((await decodeAll(path)).sha).toBe(rawSha);
  });
});

describe('cancel during a qemu-img conversion', () => {
  it('kills qemu-img and deletes the raw copy', async () => {
    if (!QEMU_IMG) return;
    // The real qemu-img, slowed by its own rate limit (-r) so that the cancel lands mid-conversion.
    const slow = join(dir, 'qemu-img-slow');
    writeFileSync(slow, `#!/bin/sh\nif [ "$1" = convert ]; then shift; exec ${QEMU_IMG} convert -r 512K "$@"; fi\nexec ${QEMU_IMG} "$@"\n`);
    chmodSync(slow, 0o755);
    const tmp = mkdtempSync(join(dir, 'cancel-'));
    const ac = new AbortController();
    const img = await openImage(join(dir, 'disk.qcow2'), { signal: ac.signal, qemuImg: slow, tmpDir: tmp });
    const reading = failure(drain(img));
    // Wait until the raw copy has begun.
    while (!readdirSync(tmp).some((d) => existsSync(join(tmp, d, 'disk.raw')))) await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    const e = await reading;
    expect(e.appError.code).toBe('CANCELLED');
    await img.close();
    expect(readdirSync(tmp)).toEqual([]);
    const procs = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'latin1');
      } catch {
        return '';
      }
    });
    expect(procs.filter((c) => c.includes(tmp))).toEqual([]);
  });
});
