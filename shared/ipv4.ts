/**
 * IPv4 addresses, CIDR blocks and ranges as plain numbers. Pure: used by the renderer for
 * instant validation and by the scanner for expansion.
 */

/** Strict dotted-quad parse; returns the address as an unsigned 32-bit number or an error text. */
export function parseIPv4(text: string): { ok: true; value: number } | { ok: false; reason: string } {
  const parts = text.split('.');
  if (parts.length !== 4) return { ok: false, reason: `"${text}" is not an IPv4 address (expected four numbers like 192.168.1.10)` };
  let value = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return { ok: false, reason: `"${text}" is not an IPv4 address: "${p}" is not a number 0-255` };
    // A leading zero is octal to some tools and decimal to others: refuse rather than guess.
    if (p.length > 1 && p.startsWith('0')) return { ok: false, reason: `"${text}": "${p}" has a leading zero; write it without` };
    const n = Number(p);
    if (n > 255) return { ok: false, reason: `"${text}": ${n} is larger than 255` };
    value = value * 256 + n;
  }
  return { ok: true, value };
}

/** True when the text is a valid dotted-quad IPv4 address. */
export function isIPv4(text: string): boolean {
  return parseIPv4(text).ok;
}

/** Formats an unsigned 32-bit number as dotted quad. */
export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** A first..last address block (inclusive), with the text it came from. */
export interface AddressBlock {
  first: number;
  last: number;
  /** Normalised spelling: CIDR, single address or first-last. */
  label: string;
}

/** Mask for a prefix length (0..32) as unsigned number. */
export function prefixMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** The directed broadcast address of the subnet that holds `address`: its host bits all ones (RFC 919, RFC 922). */
export function subnetBroadcast(address: string, prefix: number): string {
  const ip = parseIPv4(address);
  if (!ip.ok) throw new Error(ip.reason);
  return formatIPv4((ip.value | ~prefixMask(prefix)) >>> 0);
}

/**
 * Parses one scan target: `a.b.c.d`, `a.b.c.d/nn` or `a.b.c.d-e.f.g.h`. A CIDR block of /30 or
 * larger leaves out its network and broadcast addresses, as no host answers there.
 */
export function parseBlock(text: string): { ok: true; value: AddressBlock } | { ok: false; reason: string } {
  const t = text.trim();
  if (t === '') return { ok: false, reason: 'empty target' };
  if (t.includes('/')) {
    const [addr, pfx, ...rest] = t.split('/');
    if (rest.length > 0 || addr === undefined || pfx === undefined) return { ok: false, reason: `"${t}" is not a CIDR block` };
    const a = parseIPv4(addr);
    if (!a.ok) return a;
    if (!/^\d{1,2}$/.test(pfx) || Number(pfx) > 32) {
      return { ok: false, reason: `"${t}": prefix length must be a number from 0 to 32` };
    }
    const prefix = Number(pfx);
    const mask = prefixMask(prefix);
    const net = (a.value & mask) >>> 0;
    const bcast = (net | (~mask >>> 0)) >>> 0;
    const label = `${formatIPv4(net)}/${prefix}`;
    if (prefix <= 30) return { ok: true, value: { first: net + 1, last: bcast - 1, label } };
    return { ok: true, value: { first: net, last: bcast, label } };
  }
  if (t.includes('-')) {
    const [from, to, ...rest] = t.split('-');
    if (rest.length > 0 || from === undefined || to === undefined) return { ok: false, reason: `"${t}" is not a range` };
    const a = parseIPv4(from.trim());
    if (!a.ok) return a;
    const b = parseIPv4(to.trim());
    if (!b.ok) return b;
    if (b.value < a.value) return { ok: false, reason: `"${t}": the range ends before it starts` };
    return { ok: true, value: { first: a.value, last: b.value, label: `${formatIPv4(a.value)}-${formatIPv4(b.value)}` } };
  }
  const a = parseIPv4(t);
  if (!a.ok) return a;
  return { ok: true, value: { first: a.value, last: a.value, label: formatIPv4(a.value) } };
}

/** Number of addresses in a block. */
export function blockSize(b: AddressBlock): number {
  return b.last - b.first + 1;
}

const cidr = (a: string, p: number): [number, number] => {
  const r = parseIPv4(a);
  if (!r.ok) throw new Error(r.reason);
  return [r.value, prefixMask(p)];
};

/** Ranges that are private or local by RFC 1918, RFC 6598 (CGNAT), RFC 3927 (link-local) and loopback. */
const PRIVATE: Array<[number, number]> = [
  cidr('10.0.0.0', 8),
  cidr('172.16.0.0', 12),
  cidr('192.168.0.0', 16),
  cidr('100.64.0.0', 10),
  cidr('169.254.0.0', 16),
  cidr('127.0.0.0', 8),
];

/** Ranges no scan may touch: "this network", multicast, reserved and limited broadcast. */
const FORBIDDEN: Array<[number, number, string]> = [
  [...cidr('0.0.0.0', 8), '0.0.0.0/8 is not a host range'],
  [...cidr('224.0.0.0', 4), '224.0.0.0/4 is multicast, not hosts'],
  [...cidr('240.0.0.0', 4), '240.0.0.0/4 is reserved (and holds the broadcast address)'],
];

/** True when the whole block lies in private/local address space. */
export function isPrivateBlock(b: AddressBlock): boolean {
  return PRIVATE.some(([net, mask]) => (b.first & mask) >>> 0 === net && (b.last & mask) >>> 0 === net);
}

/** The reason a block may never be scanned, or undefined. */
export function forbiddenReason(b: AddressBlock): string | undefined {
  for (const [net, mask, why] of FORBIDDEN) {
    const lastNet = (net | (~mask >>> 0)) >>> 0;
    if (b.last >= net && b.first <= lastNet) return why;
  }
  return undefined;
}

/** Parses a port list such as `3260`, `3260,860` or `3260-3262`; every port must be 1..65535. */
export function parsePorts(text: string): { ok: true; value: number[] } | { ok: false; reason: string } {
  const out = new Set<number>();
  const items = text.split(',').map((s) => s.trim());
  for (const item of items) {
    if (item === '') return { ok: false, reason: 'empty port in the list' };
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(item);
    if (!m) return { ok: false, reason: `"${item}" is not a port number` };
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (const p of [a, b]) {
      if (p < 1 || p > 65535) return { ok: false, reason: `port ${p} is out of range: ports are 1 to 65535` };
    }
    if (b < a) return { ok: false, reason: `"${item}": the range ends before it starts` };
    if (b - a + 1 + out.size > MAX_PORTS) return { ok: false, reason: `at most ${MAX_PORTS} ports per scan` };
    for (let p = a; p <= b; p++) out.add(p);
  }
  return { ok: true, value: [...out].sort((x, y) => x - y) };
}

/** Most ports one scan takes. */
export const MAX_PORTS = 64;
