/**
 * MAC addresses in any common spelling: aa:bb:cc:dd:ee:ff, AA-BB-CC-DD-EE-FF, aabb.ccdd.eeff,
 * aabbccddeeff. iPXE names per-MAC scripts with ${mac:hexhyp}: lower case, hyphens (the recipe:
 * an upper-case file name does not match).
 */

/** A parsed MAC, or the reason it is not one. */
export type MacResult = { ok: true; value: string } | { ok: false; reason: string };

/** Parses any common spelling into canonical lower-case colon form. */
export function parseMac(text: string): MacResult {
  const t = text.trim();
  let hex: string | undefined;
  if (/^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$/.test(t)) hex = t.replace(/[:-]/g, '');
  else if (/^[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}$/.test(t)) hex = t.replace(/\./g, '');
  else if (/^[0-9a-fA-F]{12}$/.test(t)) hex = t;
  if (!hex) return { ok: false, reason: `"${t.slice(0, 40)}" is not a MAC address (six hex pairs, e.g. 52:54:00:12:34:56)` };
  hex = hex.toLowerCase();
  const first = parseInt(hex.slice(0, 2), 16);
  if (/^0{12}$/.test(hex)) return { ok: false, reason: 'the all-zero MAC is not a network card' };
  if (/^f{12}$/.test(hex)) return { ok: false, reason: 'ff:ff:ff:ff:ff:ff is the broadcast address, not a network card' };
  if (first & 1) return { ok: false, reason: `${formatMac(hex, ':')} is a multicast address (lowest bit of the first byte set), not a network card` };
  return { ok: true, value: formatMac(hex, ':') };
}

function formatMac(hex: string, sep: string): string {
  return hex.match(/../g)!.join(sep);
}

/** ${mac:hexhyp}: lower case, hyphen separated (the per-MAC script name). */
export function macHexhyp(canonical: string): string {
  return canonical.replace(/:/g, '-');
}

/** ${mac:hexraw}: lower case, no separators. */
export function macHexraw(canonical: string): string {
  return canonical.replace(/:/g, '');
}
