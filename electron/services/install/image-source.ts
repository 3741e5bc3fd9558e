/**
 * Image sources for the Install step: opens an OS image (a local file or an http(s) URL) and
 * yields its decoded disk bytes in order, streamed, for the writer to put on the LUN.
 *
 * - Raw/ISO, gzip (Node's zlib, every member), zstd (Node's zlib, every frame) and xz (the
 *   `xz-decompress` WebAssembly build of xz-embedded, every stream and block) are decoded on the
 *   fly, from a file or straight from the HTTP response: never a temp copy, never the whole image
 *   in memory. Each stage pulls only when the consumer asks for more (backpressure end to end).
 * - qcow2, vmdk, vhdx, vdi and vpc go through `qemu-img` (qemu-utils). qemu-img cannot write to a
 *   pipe (`convert`/`dd` to /dev/stdout fail: "Could not resize file" / "'file' driver requires a
 *   regular file", tested with qemu-img 7.2), so the image is converted to a SPARSE raw file in
 *   tmpDir first and that file is streamed; it is deleted on close, cancel and error.
 * - The format is told by magic bytes, the file name only breaks ties; qemu-img is always given
 *   `-f` with what was detected, never left to probe: probing lets a raw image that carries a
 *   qcow2 header (written by a guest into its own disk) be opened as qcow2 with a backing file
 *   naming any host file (CVE-2008-2004). Backing files and external data files are refused for
 *   the same reason (OSSA-2024-001 / CVE-2024-32498: an image that names other host files).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as fsc, createReadStream } from 'node:fs';
import { access, mkdtemp, open, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { basename, join, resolve as resolvePath } from 'node:path';
import { Readable } from 'node:stream';
import { ReadableStream } from 'node:stream/web';
import zlib from 'node:zlib';
import * as xzModule from 'xz-decompress';
import { BootchainError, fail } from '../../../shared/errors';

export type ImageFormat = 'raw' | 'iso' | 'gzip' | 'xz' | 'zstd' | 'qcow2' | 'vmdk' | 'vhdx' | 'vdi' | 'vpc';

/** What is known about an image before its bytes are read. */
export interface ImageInfo {
  /** What the user gave (a path or an http(s) URL), with any user:pass@ removed. */
  source: string;
  name: string;
  format: ImageFormat;
  /** Bytes of the file/download as stored (file size, Content-Length), when known. */
  storedSize?: number;
  /**
   * Bytes of the decoded disk image, when knowable before reading: raw/ISO the file size or
   * Content-Length; xz from every stream's index (a file, or a URL whose server takes Range
   * requests); zstd (a file) the sum of every frame's Frame_Content_Size, found by walking the
   * block headers; qemu formats qemu-img info's virtual-size. The decoded length is checked
   * against it at the end.
   */
  size?: number;
  /** A likely decoded size that may be wrong (gzip's ISIZE is mod 2^32; a zstd URL's first frame). */
  sizeHint?: number;
  /** Ranges of the disk qemu-img map reports as reading zero (qemu formats only). */
  zeroRanges?: Array<{ start: number; length: number }>;
  /** One line saying how the format was told (shown beside it). */
  detected: string;
}

/** An image open for reading. */
export interface OpenedImage {
  info: ImageInfo;
  /** The decoded bytes in order; throws a BootchainError naming the format and offset on corrupt input. */
  chunks(): AsyncIterable<Buffer>;
  /** Bytes of the stored input consumed so far (progress on compressed input; qemu formats: all of it once converted). */
  readonly storedRead: number;
  /** Stops reading, kills any child, deletes temp files. Safe to call twice. */
  close(): Promise<void>;
}

/** Options of openImage / probeImage. */
export interface ImageOptions {
  signal: AbortSignal;
  log?: (line: string) => void;
  /** The qemu-img to run (default: qemu-img on PATH). */
  qemuImg?: string;
  /** Where a qemu format's raw copy goes (default: the OS temp folder). */
  tmpDir?: string;
}

const QEMU_FORMATS = new Set<ImageFormat>(['qcow2', 'vmdk', 'vhdx', 'vdi', 'vpc']);
/** Enough of the head for every magic (ISO's CD001 at 0x8001) and a zstd frame header. */
const HEAD_BYTES = 64 * 1024;
const MAX_REDIRECTS = 5;
const HTTP_IDLE_MS = 60_000;
const READ_CHUNK = 1024 * 1024;
/**
 * xz-decompress is webpack CommonJS marked __esModule: Node's ESM loader (vitest) gives it as the
 * default export only, a CommonJS build (tsx, the bundled app) as named exports: take either.
 */
const XzReadableStream: typeof xzModule.XzReadableStream =
  xzModule.XzReadableStream ?? (xzModule as unknown as { default: typeof xzModule }).default.XzReadableStream;
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

