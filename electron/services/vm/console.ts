/**
 * Reads a virtual workstation's serial console: the text a person would have seen on screen,
 * the boot stages it shows, what stopped the boot, and which iPXE ran. Pure functions; the unit
 * test feeds them real QEMU consoles (fixtures/).
 *
 * A stage is ticked only by a line that shows it happened: iPXE's "Configuring (net0 MAC)... ok"
 * (its DHCP, iPXE's usr/autoboot.c) or OVMF's "Station IP address is" (the firmware's PXE DHCP),
 * not the start of a DHCP; a script by "NAME : N bytes [script]" or "URL... ok"; the SAN boot by
 * iPXE's "Registered SAN device" / "Booting from SAN device" (core/sanboot.c, arch/x86/interface/
 * pcbios/int13.c); the disk's code by the expected marker, or by the first line after "Booting
 * from SAN device" that is not iPXE's or the firmware's own.
 */
import { VM_STAGES, type VmFailure, type VmIpxe, type VmStageId } from '../../../shared/vm';

// ECMA-48: CSI (ESC [ params intermediates final, e.g. ESC[0;1m, OVMF's ESC[=3h), OSC
// (ESC ] ... BEL/ST), charset selection (ESC ( B) and two-byte escapes (SeaBIOS's ESC c). Where
// two writers share the port, one's CSI can be cut by the other's: "ESC[1" ESC[1m ESC[37m "m".
// eslint-disable-next-line no-control-regex
const ESCAPES = /\x1b\[[0-?]*(?:\x1b\[[0-?]*[ -/]*[@-~])+[@-~]|\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[()*+][ -~]|[ -/]*[0-~])/g;
/** SeaBIOS draws an 80x25 screen on the serial port: it breaks a longer line at column 80. */
const SCREEN_WIDTH = 80;
/** A boot file iPXE loaded ("undionly.kpxe : 77104 bytes [PXE-NBP]", "snponly.efi : 291840 bytes [EFI]"). */
const LOADED = /^\S+ : \d+ bytes \[(?!script\])[\w-]+\]\r?$/gm;

/**
 * Two writers of the same text merged character by character (copy B a little behind copy A),
 * taken apart: each character is the lagging copy's next one, or new text.
 */
function unshuffle(t: string): { text: string; letters: number; matchedLetters: number } {
  let out = '';
  let b = 0;
  let letters = 0;
  let matchedLetters = 0;
  for (const ch of t) {
    const letter = /[A-Za-z]/.test(ch);
    if (letter) letters++;
    if (b < out.length && out[b] === ch) {
      b++;
      if (letter) matchedLetters++;
    } else out += ch;
  }
  return { text: out, letters, matchedLetters };
}

/**
 * An iPXE built with a serial console writes each character to the serial port itself and to
 * the firmware's console, which QEMU also sends to the serial port: from its first line on, the
 * console holds its text twice, interleaved (OVMF: character by character; SeaBIOS: a character
 * or so behind, and wrapped at 80 columns, so it can fall out of step). Finds where that starts
 * after a boot file was loaded (half of the letters in a stretch repeat the text just before)
 * and keeps one copy.
 */
function undouble(t: string): { text: string; doubled: boolean } {
  for (const m of t.matchAll(LOADED)) {
    const from = m.index + m[0].length;
    for (let p = from; p < Math.min(t.length, from + 2000); p++) {
      const w = unshuffle(t.slice(p, p + 240));
      if (w.letters >= 40 && w.matchedLetters / w.letters >= 0.4) return { text: t.slice(0, p) + unshuffle(t.slice(p)).text, doubled: true };
    }
  }
  return { text: t, doubled: false };
}

