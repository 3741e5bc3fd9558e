/**
 * What an iPXE sends to a syslog server, read: one UDP datagram per console line, parsed
 * (parseIpxeSyslog), long lines joined back (IpxeLineJoiner), and each line mapped to a boot stage
 * or an error (classifyIpxeLine). Pure functions, no sockets (syslog.ts receives).
 *
 * The format, from iPXE v2.0.0's source:
 * - src/net/udp/syslog.c syslog_send(): `"<%d>%s%s%s%sipxe: %s%s"` with
 *   SYSLOG_PRIORITY(SYSLOG_DEFAULT_FACILITY, severity), hostname, "." and domain (only with a hostname),
 *   " " (only with a hostname), the message and terminator "" (UDP; syslogs.c's TLS/TCP variant ends in "\n").
 *   So: no TIMESTAMP (RFC 3164 §4.1.2's HEADER is only "HOSTNAME"), TAG "ipxe", no PID, no newline;
 *   without a hostname setting the datagram is just `<6>ipxe: text`.
 * - src/include/ipxe/syslog.h: facility 0 (kernel), default severity LOG_INFO (6), so `<6>`;
 *   the severity changes only inside iPXE's own syslog() calls (include/syslog.h: ESC [ n p ... ESC [ p,
 *   handled by syslog_handle_priority()), which LOG_LEVEL (config/console.h) leaves out by default.
 * - syslog_fix_name(): hostname and domain keep only printable, non-space characters (isprint, ASCII).
 * - src/core/lineconsole.c line_putchar(): ANSI escapes are stripped (core/ansiesc.c), '\r' dropped,
 *   '\b' steps back one character, '\n' ends the line; a line that fills SYSLOG_BUFSIZE (128) less the
 *   NUL is sent as it is, 127 bytes, and the rest of it follows in the next datagram — with no marker.
 *   A line of exactly 127 characters is followed by an empty datagram (its '\n' alone).
 * - Characters are bytes (core/console.c putchar()): UTF-8 text passes through as its bytes, and a
 *   127-byte cut can fall inside a character.
 * - The syslog console only receives text once the `syslog` setting is applied (apply_syslog_settings()).
 *   A chainloaded undionly.kpxe applies the PXE ROM's cached DHCP reply (core/cachedhcp.c) as it starts,
 *   so with DHCP option 7 (and 12, the hostname) everything from its banner on is sent — the capture
 *   fixtures/ipxe-2.0.0-bios-dhcp-option7-syslog.ndjson shows it, three empty lines first. When the
 *   option comes only with iPXE's own later DHCP or a `set syslog`, what was printed before is not
 *   sent, and the first datagram can be the tail of the line being printed then (" ok" of
 *   "Configuring (net0 …)... ok"): read from the source, not seen in a capture.
 * - The hostname can change mid-boot (`set hostname` in a script after DHCP's option 12): the same
 *   sender then sends under another name (the capture shows it).
 * - CONSOLE_SYSLOG's usage is everything but the TUI (menus, the settings screen are not sent).
 */
import { findIpxeErrors, type IpxeError } from './ipxe-errors';

/** UDP port iPXE sends to (SYSLOG_PORT, include/ipxe/syslog.h). */
export const IPXE_SYSLOG_PORT = 514;
/** The longest console text in one datagram: SYSLOG_BUFSIZE (128) less its NUL. */
export const IPXE_LINE_MAX = 127;
/**
 * The largest datagram taken. iPXE's largest is about 650 bytes (`<7>` + a 255-byte hostname, a
 * domain, "ipxe: " and 127 bytes); RFC 3164 §4.1 caps a packet at 1024 and RFC 5424 §6.1 asks receivers
 * to take 2048, which the NAS's (RFC 5424) lines may use.
 */
export const SYSLOG_DATAGRAM_MAX = 2048;

/** Where a datagram came from. */
export interface SyslogSource {
  address: string;
  port: number;
}

