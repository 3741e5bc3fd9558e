import { appError, BootchainError, type AppError } from '../../shared/errors';

/** Patterns of secrets that must never reach a log or an error detail. */
const SECRET_PATTERNS: RegExp[] = [
  /((?:CHAP_S|password|passphrase|secret|token)\s*[=:]\s*)[^\s&,;"']+/gi,
  /(-----BEGIN [A-Z ]*PRIVATE KEY-----)[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----)/g,
];

/** Removes secret values from a text before it is logged or sent to the renderer. */
export function redact(text: string): string {
  let t = text;
  for (const re of SECRET_PATTERNS) t = t.replace(re, (_m, a: string, b?: string) => (b ? `${a}[redacted]${b}` : `${a}[redacted]`));
  return t;
}

/**
 * Replaces every occurrence of the given secret values in each string of `value` (deeply, through
 * plain objects and arrays) by [redacted]. Unlike `redact`, which knows only the shapes secrets
 * come in, this knows the secrets themselves, so a secret is caught in any text around it.
 */
export function redactSecrets<T>(value: T, secrets: Iterable<string>): T {
  // Longest first: a secret that contains another is replaced whole.
  const list = [...new Set(secrets)].filter((s) => s !== '').sort((a, b) => b.length - a.length);
  if (list.length === 0) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return list.reduce((t, s) => (t.includes(s) ? t.split(s).join('[redacted]') : t), v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(v))) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

/** Node errno codes mapped to our codes with a hint. */
const ERRNO: Record<string, { code: AppError['code']; hint?: string }> = {
  ECONNREFUSED: { code: 'UNREACHABLE', hint: 'Nothing listens on that port: check the address and that the service runs.' },
  EHOSTUNREACH: { code: 'UNREACHABLE', hint: 'No host answers at that address: check it is switched on and on this network.' },
  ENETUNREACH: { code: 'UNREACHABLE', hint: 'This computer has no route to that network: check the address.' },
  ETIMEDOUT: { code: 'TIMEOUT' },
  ECONNRESET: { code: 'UNREACHABLE', hint: 'The peer closed the connection: check that it is the right service.' },
  EACCES: { code: 'PERMISSION_DENIED' },
  EPERM: { code: 'PERMISSION_DENIED' },
  ENOENT: { code: 'NOT_FOUND' },
};

/** Maps anything thrown to an AppError, once, at the boundary; details are redacted. */
export function toAppError(e: unknown): AppError {
  if (e instanceof BootchainError) {
    const a = e.appError;
    return a.detail === undefined ? a : { ...a, detail: redact(a.detail) };
  }
  if (e instanceof Error) {
    if (e.name === 'AbortError') return appError('CANCELLED', 'Cancelled');
    const errno = (e as NodeJS.ErrnoException).code;
    const m = errno ? ERRNO[errno] : undefined;
    if (m) return appError(m.code, redact(e.message), m.hint ? { hint: m.hint } : {});
    return appError('INTERNAL', redact(e.message), { detail: redact(e.stack ?? '') });
  }
  return appError('INTERNAL', 'Unknown error', { detail: redact(String(e)) });
}