function readScreen(raw: string): { screen: string; doubled: boolean } {
  const { text, doubled } = undouble(raw.replace(ESCAPES, ''));
  const rows: string[] = [];
  let continues = false;
  for (const physical of text.split('\n')) {
    const cells: string[] = [];
    let col = 0;
    for (const ch of physical) {
      if (ch === '\r') col = 0;
      else if (ch === '\b') col = Math.max(0, col - 1);
      else if (ch === '\t') do cells[col++] ??= ' '; while (col % 8 !== 0);
      else if (ch >= ' ' && ch !== '\x7f') cells[col++] = ch;
    }
    const line = Array.from(cells, (c) => c ?? ' ').join('');
    if (continues) rows[rows.length - 1] += line;
    else rows.push(line);
    continues = cells.length === SCREEN_WIDTH && physical.endsWith('\r');
  }
  const screen = rows
    .map((r) => r.trimEnd())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/^\n+/, '');
  return { screen, doubled };
}

/**
 * The console as a terminal would show it: escape codes dropped, backspace and carriage return
 * applied (iPXE's countdown erases itself; SeaBIOS overwrites its ROM prompt), SeaBIOS's
 * 80-column breaks joined back into the lines iPXE printed, a doubled serial console made
 * single, runs of blank lines made one.
 */
export function screenText(raw: string): string {
  return readScreen(raw).screen;
}

/** What the caller knows about the iPXE binaries that may run. */
export interface ConsoleContext {
  /** The disk's marker: seen anywhere, the disk's code ran. */
  marker?: RegExp | undefined;
  /** The first line Bootchain's embedded script prints (it ran: that iPXE is Bootchain's build). */
  embedEcho?: string | undefined;
  /** iPXE versions read from binaries: QEMU's NIC ROMs, Debian's ipxe package, this build. */
  known?: { nicRom?: string | undefined; debian?: string | undefined; built?: string | undefined } | undefined;
  /** Files QEMU's own TFTP served (name -> sha256): the dry run knows what it handed out. */
  served?: Record<string, string> | undefined;
  /** The build manifest's artifacts. */
  manifest?: ReadonlyArray<{ file: string; sha256: string }> | undefined;
  /** The run is over: a DHCP still going is one that got no answer. */
  final?: boolean | undefined;
}

export interface ConsoleReading {
  /** The console as text (see screenText). */
  screen: string;
  /** Stages reached, in boot order, each with the line that showed it ("(implied)" when only a later stage did). */
  stages: Array<{ id: VmStageId; line: string }>;
  failure?: VmFailure | undefined;
  ipxe: VmIpxe[];
}

