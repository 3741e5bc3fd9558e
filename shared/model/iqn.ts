/**
 * iSCSI names (RFC 3720 §3.2.6, RFC 3721, RFC 3722 stringprep): iqn., eui. and naa. formats.
 * Bootchain accepts the ASCII subset (letters, digits, '-', '.', ':') because names end up in
 * iPXE scripts, kernel parameters and router configs where nothing is quoted.
 *
 * Case: RFC 3722 folds case, so two names that differ only in case are the same name, and
 * Bootchain compares them that way (sameIqn). But targets match the name a client sends byte
 * for byte (stgt's target_find_by_name uses strcmp; dracut compares the discovered name with
 * "="), and vendors report capitals (Synology: iqn.2000-01.com.synology:DS918.Target-1.5c0a3b).
 * So a name is written everywhere exactly as given (`name`); `value` is only the folded key.
 */

/** Longest iSCSI name in bytes (RFC 3720 §3.2.6.1). */
export const MAX_IQN_BYTES = 223;

/**
 * A checked name, or the reason (with the rule broken) it is not valid. `name` is the name as
 * given (trimmed), to write into files; `value` the case-folded form, to compare with.
 */
export type IqnResult = { ok: true; value: string; name: string; kind: 'iqn' | 'eui' | 'naa' } | { ok: false; reason: string };

/** Normalises case, for comparing (RFC 3722 folds to lower case; eui/naa hex is written upper case). */
export function normaliseIqn(text: string): string {
  const t = text.trim();
  if (/^eui\./i.test(t)) return `eui.${t.slice(4).toUpperCase()}`;
  if (/^naa\./i.test(t)) return `naa.${t.slice(4).toUpperCase()}`;
  return t.toLowerCase();
}

/**
 * Validates an iSCSI name. `now` bounds the date: a naming authority cannot have owned its
 * domain in the future.
 */
export function checkIqn(text: string, now: Date = new Date()): IqnResult {
  const raw = text.trim();
  if (raw === '') return { ok: false, reason: 'empty name' };
  if (/\s/.test(raw)) return { ok: false, reason: 'spaces and line breaks are not allowed in iSCSI names' };
  const v = normaliseIqn(raw);
  if (new TextEncoder().encode(v).length > MAX_IQN_BYTES) return { ok: false, reason: `longer than ${MAX_IQN_BYTES} bytes (RFC 3720 §3.2.6.1)` };
  if (v.startsWith('eui.')) {
    return /^eui\.[0-9A-F]{16}$/.test(v) ? { ok: true, value: v, name: raw, kind: 'eui' } : { ok: false, reason: 'an eui. name is "eui." and 16 hex digits (RFC 3720 §3.2.6.3.2)' };
  }
  if (v.startsWith('naa.')) {
    return /^naa\.([0-9A-F]{16}|[0-9A-F]{32})$/.test(v) ? { ok: true, value: v, name: raw, kind: 'naa' } : { ok: false, reason: 'an naa. name is "naa." and 16 or 32 hex digits (RFC 3980)' };
  }
  if (!v.startsWith('iqn.')) return { ok: false, reason: 'an iSCSI name starts with iqn., eui. or naa.' };
  const m = /^iqn\.(\d{4})-(\d{2})\.([^:]+)(?::(.*))?$/.exec(v);
  if (!m) return { ok: false, reason: 'expected iqn.YYYY-MM.reversed.domain[:unique-name], e.g. iqn.2007-11.org.example:ws1' };
  const year = Number(m[1]);
  const month = Number(m[2]);
  if (month < 1 || month > 12) return { ok: false, reason: `month ${m[2]} is not 01 to 12` };
  if (year < 1985) return { ok: false, reason: `${year} is before domain names existed (the date is when the naming authority owned the domain)` };
  const nowKey = now.getUTCFullYear() * 12 + now.getUTCMonth();
  if (year * 12 + (month - 1) > nowKey) return { ok: false, reason: `${m[1]}-${m[2]} is in the future: use a month when the domain was already owned` };
  const domain = m[3]!;
  const labels = domain.split('.');
  if (labels.some((l) => l === '')) return { ok: false, reason: `"${domain}" has an empty label (two dots, or a dot at the end)` };
  for (const l of labels) {
    if (!/^[a-z0-9-]+$/.test(l)) return { ok: false, reason: `"${l}" in the naming authority may hold only a-z, 0-9 and "-"` };
    if (l.startsWith('-') || l.endsWith('-')) return { ok: false, reason: `"${l}": a domain label cannot start or end with "-"` };
  }
  if (labels.length < 2) return { ok: false, reason: `"${domain}" is not a reversed domain name (e.g. org.example for example.org)` };
  const unique = m[4];
  if (unique !== undefined) {
    if (unique === '') return { ok: false, reason: 'nothing after the ":"' };
    const bad = /[^a-z0-9.\-:]/.exec(unique);
    if (bad) return { ok: false, reason: `"${bad[0]}" is not allowed; use only a-z, 0-9, "-", "." and ":"` };
  }
  return { ok: true, value: v, name: raw, kind: 'iqn' };
}

/** Whether two iSCSI names are the same name: compared after RFC 3722's case folding. */
export function sameIqn(a: string, b: string): boolean {
  return normaliseIqn(a) === normaliseIqn(b);
}

/** Turns example.org into org.example (the recipe: the domain reversed). */
export function reverseDomain(domain: string): string {
  return domain.trim().toLowerCase().replace(/\.$/, '').split('.').reverse().join('.');
}

/** Tokens of the IQN template: %domain% %date% %hostname% %mac% %hexraw%. */
export interface IqnParts {
  /** Domain as owned, e.g. example.org (reversed for the name). */
  domain: string;
  /** YYYY-MM when the domain was owned. */
  date: string;
  hostname: string;
  /** Canonical MAC (aa:bb:...). */
  mac?: string | undefined;
}

/** Default template, like the recipe's iqn.2007-11.ru.pp.livid:%hostname%-%mac%. */
export const DEFAULT_IQN_TEMPLATE = 'iqn.%date%.%domain%:%hostname%-%hexraw%';

/** Builds an initiator IQN from a template and checks it. */
export function generateIqn(parts: IqnParts, template = DEFAULT_IQN_TEMPLATE, now?: Date): IqnResult {
  const host = parts.hostname.trim().toLowerCase();
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(host)) return { ok: false, reason: `host name "${parts.hostname}" may hold only a-z, 0-9 and "-" (not at the ends)` };
  if (!/^\d{4}-\d{2}$/.test(parts.date)) return { ok: false, reason: `date "${parts.date}" must be YYYY-MM` };
  if (template.includes('%mac%') || template.includes('%hexraw%')) {
    if (!parts.mac) return { ok: false, reason: 'the template uses the MAC, but none was given' };
  }
  const mac = (parts.mac ?? '').toLowerCase();
  const name = template
    .replace(/%date%/g, parts.date)
    .replace(/%domain%/g, reverseDomain(parts.domain))
    .replace(/%hostname%/g, host)
    .replace(/%mac%/g, mac.replace(/:/g, '-'))
    .replace(/%hexraw%/g, mac.replace(/:/g, ''));
  return checkIqn(name, now);
}

/** Names used more than once (case-folded), for the uniqueness rule across workstations. */
export function duplicateIqns(names: string[]): string[] {
  const seen = new Map<string, number>();
  for (const n of names) seen.set(normaliseIqn(n), (seen.get(normaliseIqn(n)) ?? 0) + 1);
  return [...seen].filter(([, c]) => c > 1).map(([n]) => n);
}