// ---------------------------------------------------------------------------------------------
// Source validation and the stored bytes (file or HTTP response)

/** Removes user:pass@ from a URL (for logs, errors and ImageInfo.source). */
export function stripCredentials(source: string): string {
  return source.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i, '$1');
}

type Parsed = { kind: 'url'; url: URL } | { kind: 'file'; path: string };

function parseSource(source: string): Parsed {
  if (typeof source !== 'string' || source.trim() === '') fail('INVALID_INPUT', 'No image given', { hint: 'Choose an image file or paste an http(s) URL.', field: 'image' });
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(source);
  // A drive letter (C:\…) is a path, not a scheme.
  if (scheme && (source.slice(scheme[0].length).startsWith('//') || scheme[1]!.length > 1)) {
    const s = scheme[1]!.toLowerCase();
    if (s !== 'http' && s !== 'https') {
      fail('INVALID_INPUT', `"${s}:" images cannot be opened: only http and https URLs and local files`, {
        hint: s === 'file' ? 'Give the path itself (without file://).' : 'Download the image first, then choose the file.',
        field: 'image',
      });
    }
    let url: URL;
    try {
      url = new URL(source);
    } catch {
      fail('INVALID_INPUT', `"${stripCredentials(source)}" is not a valid URL`, { field: 'image' });
    }
    return { kind: 'url', url };
  }
  return { kind: 'file', path: resolvePath(source) };
}

/** The stored bytes: the first HEAD_BYTES (or all, if shorter) and a stream of all of them from byte 0. */
interface Stored {
  head: Buffer;
  storedSize?: number;
  /** All stored bytes from the start (a file is read again; a response yields the head it peeked, then the rest). */
  stream(): AsyncIterable<Buffer>;
  /** A local file's path (qemu-img and the zstd frame walk read it). */
  path?: string;
  /** Reads stored bytes at a position (a file; a URL whose server takes Range requests): footers and indexes. */
  readAt?: (pos: number, len: number) => Promise<Buffer>;
  destroy(): void;
}