/** Why a datagram was dropped (counted per reason by the receiver). */
export type SyslogDropReason =
  | 'too-large' // over SYSLOG_DATAGRAM_MAX
  | 'empty'
  | 'no-pri' // does not start with "<digits>" (RFC 3164 §4.1.1)
  | 'bad-pri' // PRI over 191, leading zeros, more than 3 digits
  | 'binary' // NUL or control characters iPXE never sends
  | 'invalid-utf8'
  | 'not-ipxe' // a syslog line, but not "[hostname ]ipxe: text"
  | 'unknown-source' // not an address the receiver expects
  | 'spoofed' // a station's hostname from an address that is not that station's
  | 'rate-limited' // the source sent more than its share
  | 'queue-full'; // the consumer is behind: the newest are dropped, the count says how many

/** RFC 5424 §6.2.1 Table 2 severity names. */
export const SEVERITY_NAMES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;

/** One datagram of iPXE's syslog console. */
export interface IpxeSyslogLine {
  /** PRI as sent: 8 × facility + severity (RFC 3164 §4.1.1). iPXE: 6. */
  pri: number;
  facility: number;
  severity: number;
  severityName: (typeof SEVERITY_NAMES)[number];
  /** iPXE's hostname (with ".domain" when the domain setting is set); undefined when it has none. */
  hostname: string | undefined;
  /** The console text, UTF-8 decoded (a character cut at a datagram edge shows as U+FFFD until joined). */
  text: string;
  /** The same text as bytes (for joining a cut line without breaking a UTF-8 character). */
  raw: Buffer;
  /** iPXE's line buffer filled (127 bytes): the line goes on in the next datagram from the same sender. */
  continues: boolean;
  from: SyslogSource;
}

/** The result of reading one datagram: a line, or why it is not one. */
export type ParseResult<T> = { ok: true; line: T } | { ok: false; reason: SyslogDropReason; detail?: string | undefined };

/** PRI per RFC 3164 §4.1.1 / RFC 5424 §6.2.1: 1-3 digits, 0..191, no leading zero. */
export function readPri(b: Buffer): { pri: number; end: number } | { error: 'no-pri' | 'bad-pri' } {
  if (b[0] !== 0x3c /* < */) return { error: 'no-pri' };
  let i = 1;
  while (i < b.length && i <= 4 && b[i]! >= 0x30 && b[i]! <= 0x39) i++;
  if (i === 1 || b[i] !== 0x3e /* > */) return i > 4 ? { error: 'bad-pri' } : { error: 'no-pri' };
  const digits = b.toString('latin1', 1, i);
  const pri = Number(digits);
  if (digits.length > 3 || (digits.length > 1 && digits[0] === '0') || pri > 191) return { error: 'bad-pri' };
  return { pri, end: i + 1 };
}

/**
 * Checks UTF-8 (RFC 3629 §4: no overlongs, no surrogates, at most U+10FFFF); a sequence cut at the
 * end (`openEnd`) or continuation bytes at the start (`openStart`) are allowed: iPXE's 127-byte cut.
 */
export function utf8Valid(b: Buffer, o: { openStart?: boolean; openEnd?: boolean } = {}): boolean {
  let i = 0;
  if (o.openStart) while (i < b.length && i < 3 && (b[i]! & 0xc0) === 0x80) i++;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) [need, min] = [1, 0x80];
    else if (c >= 0xe0 && c <= 0xef) [need, min] = [2, 0x800];
    else if (c >= 0xf0 && c <= 0xf4) [need, min] = [3, 0x10000];
    else return false;
    if (i + need >= b.length) {
      // Not enough bytes left: fine only when the datagram is cut there and what is there continues it.
      if (!o.openEnd) return false;
      for (let k = i + 1; k < b.length; k++) if ((b[k]! & 0xc0) !== 0x80) return false;
      return true;
    }
    let cp = c & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const d = b[i + k]!;
      if ((d & 0xc0) !== 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += need + 1;
  }
  return true;
}

/** True when a byte is one iPXE's syslog console never sends: C0 controls but TAB, and DEL. */
const isBinaryByte = (c: number) => (c < 0x20 && c !== 0x09) || c === 0x7f;
const TAG = Buffer.from('ipxe: ', 'latin1');

/**
 * Parses one datagram of iPXE's syslog console (src/net/udp/syslog.c syslog_send()'s format, see the
 * file header). A trailing "\n" (syslogs.c's terminator, relays) is taken off; ANSI escapes, which
 * iPXE strips itself, are refused as 'binary' like any other control character.
 */
