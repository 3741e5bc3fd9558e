/**
 * Leak checks for the secrets tests: a text leaks a secret when it holds the secret, or any run
 * of `min` of its characters, as it is or as JSON would escape it.
 */

/** Each leak: which secret (by its first characters and length), the piece found and where. */
export function leaksOf(text: string, secrets: Iterable<string>, min = 5): string[] {
  const found: string[] = [];
  for (const s of secrets) {
    const n = Math.min(min, s.length);
    for (let i = 0; i + n <= s.length; i++) {
      const piece = s.slice(i, i + n);
      const escaped = JSON.stringify(piece).slice(1, -1);
      const at = text.includes(piece) ? text.indexOf(piece) : text.indexOf(escaped);
      if (at >= 0) {
        found.push(`${JSON.stringify(s.slice(0, 3))}… (${s.length} chars): ${JSON.stringify(piece)} in …${JSON.stringify(text.slice(Math.max(0, at - 40), at + 40))}…`);
        break;
      }
    }
  }
  return found;
}