async function openFile(path: string): Promise<Stored> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') fail('NOT_FOUND', `The image ${path} does not exist`, { hint: 'Check the path, or choose the file again.', field: 'image' });
    fail('INVALID_INPUT', `The image ${path} cannot be read: ${(e as Error).message}`, { field: 'image' });
  }
  if (st.isDirectory()) fail('INVALID_INPUT', `${path} is a folder, not an image file`, { hint: 'Choose the image file inside it.', field: 'image' });
  if (!st.isFile()) fail('INVALID_INPUT', `${path} is not a regular file`, { hint: 'Choose an image file (.img, .iso, .xz, .qcow2 …).', field: 'image' });
  if (st.size === 0) fail('INVALID_INPUT', `The image ${path} is empty`, { field: 'image' });
  try {
    await access(path, fsc.R_OK);
  } catch (e) {
    fail('INVALID_INPUT', `The image ${path} is not readable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { hint: 'Check its permissions (ls -l) or copy it somewhere this user can read.', field: 'image' });
  }
  const fh = await open(path, 'r');
  const head = Buffer.alloc(Math.min(HEAD_BYTES, st.size));
  try {
    await fh.read(head, 0, head.length, 0);
  } finally {
    await fh.close();
  }
  let streams: Array<ReturnType<typeof createReadStream>> = [];
  return {
    head,
    storedSize: st.size,
    path,
    async readAt(pos, len) {
      const f = await open(path, 'r');
      try {
        const b = Buffer.alloc(len);
        const { bytesRead } = await f.read(b, 0, len, pos);
        if (bytesRead !== len) throw new Error(`short read at ${pos}`);
        return b;
      } finally {
        await f.close();
      }
    },
    stream() {
      const s = createReadStream(path, { highWaterMark: READ_CHUNK });
      streams.push(s);
      return s as AsyncIterable<Buffer>;
    },
    destroy() {
      for (const s of streams) s.destroy();
      streams = [];
    },
  };
}

function httpGet(url: URL, signal: AbortSignal, auth: string | undefined, range?: string): Promise<http.IncomingMessage> {
  return new Promise((res, rej) => {
    const mod = url.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'Bootchain', ...(range ? { range } : {}) };
    // A server that stops sending without closing would otherwise hold the write forever: the
    // socket's idle timeout (the request option, not req.setTimeout, which Electronegativity's
    // string-eval check cannot tell from window.setTimeout) ends it.
    const req = mod.get(url, { signal, headers, timeout: HTTP_IDLE_MS, ...(auth ? { auth } : {}) }, res);
    req.on('timeout', () => req.destroy(new Error(`no data for ${HTTP_IDLE_MS / 1000} s`)));
    req.on('error', rej);
  });
}

async function openUrl(url: URL, signal: AbortSignal, log: (l: string) => void): Promise<Stored> {
  const shown = (u: URL) => stripCredentials(u.href);
  const origin = url.origin;
  const auth = url.username ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` : undefined;
  let cur = new URL(url.href);
  cur.username = '';
  cur.password = '';
  let res: http.IncomingMessage;
  for (let hop = 0; ; hop++) {
    try {
      // Credentials go only to the origin they were given for, never along a redirect elsewhere.
      res = await httpGet(cur, signal, cur.origin === origin ? auth : undefined);
    } catch (e) {
      if (signal.aborted) fail('CANCELLED', 'Cancelled before the download started');
      const code = (e as NodeJS.ErrnoException).code;
      fail('UNREACHABLE', `Cannot download ${shown(cur)}: ${code ?? (e as Error).message}`, { hint: 'Check the URL and that this computer can reach the server.', field: 'image' });
    }
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hop >= MAX_REDIRECTS) fail('UNREACHABLE', `${shown(url)} redirects more than ${MAX_REDIRECTS} times`, { hint: 'Open the URL in a browser and use the address it ends at.', field: 'image' });
      const next = new URL(res.headers.location, cur);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') fail('INVALID_INPUT', `${shown(cur)} redirects to a ${next.protocol} URL`, { field: 'image' });
      log(`${shown(cur)} redirects (${status}) to ${shown(next)}`);
      cur = next;
      continue;
    }
    if (status < 200 || status > 299) {
      res.resume();
      fail(status === 404 || status === 410 ? 'NOT_FOUND' : 'UNREACHABLE', `The server answered ${status} ${res.statusMessage ?? ''} for ${shown(cur)}`.replace(/ +for/, ' for'), {
        hint: status === 401 || status === 403 ? 'The server wants a login: download the image in a browser, then choose the file.' : 'Check the URL (open it in a browser).',
        retryable: status >= 500,
        field: 'image',
      });
    }
    break;
  }
  const cl = res.headers['content-length'];
  const storedSize = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : undefined;
  const ranges = res.headers['accept-ranges'] === 'bytes' && storedSize !== undefined;
  const final = cur;
  const finalAuth = cur.origin === origin ? auth : undefined;
  let tail: { pos: number; data: Buffer } | undefined;
  /** Range requests (RFC 9110 §14) for a compressed file's footer and index; the last 64 KiB are fetched once. */
  const readAt = async (pos: number, len: number): Promise<Buffer> => {
    const size = storedSize!;
    if (!tail && pos >= size - HEAD_BYTES) tail = { pos: Math.max(0, size - HEAD_BYTES), data: await rangeGet(final, signal, finalAuth, Math.max(0, size - HEAD_BYTES), size) };
    if (tail && pos >= tail.pos && pos + len <= tail.pos + tail.data.length) return tail.data.subarray(pos - tail.pos, pos - tail.pos + len);
    return rangeGet(final, signal, finalAuth, pos, pos + len);
  };
  const it = res[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let received = 0;
  const cut = (why: string): never =>
    fail('UNREACHABLE', `The download of ${shown(url)} stopped after ${received} of ${storedSize ?? 'an unknown number of'} bytes: ${why}`, {
      hint: 'Check the connection and start again (or download the image first and choose the file).',
      retryable: true,
    });
  const next = async (): Promise<Buffer | undefined> => {
    let r: IteratorResult<Buffer>;
    try {
      r = await it.next();
    } catch (e) {
      if (signal.aborted) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      return cut(code === 'ECONNRESET' ? 'the connection was closed' : (e as Error).message);
    }
    if (r.done) {
      if (storedSize !== undefined && received < storedSize) cut('the server closed the connection early');
      return undefined;
    }
    received += r.value.length;
    return r.value;
  };
  const peeked: Buffer[] = [];
  let peekedLen = 0;
  while (peekedLen < HEAD_BYTES) {
    const b = await next();
    if (!b) break;
    peeked.push(b);
    peekedLen += b.length;
  }
  if (peekedLen === 0) fail('INVALID_INPUT', `${shown(url)} is empty`, { field: 'image' });
  const all = Buffer.concat(peeked);
  let used = false;
  return {
    head: all.subarray(0, HEAD_BYTES),
    ...(storedSize !== undefined ? { storedSize } : {}),
    ...(ranges ? { readAt } : {}),
    stream() {
      if (used) throw new Error('a download is streamed once');
      used = true;
      return (async function* () {
        yield all;
        for (let b = await next(); b; b = await next()) yield b;
      })();
    },
    destroy() {
      res.destroy();
    },
  };
}

