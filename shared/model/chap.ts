/**
 * CHAP secrets. Many initiators and targets (Microsoft's, several NAS firmwares) accept only
 * 12 to 16 characters, so that is the default range; RFC 7143 §12.1.3 asks for at least 96
 * random bits. The character set is letters and digits only: secrets end up in iPXE scripts
 * and kernel parameters, where nothing is quoted.
 */

export const CHAP_MIN = 12;
export const CHAP_MAX = 16;
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
/** What a CHAP secret may hold, in words (for refusals, which never show the secret). */
export const CHAP_SECRET_CHARS = 'letters, digits and . _ + = @ ^ ~ ! % * -';

/** A random secret of `length` characters (Web Crypto: works in Node and the renderer). */
export function generateChapSecret(length = 16): string {
  if (length < CHAP_MIN || length > 255) throw new RangeError(`length ${length} is outside ${CHAP_MIN}..255`);
  const out: string[] = [];
  const buf = new Uint8Array(1);
  while (out.length < length) {
    globalThis.crypto.getRandomValues(buf);
    const b = buf[0]!;
    // Rejection sampling keeps every character equally likely.
    if (b < 256 - (256 % ALPHABET.length)) out.push(ALPHABET[b % ALPHABET.length]!);
  }
  return out.join('');
}

/** Checks a secret; `wide` keeps to the 12-16 range that every initiator accepts. */
export function checkChapSecret(secret: string, opts: { wide?: boolean; other?: string | undefined } = {}): { ok: true } | { ok: false; reason: string } {
  const wide = opts.wide ?? true;
  if (secret.length < CHAP_MIN) return { ok: false, reason: `at least ${CHAP_MIN} characters (RFC 7143 asks for 96 bits)` };
  if (wide && secret.length > CHAP_MAX) return { ok: false, reason: `at most ${CHAP_MAX} characters: some initiators (Windows, several NAS) refuse longer secrets` };
  if (secret.length > 255) return { ok: false, reason: 'at most 255 characters' };
  if (!/^[A-Za-z0-9._+=@^~!%*-]+$/.test(secret)) return { ok: false, reason: `use ${CHAP_SECRET_CHARS} only (no spaces, $, {, }, #, ;, quotes or backslashes)` };
  if (opts.other !== undefined && opts.other === secret) return { ok: false, reason: 'the mutual (target) secret must differ from the initiator secret' };
  return { ok: true };
}

/** Checks a CHAP user name (it goes into scripts unquoted too). */
export function checkChapUser(user: string): { ok: true } | { ok: false; reason: string } {
  if (!/^[A-Za-z0-9._@:-]{1,64}$/.test(user)) return { ok: false, reason: 'use 1 to 64 letters, digits and . _ @ : - only' };
  return { ok: true };
}