export function parseIpxeSyslog(datagram: Buffer, from: SyslogSource): ParseResult<IpxeSyslogLine> {
  if (datagram.length > SYSLOG_DATAGRAM_MAX) return { ok: false, reason: 'too-large', detail: `${datagram.length} bytes, over ${SYSLOG_DATAGRAM_MAX}` };
  if (datagram.length === 0) return { ok: false, reason: 'empty' };
  const p = readPri(datagram);
  if ('error' in p) return { ok: false, reason: p.error };
  let end = datagram.length;
  if (datagram[end - 1] === 0x0a) end--;
  if (datagram[end - 1] === 0x0d) end--;
  let at = p.end;
  let hostname: string | undefined;
  if (!datagram.subarray(at, at + TAG.length).equals(TAG)) {
    // "HOSTNAME ipxe: ": the hostname is printable ASCII without spaces (syslog_fix_name()).
    let sp = at;
    while (sp < end && datagram[sp]! > 0x20 && datagram[sp]! < 0x7f) sp++;
    if (sp === at || datagram[sp] !== 0x20 || !datagram.subarray(sp + 1, sp + 1 + TAG.length).equals(TAG)) {
      const head = datagram.subarray(at, Math.min(end, at + 40)).toString('latin1').replace(/[^ -~]/g, '?');
      return { ok: false, reason: 'not-ipxe', detail: `after the PRI: "${head}"` };
    }
    hostname = datagram.toString('latin1', at, sp);
    at = sp + 1;
  }
  const raw = Buffer.from(datagram.subarray(at + TAG.length, end));
  for (const c of raw) if (isBinaryByte(c)) return { ok: false, reason: 'binary', detail: `control byte 0x${c.toString(16).padStart(2, '0')}` };
  const continues = raw.length === IPXE_LINE_MAX;
  // A cut character at the end is iPXE's; one at the start is the rest of the previous datagram's.
  if (!utf8Valid(raw, { openStart: true, openEnd: continues })) return { ok: false, reason: 'invalid-utf8' };
  const severity = p.pri & 7;
  return {
    ok: true,
    line: { pri: p.pri, facility: p.pri >> 3, severity, severityName: SEVERITY_NAMES[severity]!, hostname, text: raw.toString('utf8'), raw, continues, from },
  };
}

/** A console line as iPXE printed it, joined from its datagrams. */
export interface IpxeJoinedLine {
  hostname: string | undefined;
  from: SyslogSource;
  severity: number;
  text: string;
  /** How many datagrams made it (1 for most). */
  parts: number;
  /** Emitted without its end: the next part did not come in time, or the line passed maxParts. */
  partial: boolean;
}

/**
 * Joins the 127-byte pieces of a long line back together, per sender (address, port, hostname):
 * a piece that `continues` waits for the next one from the same sender. Bounded: at most
 * maxPending senders wait (the oldest is emitted partial) and a line has at most maxParts pieces.
 */
export class IpxeLineJoiner {
  private readonly pending = new Map<string, { parts: Buffer[]; first: IpxeSyslogLine; since: number }>();
  constructor(private readonly o: { maxParts?: number; maxPending?: number } = {}) {}

  /** Adds a datagram's line; returns the lines it completes (none while a long line is still coming). */
  push(line: IpxeSyslogLine, now: number): IpxeJoinedLine[] {
    const out: IpxeJoinedLine[] = [];
    const key = `${line.from.address}|${line.from.port}|${line.hostname ?? ''}`;
    let p = this.pending.get(key);
    if (!p) {
      if (!line.continues) return [joined(line, [line.raw], false)];
      if (this.pending.size >= (this.o.maxPending ?? 256)) {
        const [oldest] = this.pending.keys();
        out.push(...this.take(oldest!));
      }
      p = { parts: [], first: line, since: now };
      this.pending.set(key, p);
    }
    p.parts.push(line.raw);
    if (!line.continues) out.push(...this.take(key));
    else if (p.parts.length >= (this.o.maxParts ?? 16)) out.push(...this.take(key, true));
    return out;
  }