/** One Range GET of bytes [from, to) that must answer 206 with exactly those bytes. */
async function rangeGet(url: URL, signal: AbortSignal, auth: string | undefined, from: number, to: number): Promise<Buffer> {
  const res = await httpGet(url, signal, auth, `bytes=${from}-${to - 1}`);
  if (res.statusCode !== 206) {
    res.destroy();
    throw new Error(`Range request answered ${res.statusCode}`);
  }
  const parts: Buffer[] = [];
  let n = 0;
  for await (const b of res as AsyncIterable<Buffer>) {
    n += b.length;
    if (n > to - from) {
      res.destroy();
      throw new Error('Range request answered more than asked');
    }
    parts.push(b);
  }
  if (n !== to - from) throw new Error('Range request answered less than asked');
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// Detection

const EXT_FORMAT: Record<string, ImageFormat> = {
  gz: 'gzip', gzip: 'gzip', xz: 'xz', zst: 'zstd', zstd: 'zstd', qcow2: 'qcow2', qcow: 'qcow2', vmdk: 'vmdk', vhdx: 'vhdx', vdi: 'vdi', vhd: 'vpc', iso: 'iso', img: 'raw', raw: 'raw', bin: 'raw',
};

/** The format the name suggests (the last extension), if any. */
function formatByName(name: string): ImageFormat | undefined {
  const m = /\.([a-z0-9]+)$/i.exec(name);
  return m ? EXT_FORMAT[m[1]!.toLowerCase()] : undefined;
}

/** Tells the format by magic bytes in the head; undefined when none matches (raw). */
export function formatByMagic(head: Buffer): ImageFormat | undefined {
  const at = (off: number, s: string | Buffer) => {
    const b = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
    return head.length >= off + b.length && head.subarray(off, off + b.length).equals(b);
  };
  if (head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) return 'gzip'; // RFC 1952 §2.3.1 (ID1 ID2 CM=deflate)
  if (at(0, XZ_MAGIC)) return 'xz'; // .xz file format §2.1.1.1
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd'; // RFC 8878 §3.1.1
  if (at(0, 'QFI\xfb')) return 'qcow2';
  if (at(0, 'KDMV') || at(0, '# Disk DescriptorFile')) return 'vmdk';
  if (at(0, 'vhdxfile')) return 'vhdx';
  if (head.length >= 0x44 && head.readUInt32LE(0x40) === 0xbeda107f) return 'vdi';
  if (at(0, 'conectix')) return 'vpc';
  if (at(0x8001, 'CD001')) return 'iso'; // ECMA-119 §8.1: the first volume descriptor at sector 16
  return undefined;
}

async function detect(stored: Stored, name: string, log: (l: string) => void): Promise<{ format: ImageFormat; detected: string }> {
  const byName = formatByName(name);
  let format = formatByMagic(stored.head);
  let how: string;
  if (format) {
    how = `${format} (by its magic bytes)`;
  } else if (byName === 'vpc' && stored.path && stored.storedSize !== undefined && stored.storedSize >= 512) {
    // A fixed VHD is raw data with a 512-byte footer at the end only: told by the footer's cookie.
    const foot = await stored.readAt!(stored.storedSize - 512, 8);
    format = foot.toString('latin1') === 'conectix' ? 'vpc' : 'raw';
    how = format === 'vpc' ? 'vpc (a fixed VHD: the footer at its end)' : 'raw (no known magic bytes)';
  } else {
    // No magic: raw. The name only picks between the two raw kinds.
    format = byName === 'iso' ? 'iso' : 'raw';
    how = `${format} (no known magic bytes${byName === 'iso' ? '; named .iso' : ''})`;
  }
  if (byName && byName !== format && !(byName === 'raw' && format === 'iso') && !(byName === 'iso' && format === 'raw')) {
    how += `; the name says ${byName}, the content wins`;
  }
  log(`${name}: ${how}`);
  return { format, detected: how };
}

// ---------------------------------------------------------------------------------------------
// Sizes known before reading

/** Reads a multibyte integer of the .xz format (§1.2); returns [value, bytes used]. */
function xzVarint(b: Buffer, off: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 9 && off + i < b.length; i++) {
    const byte = b[off + i]!;
    v += (byte & 0x7f) * mul;
    mul *= 128;
    if ((byte & 0x80) === 0) return [v, i + 1];
  }
  throw new Error('bad multibyte integer');
}

/**
 * The decoded size of a local .xz file: every stream's footer and index, read from the end
 * (.xz file format §2.1.2.3 Backward Size, §4 Index; streams may be concatenated with padding).
 */
