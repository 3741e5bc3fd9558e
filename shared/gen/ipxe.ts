/**
 * iPXE scripts of the recipe (embed.ipxe, default.ipxe, one per workstation) and the iSCSI SAN
 * URI. iPXE has no quoting: every value that reaches a script passes an allow-list here or is
 * refused (spaces, new lines, "${", "||", "&&", ";", "#", a trailing backslash …).
 */
import { isIPv4 } from '../ipv4';
import { CHAP_SECRET_CHARS } from '../model/chap';
import { checkIqn } from '../model/iqn';
import { macHexhyp, parseMac } from '../model/mac';
import type { Project, Workstation } from '../model/project';

/** A value refused for a script, with the field it came from. */
export class ScriptValueError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'ScriptValueError';
  }
}

/** Characters allowed in each kind of value (allow-lists, not block-lists). */
const SAFE = {
  // Checked by checkIqn first; written as the target reports it, capitals included (RFC 3722).
  iqn: /^[A-Za-z0-9.:-]+$/,
  chapUser: /^[A-Za-z0-9._@:-]{1,64}$/,
  chapSecret: /^[A-Za-z0-9._+=@^~!%*-]{1,255}$/,
  url: /^((tftp|http|https):\/\/[A-Za-z0-9.\-:[\]]+(\/[A-Za-z0-9._~/-]*)?)?$/,
  filename: /^\\?[A-Za-z0-9_.\\/-]*[A-Za-z0-9_.-]$/,
  userClass: /^[A-Za-z0-9._-]{1,32}$/,
  label: /^[A-Za-z0-9 ._:()-]{0,80}$/,
};

/** Kinds whose values are secrets: a refusal names the field and the rule, never the value nor a piece of it. */
const SECRET_RULES: Partial<Record<keyof typeof SAFE, string>> = {
  chapSecret: `a CHAP secret may hold only 1 to 255 ${CHAP_SECRET_CHARS} (the secret itself is not shown)`,
};

/**
 * Returns the value if it matches its allow-list; otherwise throws naming the field and the
 * first offending piece (so "a ${17} in a password" reads as such) — for a secret, the rule.
 */
