/**
 * Reads back the script embedded in an iPXE binary (EMBED=). In .efi, .lkrn and the .tmp
 * intermediate it is plain text; in compressed images (undionly.kpxe, ipxe.pxe) it sits in the
 * LZMA payload, found by trying the offsets where a raw LZMA stream can start.
 *
 * iPXE embeds the script with `.incbin` into its data section (src/image/embedded.c) and keeps
 * its length beside it: there is no terminator, and whatever the linker puts next follows the
 * last byte directly (a zero byte only when alignment happens to pad). So a script we know is
 * compared byte for byte at the place it is embedded; one we do not know is read as text.
 */
import { decodeLzmaRaw, LzmaError } from './lzma';

/** What a binary holds. */
export interface Readback {
  /** The binary looks like iPXE. */
  ipxe: boolean;
  /** Where the script was found. */
  where: 'plain' | 'lzma' | 'none';
  /**
   * The embedded script: one of the expected scripts when the binary carries it byte for byte,
   * otherwise the text found at the script's magic (best effort: its end is not recorded).
   */
  script?: string | undefined;
  /** The expected script found byte for byte at an embedded place (its index in `expected`). */
  matched?: number | undefined;
  /** iPXE version string, when found ("iPXE 1.21.1+…"). */
  version?: string | undefined;
}

// "#!ipxe" alone is also a string constant in every iPXE (the script loader's magic), so a
// script is "#!ipxe" followed by a line break.
const MAGIC = /#!ipxe\r?\n/g;
const TEXT = /^[\x09\x0a\x0d\x20-\x7e]*/;

/** Offsets of every embedded script's start in a body. */
function scriptStarts(text: string): number[] {
  return [...text.matchAll(MAGIC)].map((m) => m.index);
}

/**
 * The script's bytes stand at `s`, and what follows is not more of a script: a longer script
 * that merely starts with these bytes goes on with whole text lines, data after the script does
 * not (a pointer, a zero byte, a stray printable byte or two without a line break).
 */
function equalAt(body: Uint8Array, text: string, s: number, bytes: Buffer): boolean {
  if (s + bytes.length > body.length || !Buffer.from(body.buffer, body.byteOffset + s, bytes.length).equals(bytes)) return false;
  return !TEXT.exec(text.slice(s + bytes.length, s + bytes.length + 256))![0].includes('\n');
}

/** The expected script found byte for byte at one of the starts, or the best-effort text. */
function scriptIn(body: Uint8Array, expected: readonly string[]): { script: string; matched?: number } | undefined {
  const text = Buffer.from(body).toString('latin1');
  const starts = scriptStarts(text);
  if (starts.length === 0) return undefined;
  for (const [i, want] of expected.entries()) {
    const bytes = Buffer.from(want, 'latin1');
    if (starts.some((s) => equalAt(body, text, s, bytes))) return { script: want, matched: i };
  }
  // Not a script we know: the printable text from the magic on. Where binary data follows at
  // once (no zero byte), a few printable bytes of it may end the text: cut back to the last
  // line break unless the text ended at a zero byte or the end of the body.
  const s = starts[0]!;
  let t = TEXT.exec(text.slice(s))![0];
  const next = text.charCodeAt(s + t.length);
  if (!Number.isNaN(next) && next !== 0 && t.includes('\n')) t = t.slice(0, t.lastIndexOf('\n') + 1);
  return { script: t };
}

function versionIn(buf: Uint8Array): string | undefined {
  return /iPXE (\d+\.\d+\.\d+[+\w().-]*)/.exec(Buffer.from(buf).toString('latin1'))?.[1];
}

// Every iPXE main body holds its error URLs (ipxe.org/…): plain text there means not compressed.
const isIpxe = (b: Uint8Array) => Buffer.from(b).toString('latin1').includes('ipxe.org');

/** The LZMA-compressed main body of a compressed iPXE image, decoded (undefined when none). */
function compressedBody(bin: Uint8Array): Uint8Array | undefined {
  // Try every offset where a raw LZMA stream may start (its first byte is 0).
  for (let i = 0; i + 5 < bin.length; i++) {
    if (bin[i] !== 0 || (bin[i + 1] === 0 && bin[i + 2] === 0)) continue;
    try {
      const probe = decodeLzmaRaw(bin, i, { maxOut: 2048 });
      if (probe.length < 2048) continue;
      const full = decodeLzmaRaw(bin, i, { maxOut: 8 << 20 });
      if (isIpxe(full)) return full;
    } catch (e) {
      if (!(e instanceof LzmaError)) throw e;
    }
  }
  return undefined;
}

/**
 * Finds the embedded script of an iPXE binary, decompressing when it has to. `expected` lists
 * the scripts it may carry (the project's, the build manifest's): each is compared byte for byte
 * where a script is embedded.
 */
export function readEmbeddedScript(bin: Uint8Array, expected: readonly string[] = []): Readback {
  const plain = scriptIn(bin, expected);
  if (plain !== undefined) return { ipxe: isIpxe(bin), where: 'plain', ...plain, version: versionIn(bin) };
  if (isIpxe(bin)) return { ipxe: true, where: 'none', version: versionIn(bin) };
  const body = compressedBody(bin);
  if (body) {
    const s = scriptIn(body, expected);
    return { ipxe: true, where: s === undefined ? 'none' : 'lzma', ...s, version: versionIn(body) ?? versionIn(bin) };
  }
  return { ipxe: false, where: 'none', version: versionIn(bin) };
}

/** The binary carries exactly this script where iPXE embeds it. */
export function carriesScript(bin: Uint8Array, script: string): boolean {
  return readEmbeddedScript(bin, [script]).matched === 0;
}