async function xzFileSize(read: (pos: number, len: number) => Promise<Buffer>, fileSize: number): Promise<number | undefined> {
  try {
    let end = fileSize;
    let total = 0;
    while (end > 0) {
      // Stream padding: zero bytes in multiples of four between streams (§2.2).
      let pad = await read(end - 4, 4);
      while (pad.readUInt32LE(0) === 0 && end > 4) {
        end -= 4;
        pad = await read(end - 4, 4);
      }
      if (end < 24) return undefined;
      const footer = await read(end - 12, 12);
      if (footer.toString('latin1', 10, 12) !== 'YZ' || zlib.crc32(footer.subarray(4, 10)) !== footer.readUInt32LE(0)) return undefined;
      const indexSize = (footer.readUInt32LE(4) + 1) * 4;
      if (indexSize > end - 24 || indexSize > 64 * 1024 * 1024) return undefined;
      const index = await read(end - 12 - indexSize, indexSize);
      if (index[0] !== 0) return undefined;
      let off = 1;
      const [records, n0] = xzVarint(index, off);
      off += n0;
      let blocks = 0;
      for (let i = 0; i < records; i++) {
        const [unpadded, n1] = xzVarint(index, off);
        off += n1;
        const [uncompressed, n2] = xzVarint(index, off);
        off += n2;
        blocks += Math.ceil(unpadded / 4) * 4;
        total += uncompressed;
      }
      end -= 12 + indexSize + blocks + 12;
      if (end < 0) return undefined;
    }
    return total;
  } catch {
    return undefined;
  }
}

/** A zstd frame header's Frame_Content_Size (RFC 8878 §3.1.1.1), or undefined when absent; also the header's length. */
function zstdFrameHeader(b: Buffer, off: number): { fcs?: number; headerLen: number; checksum: boolean } | undefined {
  if (b.length < off + 6 || b.readUInt32LE(off) !== 0xfd2fb528) return undefined;
  const fhd = b[off + 4]!;
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const dictFlag = fhd & 3;
  let p = off + 5 + (single ? 0 : 1) + [0, 1, 2, 4][dictFlag]!;
  const fcsLen = [single ? 1 : 0, 2, 4, 8][fcsFlag]!;
  if (b.length < p + fcsLen) return undefined;
  let fcs: number | undefined;
  if (fcsLen === 1) fcs = b[p]!;
  else if (fcsLen === 2) fcs = b.readUInt16LE(p) + 256;
  else if (fcsLen === 4) fcs = b.readUInt32LE(p);
  else if (fcsLen === 8) fcs = Number(b.readBigUInt64LE(p));
  p += fcsLen;
  return { ...(fcs !== undefined ? { fcs } : {}), headerLen: p - off, checksum: ((fhd >> 2) & 1) === 1 };
}

/** The decoded size of a local .zst file: every frame's header, found by walking the block headers (RFC 8878 §3.1.1.2). */
async function zstdFileSize(path: string, fileSize: number, signal: AbortSignal): Promise<number | undefined> {
  const fh = await open(path, 'r');
  const b = Buffer.alloc(18);
  try {
    let pos = 0;
    let total = 0;
    while (pos < fileSize) {
      signal.throwIfAborted();
      const { bytesRead } = await fh.read(b, 0, 18, pos);
      const head = b.subarray(0, bytesRead);
      if (bytesRead >= 8 && (head.readUInt32LE(0) & 0xfffffff0) === 0x184d2a50) {
        pos += 8 + head.readUInt32LE(4); // a skippable frame (§3.1.2)
        continue;
      }
      const h = zstdFrameHeader(head, 0);
      if (!h || h.fcs === undefined) return undefined;
      total += h.fcs;
      pos += h.headerLen;
      for (;;) {
        const { bytesRead: n } = await fh.read(b, 0, 3, pos);
        if (n !== 3) return undefined;
        const bh = b[0]! | (b[1]! << 8) | (b[2]! << 16);
        const type = (bh >> 1) & 3;
        const size = bh >>> 3;
        if (type === 3) return undefined;
        pos += 3 + (type === 1 ? 1 : size);
        if (bh & 1) break;
      }
      if (h.checksum) pos += 4;
    }
    return pos === fileSize ? total : undefined;
  } finally {
    await fh.close();
  }
}

// ---------------------------------------------------------------------------------------------
// qemu-img

interface Run {
  stdout: string;
  child: ChildProcess;
}

/** Runs qemu-img with an argument array; kills it on abort; TOOL_MISSING when it is not installed. */
function runQemuImg(qemuImg: string, args: string[], signal: AbortSignal, onChild?: (c: ChildProcess) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    signal.throwIfAborted();
    const child = spawn(qemuImg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    onChild?.(child);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out.length < 64 * 1024 * 1024 ? (out += d) : undefined));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4000)));
    const onAbort = () => child.kill('SIGKILL');
    signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      signal.removeEventListener('abort', onAbort);
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new BootchainError({ code: 'TOOL_MISSING', message: `qemu-img is not installed (${qemuImg})`, hint: 'Install it: sudo apt-get install qemu-utils', retryable: false }));
      } else reject(e);
    });
    child.on('close', (code, sig) => {
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) return reject(new BootchainError({ code: 'CANCELLED', message: 'Cancelled', hint: 'Start it again when you are ready.', retryable: true }));
      if (code === 0) return resolve({ stdout: out, child });
      reject(
        new BootchainError({
          code: 'COMMAND_FAILED',
          message: `qemu-img ${args[0]} failed (${sig ?? `exit ${code}`}): ${err.trim().split('\n').pop() ?? ''}`,
          hint: /No space left/i.test(err) ? 'The raw copy does not fit: free space in the temporary folder or choose another one.' : 'The image may be damaged or of another format: check it with qemu-img check.',
          detail: err.trim(),
          retryable: false,
        }),
      );
    });
  });
}