  /** Emits, partial, the lines whose next piece has not come within maxWaitMs. */
  flush(now: number, maxWaitMs: number): IpxeJoinedLine[] {
    const out: IpxeJoinedLine[] = [];
    for (const [key, p] of this.pending) if (now - p.since >= maxWaitMs) out.push(...this.take(key, true));
    return out;
  }

  /** How many senders are mid-line. */
  get waiting(): number {
    return this.pending.size;
  }

  private take(key: string, partial = true): IpxeJoinedLine[] {
    const p = this.pending.get(key);
    if (!p) return [];
    this.pending.delete(key);
    const last = p.parts.at(-1)!;
    // Completed by a piece shorter than 127 bytes: whole. Taken early: partial.
    return [joined(p.first, p.parts, partial && last.length === IPXE_LINE_MAX)];
  }
}

function joined(first: IpxeSyslogLine, parts: Buffer[], partial: boolean): IpxeJoinedLine {
  return { hostname: first.hostname, from: first.from, severity: first.severity, text: Buffer.concat(parts).toString('utf8'), parts: parts.length, partial };
}

/** What a console line says about the boot. */
export type IpxeLineKind =
  | 'ipxe-start' // "iPXE initialising devices...ok" (core/main.c)
  | 'banner' // "iPXE 2.0.0 -- Open Source Network Boot Firmware -- https://ipxe.org" (core/main.c)
  | 'features' // "Features: DNS HTTP iSCSI ..."
  | 'nic' // "net0: 52:54:00:b0:07:28 using 82540em on 0000:00:03.0 (open)" (usr/ifmgmt.c ifstat())
  | 'link-wait' // "Waiting for link-up on net0... ok"
  | 'dhcp-start' // "Configuring (net0 MAC)..." with no result yet (usr/ifmgmt.c ifconf())
  | 'dhcp-ok' // "Configuring (net0 MAC)...... ok"
  | 'dhcp-failed' // "Configuring (net0 MAC)... No configuration methods succeeded (…040ee119)"
  | 'tail-ok' // " ok": the end of a line begun before the syslog console was on (see the file header)
  | 'address' // "net0: 10.0.2.15/255.255.255.0 gw 10.0.2.2" (usr/route.c)
  | 'next-server' // "Next server: 10.0.2.2" (usr/autoboot.c)
  | 'filename' // "Filename: undionly.kpxe"
  | 'root-path' // "Root path: iscsi:…"
  | 'fetch-ok' // "http://10.77.0.1/default.ipxe... ok", "tftp://…/undionly.kpxe... ok", "/x.ipxe... ok" (core/monojob.c)
  | 'fetch-failed' // "http://…/x.ipxe... No such file or directory (https://ipxe.org/2d0c613b)"
  | 'fetch-start' // "http://…/x.ipxe..." with no result yet (cut, or still running)
  | 'image' // "undionly.kpxe : 76492 bytes [PXE-NBP]" (usr/imgmgmt.c imgstat())
  | 'san-registered' // "Registered SAN device 0x80" (usr/autoboot.c uriboot())
  | 'san-booting' // "Booting from SAN device 0x80"
  | 'san-boot-failed' // "Boot from SAN device 0x80 failed: Input/output error (…1d852039)"
  | 'san-open-failed' // "Could not open SAN device: Permission denied (…)"
  | 'san-describe-failed' // "Could not describe SAN devices: …"
  | 'san-unregistered' // "Unregistered SAN device 0x80"
  | 'boot-failed' // "Could not boot image: …" (usr/autoboot.c), "Could not boot: …" (hci/commands/image_cmd.c)
  | 'command-failed' // any other "Could not <do>: <error>" (image_cmd.c, ifmgmt.c, dhcp_cmd.c)
  | 'nothing-to-boot' // "Nothing to boot: …" (usr/autoboot.c)
  | 'no-more-netdevs' // "No more network devices" (usr/autoboot.c autoboot())
  | 'log' // iPXE's syslog() lines: Downloaded "x", Executing "x", Download of "x" failed: … (core/downloader.c, core/image.c)
  | 'bootchain' // a line Bootchain's own scripts echo ("Bootchain: …", shared/gen/ipxe.ts)
  | 'other';

