/**
 * Reads back the script embedded in an iPXE binary (EMBED=). In .efi, .lkrn and the .tmp
 * intermediate it is plain text; in compressed images (undionly.kpxe, ipxe.pxe) it sits in the
 * LZMA payload, found by trying the offsets where a raw LZMA stream can start.
 */
import { decodeLzmaRaw, LzmaError } from './lzma';

/** What a binary holds. */
export interface Readback {
  /** The binary looks like iPXE. */
  ipxe: boolean;
  /** Where the script was found. */
  where: 'plain' | 'lzma' | 'none';
  script?: string | undefined;
  /** iPXE version string, when found ("iPXE 1.21.1+…"). */
  version?: string | undefined;
}

// "#!ipxe" alone is also a string constant in every iPXE (the script loader's magic), so a
// script is "#!ipxe" followed by a line break, ending at the first NUL.
const MAGIC = /#!ipxe\r?\n/;

function scriptIn(buf: Uint8Array): string | undefined {
  const text = Buffer.from(buf).toString('latin1');
  const m = MAGIC.exec(text);
  if (!m) return undefined;
  const end = text.indexOf('\0', m.index);
  const s = text.slice(m.index, end < 0 ? undefined : end);
  return /^[\x09\x0a\x0d\x20-\x7e]*$/.test(s) ? s : undefined;
}

function versionIn(buf: Uint8Array): string | undefined {
  return /iPXE (\d+\.\d+\.\d+[+\w().-]*)/.exec(Buffer.from(buf).toString('latin1'))?.[1];
}

/** Finds the embedded script of an iPXE binary, decompressing when it has to. */
export function readEmbeddedScript(bin: Uint8Array): Readback {
  const plain = scriptIn(bin);
  // Every iPXE main body holds its error URLs (ipxe.org/…): plain text there means not compressed.
  const isIpxe = (b: Uint8Array) => Buffer.from(b).toString('latin1').includes('ipxe.org');
  if (plain !== undefined) return { ipxe: isIpxe(bin), where: 'plain', script: plain, version: versionIn(bin) };
  if (isIpxe(bin)) return { ipxe: true, where: 'none', version: versionIn(bin) };
  // Try every offset where a raw LZMA stream may start (its first byte is 0), keep the longest decode.
  let best: Uint8Array | undefined;
  for (let i = 0; i + 5 < bin.length; i++) {
    if (bin[i] !== 0 || (bin[i + 1] === 0 && bin[i + 2] === 0)) continue;
    try {
      const probe = decodeLzmaRaw(bin, i, { maxOut: 2048 });
      if (probe.length < 2048) continue;
      const full = decodeLzmaRaw(bin, i, { maxOut: 8 << 20 });
      if (isIpxe(full)) {
        best = full;
        break;
      }
    } catch (e) {
      if (!(e instanceof LzmaError)) throw e;
    }
  }
  if (best && isIpxe(best)) {
    const s = scriptIn(best);
    return { ipxe: true, where: s === undefined ? 'none' : 'lzma', script: s, version: versionIn(best) ?? versionIn(bin) };
  }
  return { ipxe: isIpxe(bin), where: 'none', version: versionIn(bin) };
}