async function qemuInfo(path: string, format: ImageFormat, fileSize: number, selfContained: boolean, o: ImageOptions): Promise<Pick<ImageInfo, 'size' | 'zeroRanges'>> {
  const qemuImg = o.qemuImg ?? 'qemu-img';
  // -f always: never let qemu-img probe (CVE-2008-2004). -U: a read-only look needs no write lock.
  const info = JSON.parse((await runQemuImg(qemuImg, ['info', '--output=json', '-U', '-f', format, path], o.signal)).stdout) as Record<string, unknown>;
  if (info['backing-filename'] || info['full-backing-filename']) {
    fail('INVALID_INPUT', `The ${format} image is an overlay on another file (${String(info['backing-filename'])})`, {
      hint: `Bootchain reads only the file you chose (an image naming other files is a known attack, OSSA-2024-001). Flatten it first: qemu-img convert -O ${format} ${basename(path)} flat.${format}`,
      field: 'image',
    });
  }
  const specific = (info['format-specific'] as { data?: Record<string, unknown> } | undefined)?.data;
  if (specific?.['data-file']) {
    fail('INVALID_INPUT', `The ${format} image keeps its data in another file (${String(specific['data-file'])})`, {
      hint: `Bootchain reads only the file you chose (OSSA-2024-001). Convert it first: qemu-img convert -O ${format} ${basename(path)} whole.${format}`,
      field: 'image',
    });
  }
  const size = Number(info['virtual-size']);
  if (!Number.isSafeInteger(size) || size <= 0) fail('PROTOCOL_ERROR', `qemu-img info gave no virtual size for the ${format} image`);
  const map = JSON.parse((await runQemuImg(qemuImg, ['map', '--output=json', '-U', '-f', format, path], o.signal)).stdout) as Array<{ start: number; length: number; zero: boolean; data: boolean; offset?: number }>;
  // A cut-off image converts without a word (qemu reads past the end as zeros): its map says
  // where its data lie in the file, so data beyond the end give it away. Only where the data are
  // in this file (a vmdk descriptor's extents are other files).
  const reach = selfContained ? Math.max(0, ...map.filter((e) => e.data && e.offset !== undefined).map((e) => e.offset! + e.length)) : 0;
  if (reach > fileSize) {
    fail('INVALID_INPUT', `The ${format} image ${basename(path)} is truncated: its data reach byte ${reach} but the file has ${fileSize} bytes`, {
      hint: 'Download or copy the image again (compare its checksum with the published one).',
      field: 'image',
    });
  }
  const zeroRanges: Array<{ start: number; length: number }> = [];
  for (const e of map) {
    if (!e.zero) continue;
    const last = zeroRanges[zeroRanges.length - 1];
    if (last && last.start + last.length === e.start) last.length += e.length;
    else zeroRanges.push({ start: e.start, length: e.length });
  }
  return { size, zeroRanges };
}

// ---------------------------------------------------------------------------------------------
// Probe and open

function nameOf(p: Parsed): string {
  if (p.kind === 'file') return basename(p.path);
  const last = p.url.pathname.split('/').filter(Boolean).pop();
  try {
    return last ? decodeURIComponent(last) : p.url.hostname;
  } catch {
    return last ?? p.url.hostname;
  }
}