const FIRMWARE = /^(SeaBIOS \(version |BdsDxe: |>>Start PXE over IPv|iPXE \(http:\/\/ipxe\.org\) [0-9a-f]{2}:|Booting from ROM)/;
const BANNER = /^iPXE (\S+(?: \(g[0-9a-f]+\))?) -- Open Source Network Boot Firmware/;
const CONFIGURING = /^(?:Configuring|DHCP) \(net\d+ [0-9a-f:]+\)[. ]*(.*)$/;
const IMAGE = /^(\S+) : \d+ bytes \[([\w-]+)\]$/;
const DOWNLOAD = /^((?:tftp|http|https|ftp):\/\/\S+|\/\S+)\.\.\. ?(.*)$/;
/** What iPXE and the firmware print after a SAN boot that did not start the disk's code. */
const NOT_DISK = /^(Could not |Boot failed|Boot from SAN|No bootable device|Bootchain: |iPXE>|BdsDxe: |>>Start |Booting from |(Un)?[Rr]egistered SAN device|Press Ctrl-B|iPXE initialising)|\(https?:\/\/ipxe\.org\/[0-9a-f]+\)/;

const base = (u: string) => u.replace(/^.*\//, '');
const short = (sha: string) => `${sha.slice(0, 16)}…`;

/** Reads the stages, the failure and the iPXE runs from a raw console. */
export function readConsole(raw: string, c: ConsoleContext = {}): ConsoleReading {
  const { screen, doubled } = readScreen(raw);
  const seen = new Map<VmStageId, string>();
  let failure: VmFailure | undefined;
  let dhcpPending: string | undefined;
  let sanbootAt = -1;
  const see = (id: VmStageId, line: string) => {
    if (!seen.has(id)) seen.set(id, line);
    if (failure?.stage === id) failure = undefined; // a retry got through
    if (id === 'dhcp') dhcpPending = undefined;
  };
  const fail = (stage: VmStageId, line: string, why?: string) => {
    if (!failure && !seen.has(stage)) failure = { stage, line, ...(why ? { why } : {}) };
  };
  // Each iPXE that runs: from its first line ("iPXE initialising devices", its banner) until a
  // boot file is loaded (control passes to that) or the console ends.
  const runs: Array<{ at: number; end?: number; version?: string; line?: string; file?: string | undefined; autoexec?: boolean }> = [];
  const current = () => (runs.at(-1)?.end === undefined ? runs.at(-1) : undefined);
  const loads = new Map<string, number>();
  let loaded: string | undefined;
  let nbp: string | undefined;
  const load = (file: string, line: string, i: number) => {
    const cur = current();
    if (cur) cur.end = i;
    loaded = file;
    const n = (loads.get(file) ?? 0) + 1;
    loads.set(file, n);
    if (n >= 2 && !seen.has('script')) fail('script', line, `${file} was loaded ${n} times: the DHCP loop (iPXE asks DHCP and is given iPXE again instead of a script)`);
  };

  const lines = screen.split('\n');
  for (const [i, l] of lines.entries()) {
    const t = l.trim();
    if (t === '') continue;
    // The expected marker is the proof when there is one; else the disk's first line of its own.
    if (c.marker ? c.marker.test(t) : sanbootAt >= 0 && i > sanbootAt && !NOT_DISK.test(t)) see('booted', t);
    if (FIRMWARE.test(t)) see('firmware', t);
    const b = BANNER.exec(t);
    // A loaded iPXE shows itself by its banner, its device setup, undionly's PXE->EB prefix, or our script's first line.
    const starts = b || /^(iPXE initialising devices|PXE->EB: )/.test(t) || (loaded !== undefined && t === c.embedEcho);
    if (starts) {
      see('ipxe', t);
      const cur = current();
      if (!cur || (b && cur.version !== undefined)) runs.push({ at: i, file: loaded });
      loaded = undefined;
      if (b && current()!.version === undefined) Object.assign(current()!, { version: b[1]!, line: t });
      if (b) continue;
    }
    if (/autoexec\.ipxe\.\.\. ok$/.test(t) && current()) current()!.autoexec = true;
    const dh = CONFIGURING.exec(t);
    if (dh) {
      if (dh[1] === 'ok') see('dhcp', t);
      else if (dh[1] !== '') fail('dhcp', t);
      else dhcpPending = t;
    }
    if (/^Station IP address is /.test(t)) see('dhcp', t);
    if (/^Bootchain: DHCP did not answer/.test(t)) fail('dhcp', t);
    const img = IMAGE.exec(t);
    if (img) {
      if (img[2] === 'script') see('script', t);
      else load(base(img[1]!), t, i);
    }
    const nb = /^NBP filename is (\S+)/.exec(t);
    if (nb) nbp = base(nb[1]!);
    if (/^NBP file downloaded successfully/.test(t) && nbp) load(nbp, t, i);
    const dl = DOWNLOAD.exec(t);
    if (dl && /\.ipxe$/i.test(dl[1]!)) {
      if (dl[2] === 'ok') see('script', t);
      else if (dl[2] !== '') fail('script', t);
    } else if (dl && dl[2] !== '' && dl[2] !== 'ok') fail('script', t);
    if (/^Bootchain: (no boot script|could not load|DHCP sent option 17)/.test(t)) fail('script', t);
    if (/^Registered SAN device 0x/.test(t)) see('sanboot', t);
    if (/^Booting from SAN device/.test(t)) {
      see('sanboot', t);
      sanbootAt = i;
    }
    // iPXE's SAN errors (core/sanboot.c, usr/autoboot.c): before the boot, the SAN boot failed;
    // after "Booting from SAN device", the disk's code did not run.
    if (/^(Could not (open|boot from|describe) SAN device|Boot from SAN device \S+ failed|Bootchain: SAN boot failed)/.test(t)) {
      fail(seen.has('sanboot') ? 'booted' : 'sanboot', t);
      sanbootAt = -1;
    }
  }
  if (c.marker && !seen.has('booted')) {
    // The disk's own writes (a boot sector on COM1) may sit inside a doubled stretch: look in the text as it came, too.
    const hit = raw.replace(ESCAPES, '').split(/\r?\n/).find((l) => c.marker!.test(l));
    if (hit !== undefined) see('booted', hit.replace(/[\x00-\x1f\x7f]/g, '').trim());
  }
  if (c.final && dhcpPending && !seen.has('dhcp')) fail('dhcp', dhcpPending, 'iPXE asked DHCP and got no answer before the run ended');

  const order: VmStageId[] = VM_STAGES.map((s) => s.id);
  const furthest = Math.max(-1, ...[...seen.keys()].map((id) => order.indexOf(id)));
  const stages = order.slice(0, furthest + 1).map((id) => ({ id, line: seen.get(id) ?? '(implied)' }));
  if (failure && order.indexOf(failure.stage) <= furthest) failure = undefined;

  const ipxe = runs.map((r, k): VmIpxe => {
    const segment = lines.slice(r.at, r.end ?? lines.length).map((x) => x.trim());
    const v = r.version ?? '';
    const named = v ? `iPXE ${v}` : 'an iPXE whose banner the console does not show readably';
    // The embedded script's first line proves Bootchain's build, unless the lines came from
    // autoexec.ipxe (a signed iPXE runs that file, which holds the same lines): then its version must be this build's.
    const echoed = !!c.embedEcho && segment.includes(c.embedEcho);
    const embedRan = echoed && (!r.autoexec || (!!v && v === c.known?.built));
    const sha = r.file ? c.served?.[r.file] : undefined;
    const inManifest = !!sha && !!c.manifest?.some((a) => a.sha256 === sha);
    const k0 = { version: v, line: r.line ?? lines[r.at]!.trim(), ...(r.file ? { file: r.file } : {}), ...(sha ? { sha256: sha } : {}) };
    if (embedRan || inManifest) {
      const checked = sha ? (inManifest ? `; sha256 ${short(sha)} is in the build manifest` : `; but its sha256 ${short(sha)} is not in the build manifest`) : '';
      const older = c.known?.built && v && c.known.built !== v ? `; this build is iPXE ${c.known.built}: an older build is being served` : '';
      const serial = doubled ? "; built with the serial console, so the VM's console shows its lines twice (build without it for a readable test boot)" : '';
      return { kind: 'built', ...k0, what: `Bootchain's build${r.file ? ` ${r.file}` : ''}: ${named}, its embedded script ran${checked}${older}${serial}` };
    }
    if (!r.file && k === 0) return { kind: 'nic-rom', ...k0, what: `the NIC's own boot ROM: ${named}${v && v === c.known?.nicRom ? " (QEMU's ROM, Debian's ipxe-qemu)" : ''}, no Bootchain script in it` };
    const ran = r.autoexec && echoed ? ", running Bootchain's autoexec.ipxe" : ", without Bootchain's embedded script";
    return { kind: 'stock', ...k0, what: `a stock ${named}${v && v === c.known?.debian ? " (Debian's ipxe package)" : ''}${r.file ? ` loaded as ${r.file}` : ''}${ran}` };
  });
  return { screen, stages, failure, ipxe };
}

/** The version string an iPXE binary prints in its banner (product_version, core/version.c), when stored uncompressed. */
export function ipxeVersionIn(bin: Uint8Array): string | undefined {
  const found = new Set([...Buffer.from(bin).toString('latin1').matchAll(/\0(\d+\.\d+\.\d+[ -~]{0,60})\0/g)].map((m) => m[1]!));
  return found.size === 1 ? [...found][0] : undefined;
}