/** The boot stages a line can show, coarse: the timeline maps them onto its own. */
export type IpxeStage = 'ipxe' | 'dhcp' | 'fetch' | 'san' | 'boot';

/** A console line classified. */
export interface IpxeLineClass {
  kind: IpxeLineKind;
  /** The stage it shows or stops at. */
  stage?: IpxeStage | undefined;
  /** True: the stage got through; false: it failed here; undefined: neither (information, a start). */
  ok?: boolean | undefined;
  /** The error as iPXE wrote it ("Permission denied"), without its URL. */
  error?: string | undefined;
  /** The error URLs in the line, decoded. */
  errors: IpxeError[];
  /** What the line names: the URI fetched, the MAC configured, the SAN drive, the iPXE version ... */
  subject?: string | undefined;
  netdev?: string | undefined;
}

const RE = {
  start: /^iPXE initialising devices\.\.\.\s*(ok)?$/,
  banner: /^iPXE (\S+(?: \(g[0-9a-f]+\))?) -- Open Source Network Boot Firmware/,
  features: /^Features: /,
  nic: /^(net\d+): ([0-9a-f]{2}(?::[0-9a-f]{2})+) using \S+ on \S+ \((open|closed)\)/,
  linkWait: /^Waiting for link-up on (net\d+)\.\.\.[. ]*(.*)$/,
  configuring: /^Configuring (?:\[\w+\] )?\((net\d+) ([0-9a-f:]+)\)[. ]*(.*)$/,
  address: /^(net\d+): ([0-9.]+\/[0-9.]+|[0-9a-f:]+\/\d+)(?: gw (\S+))?/,
  nextServer: /^Next server: (\S+)/,
  filename: /^Filename: (.*)$/,
  rootPath: /^(?:Root path|SAN filename): (.*)$/,
  // monojob_wait(): "<URI>..." then progress ('.' or "nn%", erased by '\b') then " ok" or " <strerror>".
  fetch: /^((?:[a-z][a-z0-9+.-]*:(?:\/\/)?\S*?|\/\S*?))\.\.\.[. ]*(.*)$/,
  image: /^(\S+) : (\d+) bytes(?: \[([\w-]+)\])*/,
  sanRegistered: /^Registered SAN device (0x[0-9a-f]+)/,
  sanBooting: /^Booting(?: .*)? from SAN device (0x[0-9a-f]+)/,
  sanBootFailed: /^Boot from SAN device (0x[0-9a-f]+) failed: (.*)$/,
  sanOpenFailed: /^Could not open SAN device: (.*)$/,
  sanDescribe: /^Could not describe SAN devices?: (.*)$/,
  sanUnregistered: /^Unregistered SAN device (0x[0-9a-f]+)/,
  bootImage: /^Could not boot(?: image)?: (.*)$/,
  couldNot: /^Could not (.+?): (.*)$/,
  nothing: /^Nothing to boot: (.*)$/,
  noMore: /^No more network devices/,
  log: /^(?:Downloaded "|Download of "|Executing "|Execution of "|Image ".*" (?:signature|decrypted|decryption))/,
  bootchain: /^Bootchain: /,
};

/** The error text before its "(https://ipxe.org/…)". */
const errorText = (s: string) => s.replace(/\s*\(https?:\/\/ipxe\.org\/[^)]*\)\s*$/, '').trim();

/**
 * Maps one console line (text only, as the syslog datagram or the screen shows it) to what it says
 * about the boot. The patterns are iPXE v2.0.0's printf() format strings in the files named beside
 * each kind; the 2019 builds print the same words.
 */