async function probeStored(source: string, o: ImageOptions): Promise<{ info: ImageInfo; stored: Stored; parsed: Parsed }> {
  const log = o.log ?? (() => undefined);
  const parsed = parseSource(source);
  o.signal.throwIfAborted();
  const stored = parsed.kind === 'file' ? await openFile(parsed.path) : await openUrl(parsed.url, o.signal, log);
  try {
    const name = nameOf(parsed);
    const { format, detected } = await detect(stored, name, log);
    const info: ImageInfo = { source: parsed.kind === 'file' ? parsed.path : stripCredentials(parsed.url.href), name, format, detected };
    if (stored.storedSize !== undefined) info.storedSize = stored.storedSize;
    if (format === 'raw' || format === 'iso') {
      if (stored.storedSize !== undefined) info.size = stored.storedSize;
    } else if (format === 'xz' && stored.readAt) {
      const size = await xzFileSize(stored.readAt, stored.storedSize!);
      if (size !== undefined) info.size = size;
    } else if (format === 'zstd') {
      const size = stored.path ? await zstdFileSize(stored.path, stored.storedSize!, o.signal) : undefined;
      if (size !== undefined) info.size = size;
      else {
        // A stream whose frames cannot all be seen yet: the first frame's size is only a hint.
        const fcs = zstdFrameHeader(stored.head, 0)?.fcs;
        if (fcs !== undefined) info.sizeHint = fcs;
      }
    } else if (format === 'gzip' && stored.readAt && stored.storedSize! >= 18) {
      // ISIZE (RFC 1952 §2.3.1): the last member's length mod 2^32, a hint only.
      try {
        info.sizeHint = (await stored.readAt(stored.storedSize! - 4, 4)).readUInt32LE(0);
      } catch {
        /* a hint only */
      }
    } else if (QEMU_FORMATS.has(format)) {
      if (!stored.path) {
        fail('INVALID_INPUT', `${info.source} is a ${format} image: it cannot be written straight from a URL`, {
          hint: `qemu-img needs the whole file: download it first (curl -LO …), then choose the downloaded .${format}.`,
          field: 'image',
        });
      }
      const descriptor = format === 'vmdk' && stored.head.toString('latin1', 0, 4) !== 'KDMV';
      Object.assign(info, await qemuInfo(stored.path, format, stored.storedSize!, !descriptor, o));
    }
    log(`${name}: ${format}, stored ${info.storedSize ?? '?'} bytes, disk ${info.size ?? (info.sizeHint !== undefined ? `~${info.sizeHint}` : '?')} bytes`);
    return { info, stored, parsed };
  } catch (e) {
    stored.destroy();
    throw e;
  }
}

/** Detects an image's format and sizes without streaming it (shown before the user confirms). */
export async function probeImage(source: string, o: ImageOptions): Promise<ImageInfo> {
  const { info, stored } = await probeStored(source, o);
  stored.destroy();
  return info;
}

/** xz-embedded's return codes (xz.h enum xz_ret) in words. */
const XZ_RET: Record<string, string> = {
  '3': 'out of memory',
  '4': 'its dictionary is larger than the decoder allows',
  '5': 'not an xz stream',
  '6': 'it uses options (filters or check) this decoder does not support',
  '7': 'the compressed data are corrupt',
  '8': 'the input ended before the end of the stream (truncated)',
};