export function scriptValue(kind: keyof typeof SAFE, value: string, field: string): string {
  const hostile = [
    [/\$\{/, '"${" would expand an iPXE setting'],
    [/\|\||&&/, '"||" or "&&" would chain another command'],
    [/[\r\n]/, 'a line break would start a new command'],
    [/;/, '";" is not allowed'],
    [/#/, '"#" would start a comment'],
    [/\\$/, 'a trailing "\\" would join the next line'],
    [/\s/, 'spaces would split the value into more arguments'],
  ] as const;
  if (!SAFE[kind].test(value)) {
    const rule = SECRET_RULES[kind];
    for (const [re, why] of hostile) if (re.test(value)) throw new ScriptValueError(field, rule ? `${why}; ${rule}` : why);
    throw new ScriptValueError(field, rule ?? `"${value.slice(0, 40)}" has characters not allowed here`);
  }
  return value;
}

/** Parts of an iSCSI SAN URI: iscsi:<server>:<protocol>:<port>:<lun>:<target> (iPXE sanboot docs). */
export interface IscsiUri {
  server: string;
  protocol?: string | undefined;
  port?: number | undefined;
  lun?: number | undefined;
  target: string;
}

/** Builds a SAN URI; empty fields take iPXE's defaults (protocol 6 = TCP, port 3260, LUN 0). */
export function buildIscsiUri(u: IscsiUri, field = 'uri'): string {
  const server = u.server.includes(':') ? `[${u.server}]` : u.server;
  if (!(isIPv4(u.server) || /^[0-9a-fA-F:]+$/.test(u.server))) throw new ScriptValueError(`${field}.server`, 'must be an IP address (the recipe: firmware cannot resolve names reliably)');
  if (u.port !== undefined && (!Number.isInteger(u.port) || u.port < 1 || u.port > 65535)) throw new ScriptValueError(`${field}.port`, 'must be 1 to 65535');
  if (u.lun !== undefined && (!Number.isInteger(u.lun) || u.lun < 0 || u.lun > 16383)) throw new ScriptValueError(`${field}.lun`, 'must be 0 to 16383');
  if (u.protocol !== undefined && u.protocol !== '' && u.protocol !== '6') throw new ScriptValueError(`${field}.protocol`, 'only 6 (TCP) exists');
  const t = checkIqn(u.target);
  if (!t.ok) throw new ScriptValueError(`${field}.target`, t.reason);
  scriptValue('iqn', t.name, `${field}.target`);
  return `iscsi:${server}:${u.protocol ?? ''}:${u.port ?? ''}:${u.lun ?? ''}:${t.name}`;
}

/** Parses a SAN URI (IPv6 server in brackets; the target may contain ":"). */
export function parseIscsiUri(uri: string): { ok: true; value: IscsiUri } | { ok: false; reason: string } {
  const m = /^iscsi:(\[[0-9a-fA-F:.]+\]|[^:[\]]*):([^:]*):([^:]*):([^:]*):(.+)$/.exec(uri.trim());
  if (!m) return { ok: false, reason: 'expected iscsi:<server>:<protocol>:<port>:<lun>:<target>' };
  const server = m[1]!.replace(/^\[|\]$/g, '');
  if (server === '') return { ok: false, reason: 'the server field is empty' };
  const num = (s: string, max: number, what: string): number | undefined | string => {
    if (s === '') return undefined;
    if (!/^\d+$/.test(s) || Number(s) > max) return `${what} "${s}" is not a number up to ${max}`;
    return Number(s);
  };
  const port = num(m[3]!, 65535, 'port');
  if (typeof port === 'string') return { ok: false, reason: port };
  const lun = num(m[4]!, 16383, 'LUN');
  if (typeof lun === 'string') return { ok: false, reason: lun };
  if (port === 0) return { ok: false, reason: 'port 0 is not a port' };
  return { ok: true, value: { server, protocol: m[2] || undefined, port, lun, target: m[5]! } };
}

const header = (what: string) => [`#!ipxe`, `# ${what}`, `# Generated by Bootchain. Edit the project in Bootchain, not this file.`];

/** The live watch's stage markers the scripts fetch (the path's last part): stages reached, and the failures with iPXE's error number. */
export const WATCH_MARKERS = ['ipxe-dhcp', 'default', 'station', 'sanboot', 'fail-default', 'fail-station', 'fail-sanboot'] as const;
export type WatchMarker = (typeof WATCH_MARKERS)[number];

/** The marker URL's base (http://ADDR:PORT), checked, or undefined when the project asks for none. */
function markerBase(p: Pick<Project, 'boot'>): string | undefined {
  const m = p.boot.watch?.markers;
  return m ? scriptValue('url', m, 'boot.watch.markers') : undefined;
}

/**
 * One stage marker: a fetch of <base>/watch/<mac>/<marker> (failures add ?e=${errno}) that can
 * never stop the boot — a 2 s timeout, and "|| " makes a failed fetch a success; the fetched
 * image is freed at once. Nothing when the project asks for no markers.
 */
export function markerLines(base: string | undefined, marker: WatchMarker): string[] {
  if (!base) return [];
  const query = marker.startsWith('fail-') ? '?e=${errno}' : '';
  return [`imgfetch --timeout 2000 --name bcwatch ${base}/watch/\${mac:hexhyp}/${marker}${query} && imgfree bcwatch ||`];
}

/** `set syslog`: iPXE sends its console lines to the watch's receiver (a build with CONSOLE_SYSLOG; others ignore the setting). */
function syslogLines(p: Pick<Project, 'boot'>): string[] {
  const a = p.boot.watch?.syslog;
  if (!a) return [];
  if (!isIPv4(a)) throw new ScriptValueError('boot.watch.syslog', 'must be an IPv4 address');
  return [`set syslog ${a}`];
}

/**
 * embed.ipxe: built into iPXE (EMBED=) so the chainloaded iPXE does not ask DHCP for itself
 * again (the classic loop). It marks its DHCP requests with our user-class so the router sends
 * option 17 to it only, retries DHCP, checks option 17, then chains default.ipxe.
 */
export function embedScript(p: Pick<Project, 'router' | 'boot'>): string {
  const uc = scriptValue('userClass', p.boot.userClass, 'boot.userClass');
  const root = scriptValue('url', p.router.rootPath, 'router.rootPath');
  const marks = markerBase(p);
  const lines = [
    ...header('embed.ipxe: built into the iPXE binary'),
    ...syslogLines(p),
    `set user-class ${uc}`,
    'echo Bootchain: asking DHCP for an address...',
    'dhcp || dhcp || dhcp || goto dhcp_failed',
    ...markerLines(marks, 'ipxe-dhcp'),
  ];
  if (root === '') {
    lines.push(
      '# Option 17 (root-path) is expected empty: scripts come from the TFTP server that served iPXE.',
      'isset ${17} && goto root_path_unexpected ||',
    );
  } else {
    lines.push(`# Option 17 (root-path) is expected to be ${root}.`, `iseq \${17} ${root} || goto root_path_wrong`);
  }
  lines.push(
    'echo Bootchain: loading ${17}/default.ipxe',
    'chain ${17}/default.ipxe || goto chain_failed',
    '',
    ':dhcp_failed',
    'echo Bootchain: DHCP did not answer three times. Check the cable and that the DHCP server runs.',
    'goto fail',
    ':root_path_unexpected',
    `echo Bootchain: DHCP sent option 17 (root-path) = \${17}, but this setup expects none for user-class ${uc}.`,
    'echo Remove option 17 for Bootchain clients on the router (the generated DHCP config does this).',
    'goto fail',
    ':root_path_wrong',
    `echo Bootchain: DHCP sent option 17 (root-path) = "\${17}", expected ${root || '(empty)'}.`,
    `echo Set option 17 to ${root || '(empty)'} for user-class ${uc} on the router.`,
    'goto fail',
    ':chain_failed',
    'echo Bootchain: could not load ${17}/default.ipxe (see the error above). Is it uploaded to the TFTP root?',
    ...markerLines(marks, 'fail-default'),
    ':fail',
    'echo Bootchain stops here instead of looping. Type "exit" to give the machine back to its firmware.',
    'shell',
    '',
  );
  return lines.join('\n');
}

/**
 * autoexec.ipxe: for UEFI Secure Boot, where a self-built EMBED binary cannot be signed. The
 * signed iPXE (loaded through the signed shim) runs autoexec.ipxe from where it was loaded, so
 * this file does what the embedded script does.
 */
export function autoexecScript(p: Pick<Project, 'router' | 'boot'>): string {
  return embedScript(p).replace('# embed.ipxe: built into the iPXE binary', '# autoexec.ipxe: run by a signed iPXE (Secure Boot) from the folder it was loaded from');
}

/** default.ipxe: chains the per-workstation script named by the MAC in lower case, hyphens. */
export function defaultScript(p: Pick<Project, 'boot'> = { boot: { biosFile: 'undionly.kpxe', uefiFile: 'snponly.efi', userClass: 'bootchain' } }): string {
  const marks = markerBase(p);
  return [
    ...header('default.ipxe: finds this machine\'s own script by its MAC'),
    ...syslogLines(p),
    ...markerLines(marks, 'default'),
    'echo Bootchain: loading ${17}/${mac:hexhyp}.ipxe for MAC ${mac}',
    'chain ${17}/${mac:hexhyp}.ipxe || goto no_station',
    '',
    ':no_station',
    'echo Bootchain: no boot script for this machine: ${17}/${mac:hexhyp}.ipxe (see the error above).',
    ...markerLines(marks, 'fail-station'),
    'echo Add a workstation with MAC ${mac} in Bootchain (Identity step) and upload again.',
    'echo The file name must be lower case with hyphens, e.g. 52-54-00-12-34-56.ipxe.',
    'shell',
    '',
  ].join('\n');
}

/** Secrets a script needs, resolved from their references by the caller. */
export type SecretLookup = (ref: string, field: string) => string;

/** The per-workstation script: initiator IQN, CHAP, sanboot with the LUN that holds the disk. */
export function stationScript(p: Pick<Project, 'nas'> & Partial<Pick<Project, 'boot'>>, w: Workstation, index: number, secret: SecretLookup): { name: string; text: string } {
  const f = (k: string) => `workstations[${index}].${k}`;
  const mac = parseMac(w.mac);
  if (!mac.ok) throw new ScriptValueError(f('mac'), mac.reason);
  const initiator = checkIqn(w.initiatorIqn);
  if (!initiator.ok) throw new ScriptValueError(f('initiatorIqn'), initiator.reason);
  const portals = w.portals && w.portals.length > 0 ? w.portals : [{ address: p.nas.address, port: p.nas.iscsiPort }];
  const uris = portals.map((pt, i) => buildIscsiUri({ server: pt.address, port: pt.port === 3260 ? undefined : pt.port, lun: w.lun, target: w.target }, f(`portals[${i}]`)));
  const lines = [...header(`workstation ${scriptValue('label', w.name, f('name'))} (${mac.value}, ${w.firmware.toUpperCase()})`)];
  const marks = p.boot ? markerBase({ boot: p.boot }) : undefined;
  if (p.boot?.watch?.syslog) {
    // The syslog hostname tells the watch which workstation a line is from (the name is a host name by the model's rule).
    lines.push(...syslogLines({ boot: p.boot }), `set hostname ${scriptValue('label', w.name, f('name'))}`);
  }
  lines.push(...markerLines(marks, 'station'));
  lines.push(`set initiator-iqn ${scriptValue('iqn', initiator.name, f('initiatorIqn'))}`);
  if (w.chap) {
    lines.push(`set username ${scriptValue('chapUser', w.chap.username, f('chap.username'))}`);
    lines.push(`set password ${scriptValue('chapSecret', secret(w.chap.secretRef, f('chap.secretRef')), f('chap.secretRef'))}`);
    if (w.chap.mutual) {
      lines.push(`set reverse-username ${scriptValue('chapUser', w.chap.mutual.username, f('chap.mutual.username'))}`);
      lines.push(`set reverse-password ${scriptValue('chapSecret', secret(w.chap.mutual.secretRef, f('chap.mutual.secretRef')), f('chap.mutual.secretRef'))}`);
    }
  }
  const opts: string[] = [];
  if (w.keepSan) opts.push('--keep');
  if (w.firmware === 'uefi' && w.uefiFilename) opts.push(`--filename ${scriptValue('filename', w.uefiFilename, f('uefiFilename'))}`);
  lines.push(`echo Bootchain: booting ${w.name} from ${uris.join(' ')}`);
  lines.push(...markerLines(marks, 'sanboot'));
  lines.push(`sanboot ${[...opts, ...uris].join(' ')} || goto failed`);
  lines.push(
    '',
    ':failed',
    ...markerLines(marks, 'fail-sanboot'),
    `echo Bootchain: SAN boot failed (the error is above). Check on the NAS that target ${w.target}`,
    `echo allows initiator ${initiator.name}${w.chap ? ' with its CHAP user and secret' : ''}, and that LUN ${w.lun} holds a bootable disk.`,
    'shell',
    '',
  );
  return { name: `${macHexhyp(mac.value)}.ipxe`, text: lines.join('\n') };
}

/** Commands our generated scripts use (the checker refuses others). */
const COMMANDS = new Set(['set', 'dhcp', 'imgfetch', 'isset', 'iseq', 'goto', 'chain', 'echo', 'sanboot', 'sanhook', 'shell', 'exit', 'sleep', 'prompt', 'inc', 'ifopen', 'imgfree']);

/**
 * Syntax check of an iPXE script of the kind we generate: the #!ipxe magic, known commands,
 * labels defined for every goto, balanced ${...}. Returns the problems (empty when clean).
 */
export function checkScriptSyntax(text: string): string[] {
  const problems: string[] = [];
  const lines = text.split('\n');
  if (lines[0] !== '#!ipxe') problems.push('line 1: a script must start with #!ipxe');
  const labels = new Set<string>();
  const gotos: Array<[number, string]> = [];
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith(':')) {
      if (!/^:[A-Za-z0-9_]+$/.test(line)) problems.push(`line ${i + 1}: bad label ${line}`);
      labels.add(line.slice(1));
      return;
    }
    if (/\\$/.test(raw)) problems.push(`line ${i + 1}: trailing backslash joins lines`);
    const opens = (line.match(/\$\{/g) ?? []).length;
    const closes = (line.match(/\}/g) ?? []).length;
    if (opens !== closes) problems.push(`line ${i + 1}: unbalanced \${...}`);
    // Commands joined with || and && each start with a command word.
    for (const part of line.split(/\s*(?:\|\||&&)\s*/)) {
      if (part === '') continue;
      const word = part.split(/\s+/)[0]!;
      if (!COMMANDS.has(word)) problems.push(`line ${i + 1}: unknown command "${word}"`);
      if (word === 'goto') gotos.push([i + 1, part.split(/\s+/)[1] ?? '']);
    }
  });
  for (const [n, l] of gotos) if (!labels.has(l)) problems.push(`line ${n}: goto ${l} has no label`);
  return problems;
}