export function classifyIpxeLine(line: string): IpxeLineClass {
  const t = line.trim();
  const errors = findIpxeErrors(t);
  const c = (kind: IpxeLineKind, rest: Omit<IpxeLineClass, 'kind' | 'errors'> = {}): IpxeLineClass => ({ kind, errors, ...rest });
  const failed = (kind: IpxeLineKind, stage: IpxeStage, msg: string, subject?: string): IpxeLineClass => c(kind, { stage, ok: false, error: errorText(msg), ...(subject ? { subject } : {}) });
  let m: RegExpExecArray | null;
  if (t === '') return c('other');
  if ((m = RE.start.exec(t))) return c('ipxe-start', { stage: 'ipxe' });
  if ((m = RE.banner.exec(t))) return c('banner', { stage: 'ipxe', subject: m[1] });
  if (RE.features.test(t)) return c('features', { stage: 'ipxe' });
  if ((m = RE.configuring.exec(t))) {
    const r = m[3]!;
    if (r === '') return c('dhcp-start', { stage: 'dhcp', subject: m[2], netdev: m[1] });
    if (r === 'ok') return c('dhcp-ok', { stage: 'dhcp', ok: true, subject: m[2], netdev: m[1] });
    return { ...failed('dhcp-failed', 'dhcp', r, m[2]), netdev: m[1] };
  }
  if (t === 'ok') return c('tail-ok');
  if ((m = RE.nic.exec(t))) return c('nic', { stage: 'ipxe', subject: m[2], netdev: m[1] });
  if ((m = RE.linkWait.exec(t))) {
    if (m[2] === '') return c('link-wait', { stage: 'dhcp', netdev: m[1] });
    return m[2] === 'ok' ? c('link-wait', { stage: 'dhcp', ok: true, netdev: m[1] }) : { ...failed('link-wait', 'dhcp', m[2]!), netdev: m[1] };
  }
  if ((m = RE.address.exec(t))) return c('address', { stage: 'dhcp', ok: true, subject: m[2], netdev: m[1] });
  if ((m = RE.nextServer.exec(t))) return c('next-server', { stage: 'dhcp', subject: m[1] });
  if ((m = RE.filename.exec(t))) return c('filename', { stage: 'dhcp', subject: m[1] });
  if ((m = RE.rootPath.exec(t))) return c('root-path', { stage: 'dhcp', subject: m[1] });
  if ((m = RE.sanRegistered.exec(t))) return c('san-registered', { stage: 'san', ok: true, subject: m[1] });
  if ((m = RE.sanBootFailed.exec(t))) return failed('san-boot-failed', 'boot', m[2]!, m[1]);
  if ((m = RE.sanBooting.exec(t))) return c('san-booting', { stage: 'boot', subject: m[1] });
  if ((m = RE.sanOpenFailed.exec(t))) return failed('san-open-failed', 'san', m[1]!);
  if ((m = RE.sanDescribe.exec(t))) return failed('san-describe-failed', 'san', m[1]!);
  if ((m = RE.sanUnregistered.exec(t))) return c('san-unregistered', { stage: 'san', subject: m[1] });
  if ((m = RE.bootImage.exec(t))) return failed('boot-failed', 'boot', m[1]!);
  if ((m = RE.nothing.exec(t))) return failed('nothing-to-boot', 'boot', m[1]!);
  if (RE.noMore.test(t)) return c('no-more-netdevs', { stage: 'boot', ok: false, error: 'No more network devices' });
  if ((m = RE.couldNot.exec(t))) return { ...failed('command-failed', /^(open|configure) net\d/.test(m[1]!) ? 'dhcp' : 'fetch', m[2]!), subject: m[1] };
  if ((m = RE.image.exec(t))) return c('image', { stage: 'fetch', ok: true, subject: m[1] });
  if (RE.log.test(t)) {
    const bad = /^(?:Download of|Execution of) ".*" failed: (.*)$/.exec(t) ?? /decryption failed: (.*)$|signature bad: (.*)$/.exec(t);
    const name = /"([^"]*)"/.exec(t)?.[1];
    return bad ? { ...failed('log', 'fetch', bad[1] ?? bad[2] ?? ''), subject: name } : c('log', { stage: 'fetch', ...(/^Downloaded/.test(t) ? { ok: true } : {}), subject: name });
  }
  if (RE.bootchain.test(t)) return c('bootchain');
  if ((m = RE.fetch.exec(t))) {
    const r = m[2]!;
    if (r === '') return c('fetch-start', { stage: 'fetch', subject: m[1] });
    if (r === 'ok') return c('fetch-ok', { stage: 'fetch', ok: true, subject: m[1] });
    return failed('fetch-failed', 'fetch', r, m[1]);
  }
  return c('other');
}