/** A web ReadableStream that pulls from a Node async iterable one chunk per request (no read-ahead). */
function toWeb(src: AsyncIterable<Buffer>): ReadableStream<Uint8Array> {
  const it = src[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(c) {
        const r = await it.next();
        if (r.done) c.close();
        else c.enqueue(r.value);
      },
      async cancel() {
        await it.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}

/** Opens an image and streams its decoded bytes (see the module comment for each format). */
export async function openImage(source: string, o: ImageOptions): Promise<OpenedImage> {
  const log = o.log ?? (() => undefined);
  const { info, stored } = await probeStored(source, o);
  let storedRead = 0;
  let closed = false;
  let closing: Promise<void> | undefined;
  let tmp: string | undefined;
  let child: ChildProcess | undefined;
  const cleanups: Array<() => void | Promise<void>> = [];
  const close = () => (closing ??= doClose());
  const doClose = async () => {
    closed = true;
    stored.destroy();
    const c = child;
    if (c && c.exitCode === null && c.signalCode === null) {
      // Gone before close resolves: nothing of ours still writes into tmpDir.
      const gone = new Promise((r) => c.once('close', r));
      c.kill('SIGKILL');
      await gone;
    }
    for (const c of cleanups.splice(0)) {
      try {
        await c();
      } catch {
        /* best effort: the rest still runs */
      }
    }
    if (tmp) {
      await rm(tmp, { recursive: true, force: true });
      tmp = undefined;
    }
  };
  const onAbort = () => void close();
  o.signal.addEventListener('abort', onAbort, { once: true });
  cleanups.push(() => o.signal.removeEventListener('abort', onAbort));
  if (o.signal.aborted) {
    await close();
    fail('CANCELLED', `Cancelled before ${info.name} was read`);
  }

  /** The stored bytes, counted. */
  async function* counted(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const b of src) {
      storedRead += b.length;
      yield b;
    }
  }

  /** The decoded bytes, before the checks around them. */
  async function decoded(): Promise<AsyncIterable<Buffer>> {
    switch (info.format) {
      case 'raw':
      case 'iso':
        return counted(stored.stream());
      case 'gzip':
      case 'zstd': {
        const dec = info.format === 'gzip' ? zlib.createGunzip() : zlib.createZstdDecompress();
        const input = Readable.from(counted(stored.stream()), { objectMode: false, highWaterMark: READ_CHUNK });
        input.on('error', (e) => dec.destroy(e));
        input.pipe(dec);
        cleanups.push(() => {
          input.destroy();
          dec.destroy();
        });
        return dec as AsyncIterable<Buffer>;
      }
      case 'xz': {
        const xz = new XzReadableStream(toWeb(counted(stored.stream())) as unknown as globalThis.ReadableStream<Uint8Array>);
        const reader = xz.getReader();
        // xz-decompress serialises its decoders behind one lock: a reader left open holds it for every later xz image.
        cleanups.push(() => reader.cancel().catch(() => undefined));
        return (async function* () {
          for (;;) {
            const r = await reader.read();
            if (r.done) return;
            if (r.value.byteLength > 0) yield Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
          }
        })();
      }
      default: {
        // qemu formats: a sparse raw copy in tmpDir, streamed, deleted on close.
        const made = await mkdtemp(join(o.tmpDir ?? tmpdir(), 'bootchain-image-'));
        if (closed) {
          await rm(made, { recursive: true, force: true });
          fail('CANCELLED', `Cancelled before ${info.name} was converted`);
        }
        tmp = made;
        const raw = join(tmp, 'disk.raw');
        log(`${info.name}: converting ${info.format} to a sparse raw file in ${tmp} (qemu-img cannot write to a pipe)`);
        await runQemuImg(o.qemuImg ?? 'qemu-img', ['convert', '-f', info.format, '-O', 'raw', '-S', '4k', stored.path!, raw], o.signal, (c) => (child = c));
        child = undefined;
        storedRead = info.storedSize ?? 0;
        log(`${info.name}: converted; streaming ${info.size} bytes`);
        const s = createReadStream(raw, { highWaterMark: READ_CHUNK });
        cleanups.push(() => void s.destroy());
        return s as AsyncIterable<Buffer>;
      }
    }
  }

  const compressed = info.format === 'gzip' || info.format === 'xz' || info.format === 'zstd';
  /** A compressed qcow2 (.qcow2.xz …) cannot be written as it decodes: qemu-img needs the whole file. */
  const refuseInner = (first: Buffer) => {
    const inner = formatByMagic(first);
    if (inner && QEMU_FORMATS.has(inner)) {
      fail('INVALID_INPUT', `The ${info.format} image ${info.name} holds a ${inner} image, which qemu-img must read whole`, {
        hint: `Decompress it first (${info.format === 'gzip' ? 'gunzip -k' : info.format === 'xz' ? 'xz -dk' : 'zstd -d'} ${info.name}), then choose the .${inner} file.`,
        field: 'image',
      });
    }
  };
  // The decoder fails at a decoded offset; of the stored input it has read this much (up to a chunk past the damage).
  const where = (out: number) => (compressed ? `at decoded byte ${out} (${storedRead} stored bytes read)` : `at byte ${out}`);
  /** Single use; ends by closing the image (the raw copy is deleted however the reading ends). */
  async function* chunks(): AsyncGenerator<Buffer> {
    let out = 0;
    try {
      const src = await decoded();
      try {
        for await (const b of src) {
          if (closed) break;
          if (out === 0 && compressed) refuseInner(b);
          out += b.length;
          yield b;
        }
      } catch (e) {
        if (closed || o.signal.aborted || e instanceof BootchainError) throw e;
        const msg = (e as Error).message ?? String(e);
        const xzCode = /error code (\d+)/.exec(msg)?.[1];
        const why = info.format === 'xz' && xzCode ? (XZ_RET[xzCode] ?? msg) : msg;
        fail('INVALID_INPUT', `The ${info.format} image ${info.name} is damaged ${where(out)}: ${why}`, {
          hint: 'Download or copy the image again (compare its checksum with the published one).',
          detail: msg,
          field: 'image',
        });
      }
      if (o.signal.aborted || closed) fail('CANCELLED', `Cancelled after ${out} bytes of ${info.name}`);
      if (info.size !== undefined && out !== info.size) {
        // Also a raw file that changed while it was read.
        fail('INVALID_INPUT', `The ${info.format} image ${info.name} decoded to ${out} bytes, not the ${info.size} it declares`, {
          hint: 'The image is incomplete or damaged (or changed while it was read): download or copy it again.',
          field: 'image',
        });
      }
    } catch (e) {
      // Closed or cancelled under the reader: whatever the stream threw then, it is a cancel.
      const own = e instanceof BootchainError && e.appError.code !== 'CANCELLED';
      if ((o.signal.aborted || closed) && !own) fail('CANCELLED', `Cancelled after ${out} bytes of ${info.name}`);
      throw e;
    } finally {
      await close();
    }
  }


  return {
    info,
    chunks,
    get storedRead() {
      return storedRead;
    },
    close,
  };
}
