/**
 * The NAS's own view of iSCSI logins, polled over the upload's SSH connection (issue 19): which
 * initiators hold a session to which target, from whatever the NAS has — tgtd (tgtadm), LIO
 * (configfs), istgt (istgtcontrol) or, failing all of them, the established TCP connections on
 * the portal port (ss: addresses only, no IQN). Every command is a fixed argument list (the only
 * values in them are validated integers and one validated path), run through an injectable
 * runner, so the same code polls over SSH or through a lab host's exec.
 */
import type { Client } from 'ssh2';
import { appError, BootchainError, fail, type AppError } from '../../../shared/errors';

/** Output of one command. `code` 127 means the command does not exist there. */
export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs one command given as an argument list (never a shell string) where the sessions live. */
export type CommandRunner = (cmd: string[], opts?: { signal?: AbortSignal | undefined }) => Promise<CommandResult>;

/** How a poll learned the sessions. */
export type SessionMethod = 'tgtadm' | 'lio' | 'istgt' | 'ss';

/** One session (or, for ss, one TCP connection) as the NAS sees it. */
export interface NasSession {
  /** The initiator's IQN (tgtadm, lio, istgt; ss cannot know it). */
  initiator?: string;
  /** The target's IQN (tgtadm, lio, istgt). */
  target?: string;
  /** The initiator's IP address. */
  address?: string;
  /** The initiator's TCP port (ss only: the others do not report it). */
  port?: number;
  /** The NAS's portal the connection came in on, `ip:port` (istgt and ss). */
  portal?: string;
  /** tgtd's session (I_T nexus) number: tells iPXE's session from the booted OS's own, which has the same initiator and target. */
  session?: number;
}

/** One poll's result. */
export interface SessionPoll {
  method: SessionMethod;
  sessions: NasSession[];
  /** When the poll finished (ms since the epoch). */
  at: number;
  /**
   * Why a better method was not used, in the order tried (e.g. tgtadm refused without root): the
   * caller shows these, since an ss poll cannot name initiators.
   */
  fallbacks: AppError[];
}

/** Options of a poll. */
export interface PollOptions {
  signal?: AbortSignal | undefined;
  /** tgtd's control port (`tgtadm -C N`) when it is not the default 0 (the lab runs several tgtd). */
  tgtControlPort?: number | undefined;
  /** Prefix tgtadm with `sudo -n` (an account allowed to run it without a password). */
  sudo?: boolean | undefined;
  /** istgtcontrol's config file when not its default (it holds the UnitControl portal and CHAP). */
  istgtcontrolConfig?: string | undefined;
  /** The iSCSI portal port ss filters on (default 3260). */
  portalPort?: number | undefined;
  /** Clock (tests). */
  now?: (() => number) | undefined;
}

/** A change between two polls. */
export interface SessionEvent {
  kind: 'login' | 'logout';
  /** What the change is about: `initiator → target` for IQN methods, the address for ss. */
  key: string;
  /** The session that appeared or went (for ss: the first connection of that address). */
  session: NasSession;
  method: SessionMethod;
  at: number;
  /** A login already present at the first poll (the watch started after it). */
  initial?: boolean;
}

const IQN = /^(?:iqn\.\d{4}-\d{2}\.[^\s:]+(?::\S+)?|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32})$/;
const SAFE_PATH = /^\/[A-Za-z0-9._/-]{1,255}$/;

// ---------------------------------------------------------------------------------------------
// Parsers (pure; unit-tested on outputs captured from the real tools in the lab)
// ---------------------------------------------------------------------------------------------

/** A target in `tgtadm --op show --mode target`, with the I_T nexuses (sessions) it lists. */
export interface TgtTarget {
  tid: number;
  name: string;
  nexus: Array<{ id: number; initiator: string; addresses: string[] }>;
}

/**
 * Parses `tgtadm --lld iscsi --op show --mode target` (tgt's usr/target.c: "Target N: IQN",
 * then "I_T nexus information:" with "I_T nexus: N", "Initiator: IQN alias: A", "IP Address: X"
 * per connection).
 */
export function parseTgtadmTargets(text: string): TgtTarget[] {
  const out: TgtTarget[] = [];
  let cur: TgtTarget | undefined;
  let nexus: TgtTarget['nexus'][number] | undefined;
  let section = '';
  for (const line of text.split('\n')) {
    const t = /^Target (\d+): (\S+)\s*$/.exec(line);
    if (t) {
      cur = { tid: Number(t[1]), name: t[2]!, nexus: [] };
      out.push(cur);
      nexus = undefined;
      section = '';
      continue;
    }
    if (!cur) continue;
    const s = /^ {4}(\S.*?):\s*$/.exec(line);
    if (s) {
      section = s[1]!;
      continue;
    }
    if (section !== 'I_T nexus information') continue;
    const n = /^\s+I_T nexus: (\d+)\s*$/.exec(line);
    if (n) {
      nexus = { id: Number(n[1]), initiator: '', addresses: [] };
      cur.nexus.push(nexus);
      continue;
    }
    const i = /^\s+Initiator: (\S+)(?: alias: .*)?$/.exec(line);
    if (i && nexus) nexus.initiator = i[1]!;
    const a = /^\s+IP Address: (\S+)\s*$/.exec(line);
    if (a && nexus) nexus.addresses.push(a[1]!);
  }
  return out;
}

/** Parses `tgtadm --lld iscsi --op show --mode conn --tid N` ("Session: N", "Connection: C", "Initiator: IQN", "IP Address: X"). */
export function parseTgtadmConns(text: string): Array<{ session: number; connection: number; initiator: string; address?: string }> {
  const out: Array<{ session: number; connection: number; initiator: string; address?: string }> = [];
  let session = -1;
  let cur: (typeof out)[number] | undefined;
  for (const line of text.split('\n')) {
    const s = /^Session: (\d+)\s*$/.exec(line);
    if (s) session = Number(s[1]);
    const c = /^\s+Connection: (\d+)\s*$/.exec(line);
    if (c && session >= 0) {
      cur = { session, connection: Number(c[1]), initiator: '' };
      out.push(cur);
    }
    const i = /^\s+Initiator: (\S+)/.exec(line);
    if (i && cur) cur.initiator = i[1]!;
    const a = /^\s+IP Address: (\S+)\s*$/.exec(line);
    if (a && cur) cur.address = a[1]!;
  }
  return out.filter((c) => c.initiator !== '');
}

/**
 * Parses `grep -r . --include=info --include=dynamic_sessions /sys/kernel/config/target/iscsi`
 * (one `path:line` per line). Each ACL's `info` is written by the kernel's
 * lio_target_nacl_info_show (drivers/target/iscsi/iscsi_target_configfs.c): "No active iSCSI
 * Session for Initiator Endpoint: IQN" or "InitiatorName: IQN", …, "CID: N  Connection State:
 * …", "   Address A TCP  StatSN: …"; `tpgt_N/dynamic_sessions` lists the initiators of demo-mode
 * sessions (no ACL), one per line (target_show_dynamic_sessions). These are the files
 * `targetcli sessions` reads (through rtslib), so one grep replaces it without needing targetcli
 * or Python on the NAS. No LIO runs here: tested on sample text written from that source only.
 */
export function parseLioConfigfs(text: string): NasSession[] {
  const byAcl = new Map<string, NasSession & { live: boolean }>();
  const out: NasSession[] = [];
  for (const line of text.split('\n')) {
    const m = /^\/sys\/kernel\/config\/target\/iscsi\/([^/\s]+)\/tpgt_\d+\/(?:acls\/([^/\s]+)\/info|(dynamic_sessions)):(.*)$/.exec(line);
    if (!m) continue;
    const [, target, acl, dynamic, rest] = m;
    if (dynamic) {
      const ini = rest!.trim();
      if (IQN.test(ini)) out.push({ initiator: ini, target: target! });
      continue;
    }
    const key = `${target}/${acl}`;
    let s = byAcl.get(key);
    if (!s) {
      s = { initiator: acl!, target: target!, live: false };
      byAcl.set(key, s);
    }
    const name = /^InitiatorName: (\S+)/.exec(rest!);
    if (name) {
      s.live = true;
      s.initiator = name[1]!;
    }
    if (/SessionType: Discovery/.test(rest!)) s.live = false;
    const addr = /^\s+Address (\S+) (?:TCP|SCTP)/.exec(rest!);
    if (addr && s.address === undefined) s.address = addr[1]!.replace(/^\[(.*)\]$/, '$1');
  }
  for (const s of byAcl.values()) {
    if (!s.live) continue;
    const { live: _live, ...session } = s;
    out.push(session);
  }
  return out;
}

/**
 * Parses `istgtcontrol info` (istgt's istgt_lu_ctl.c: one "Login from IQN (IP) on TARGET LUn
 * (PORTAL,TAG), ISID=…, TSIH=…, CID=…, …" line per connection, "no login" when none, then
 * "DONE INFO command").
 */
export function parseIstgtInfo(text: string): NasSession[] {
  const out: NasSession[] = [];
  for (const line of text.split('\n')) {
    const m = /^Login from (\S+) \(([^)\s]+)\) on (\S+) LU\d+ \(([^,)\s]+),\d+\)/.exec(line);
    if (m) out.push({ initiator: m[1]!, address: m[2]!.replace(/^\[(.*)\]$/, '$1'), target: m[3]!, portal: m[4]! });
  }
  return out;
}

/** `10.0.0.1:3260`, `[::ffff:10.0.0.1]:3260`, `[fe80::1%eth0]:3260` -> address and port. */
function splitAddrPort(s: string): { address: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^\s:]+)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const address = (m[1] ?? m[2]!).replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1').replace(/%.*$/, '');
  return { address, port: Number(m[3]) };
}

/**
 * Parses `ss -tn state established '( sport = :3260 )'` with or without its header (-H): with a
 * state filter ss prints Recv-Q, Send-Q, the local and the peer address:port (iproute2 ss(8)).
 */
export function parseSs(text: string): NasSession[] {
  const out: NasSession[] = [];
  for (const line of text.split('\n')) {
    if (/^\s*Recv-Q/.test(line) || !line.trim()) continue;
    const addrs = line
      .trim()
      .split(/\s+/)
      .map(splitAddrPort)
      .filter((a): a is { address: string; port: number } => a !== undefined);
    if (addrs.length < 2) continue;
    const [local, peer] = addrs as [{ address: string; port: number }, { address: string; port: number }];
    out.push({ address: peer.address, port: peer.port, portal: local.address.includes(':') ? `[${local.address}]:${local.port}` : `${local.address}:${local.port}` });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Runners
// ---------------------------------------------------------------------------------------------

/** POSIX single-quoting: the remote side gets exactly these arguments. */
const quote = (s: string) => (/^[A-Za-z0-9_./:=,@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** Largest output one command may send back (tgtadm lists every LUN of every target). */
const MAX_OUTPUT = 8 << 20;

/**
 * A runner over an open SSH connection (the upload's: SftpTarget's node-ssh `connection`). Each
 * command is one exec channel; the argument list is quoted argument by argument, never built
 * from outside text. Cancel closes the channel.
 */
export function sshRunner(conn: Client, timeoutMs = 15_000): CommandRunner {
  return (cmd, opts = {}) =>
    new Promise<CommandResult>((resolve, reject) => {
      if (opts.signal?.aborted) return reject(new BootchainError(appError('CANCELLED', 'Cancelled')));
      conn.exec(cmd.map(quote).join(' '), (err, stream) => {
        if (err) return reject(new BootchainError(appError('UNREACHABLE', `The NAS refused to run ${cmd[0]} over SSH: ${err.message}`, { retryable: true })));
        let stdout = '';
        let stderr = '';
        let code = -1;
        const finish = (e?: BootchainError) => {
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          if (e) {
            stream.close();
            reject(e);
          } else resolve({ stdout, stderr, code });
        };
        const onAbort = () => finish(new BootchainError(appError('CANCELLED', 'Cancelled')));
        const timer = setTimeout(() => finish(new BootchainError(appError('TIMEOUT', `${cmd[0]} on the NAS did not finish within ${timeoutMs / 1000} s`, { retryable: true }))), timeoutMs);
        opts.signal?.addEventListener('abort', onAbort);
        stream.on('data', (d: Buffer) => {
          if (stdout.length < MAX_OUTPUT) stdout += d.toString('utf8');
        });
        stream.stderr.on('data', (d: Buffer) => {
          if (stderr.length < 65536) stderr += d.toString('utf8');
        });
        stream.on('exit', (c: number | null) => {
          code = c ?? -1;
        });
        stream.on('close', () => finish());
      });
    });
}

/** A runner from what the caller holds: a runner, an ssh2 Client, or node-ssh's NodeSSH. */
function toRunner(ssh: CommandRunner | Client | { connection: Client | null }): CommandRunner {
  if (typeof ssh === 'function') return ssh;
  // NodeSSH has an exec of its own (a different signature): take its ssh2 Client.
  if ('connection' in ssh) {
    if (!ssh.connection) fail('UNREACHABLE', 'The SSH connection to the NAS is closed', { hint: 'Connect to the NAS again.', retryable: true });
    return sshRunner(ssh.connection);
  }
  return sshRunner(ssh);
}

// ---------------------------------------------------------------------------------------------
// Polling
// ---------------------------------------------------------------------------------------------

/** The command itself is absent (the shell's 127, or its words when a wrapper ate the code). */
const missing = (r: CommandResult) => r.code === 127 || (r.code !== 0 && r.stdout === '' && /command not found|: not found|No such file or directory/i.test(r.stderr));

/**
 * Where each tool may live: a non-root SSH login on Debian has no /usr/sbin in its PATH, and
 * FreeNAS keeps istgtcontrol under /usr/local.
 */
const PLACES: Record<'tgtadm' | 'istgtcontrol' | 'ss', string[]> = {
  tgtadm: ['tgtadm', '/usr/sbin/tgtadm'],
  istgtcontrol: ['istgtcontrol', '/usr/sbin/istgtcontrol', '/usr/local/bin/istgtcontrol'],
  ss: ['ss', '/usr/sbin/ss', '/sbin/ss'],
};

/** Runs `tool args` from the first place where it exists (127 from all: the last answer). */
async function runTool(run: CommandRunner, tool: keyof typeof PLACES, args: string[], o: PollOptions, prefix: string[] = []): Promise<CommandResult> {
  let r: CommandResult = { stdout: '', stderr: `${tool}: not found`, code: 127 };
  for (const at of prefix.length ? [tool] : PLACES[tool]) {
    r = await run([...prefix, at, ...args], { signal: o.signal });
    if (!missing(r)) return r;
  }
  return r;
}

/** tgtadm's arguments for one show request (sudo finds it through its own secure_path). */
function tgtadm(run: CommandRunner, o: PollOptions, mode: string[]): Promise<CommandResult> {
  const ctl = o.tgtControlPort === undefined || o.tgtControlPort === 0 ? [] : ['-C', String(o.tgtControlPort)];
  return runTool(run, 'tgtadm', [...ctl, '--lld', 'iscsi', '--op', 'show', ...mode], o, o.sudo ? ['sudo', '-n'] : []);
}

type Attempt = { sessions: NasSession[] } | { skip: AppError } | undefined;

async function viaTgtadm(run: CommandRunner, o: PollOptions): Promise<Attempt> {
  const r = await tgtadm(run, o, ['--mode', 'target']);
  if (r.code !== 0) {
    if (missing(r) && !/tgt daemon/i.test(r.stderr)) {
      if (o.sudo && /sudo/.test(r.stderr)) return { skip: appError('TOOL_MISSING', 'sudo is not installed on the NAS', { hint: 'Log in as root instead, or install sudo.' }) };
      return undefined;
    }
    if (o.sudo && /password is required|not allowed|not in the sudoers|may not run/i.test(r.stderr)) {
      return { skip: appError('PERMISSION_DENIED', 'sudo -n refused tgtadm on the NAS', { detail: r.stderr.trim().slice(0, 300), hint: 'Allow it without a password, e.g. a sudoers line "USER ALL=(root) NOPASSWD: /usr/sbin/tgtadm", or log in as root.' }) };
    }
    // tgtadm's own words for "cannot reach tgtd's socket" are the same for "not root" and "no
    // tgtd" (the socket is root's, mode 0755): the account's uid tells them apart.
    if (/tgt daemon|Permission denied|EACCES/i.test(r.stderr)) {
      const id = await run(['id', '-u'], { signal: o.signal });
      if (!o.sudo && id.code === 0 && id.stdout.trim() !== '0') {
        return {
          skip: appError('PERMISSION_DENIED', `tgtadm needs root on the NAS: log in as root or allow it with sudo -n (this account is uid ${id.stdout.trim()})`, {
            detail: r.stderr.trim().slice(0, 300),
            hint: 'Use the root account for the NAS connection, or allow "sudo -n tgtadm" for this account (a sudoers NOPASSWD line for /usr/sbin/tgtadm) and turn on sudo. Until then only addresses are shown (ss), not initiator names.',
          }),
        };
      }
      return { skip: appError('NOT_FOUND', 'tgtadm is installed but no tgtd answers on the NAS', { detail: r.stderr.trim().slice(0, 300), hint: 'Start the tgt service on the NAS (or give its control port).' }) };
    }
    return { skip: appError('COMMAND_FAILED', `tgtadm failed on the NAS (exit ${r.code})`, { detail: r.stderr.trim().slice(0, 300) }) };
  }
  const sessions: NasSession[] = [];
  for (const t of parseTgtadmTargets(r.stdout)) {
    if (t.nexus.length === 0) continue;
    // The per-target connection list is the authority (one entry per TCP connection); a target
    // deleted between the two commands keeps what the target list said.
    const c = await tgtadm(run, o, ['--mode', 'conn', '--tid', String(t.tid)]);
    const conns = c.code === 0 ? parseTgtadmConns(c.stdout) : [];
    if (conns.length > 0) for (const x of conns) sessions.push({ initiator: x.initiator, target: t.name, session: x.session, ...(x.address ? { address: x.address } : {}) });
    else for (const n of t.nexus) for (const a of n.addresses.length ? n.addresses : [undefined]) sessions.push({ initiator: n.initiator, target: t.name, session: n.id, ...(a ? { address: a } : {}) });
  }
  return { sessions };
}

const CONFIGFS = '/sys/kernel/config/target/iscsi';

async function viaLio(run: CommandRunner, o: PollOptions): Promise<Attempt> {
  const r = await run(['grep', '-r', '.', '--include=info', '--include=dynamic_sessions', CONFIGFS], { signal: o.signal });
  // grep: 0 lines found, 1 none (LIO loaded, no ACLs), 2 the folder is missing (no LIO).
  if (r.code === 2 && /No such file|not found/i.test(r.stderr)) return undefined;
  if (r.code === 127) return undefined;
  if (r.code === 2 && /Permission denied/i.test(r.stderr)) return { skip: appError('PERMISSION_DENIED', `${CONFIGFS} cannot be read by this account on the NAS`, { hint: 'Log in as root to see LIO sessions.' }) };
  if (r.code !== 0 && r.code !== 1) return undefined;
  return { sessions: parseLioConfigfs(r.stdout) };
}

async function viaIstgt(run: CommandRunner, o: PollOptions): Promise<Attempt> {
  if (o.istgtcontrolConfig !== undefined && !SAFE_PATH.test(o.istgtcontrolConfig)) fail('INVALID_INPUT', 'The istgtcontrol config path has characters Bootchain does not pass on', { field: 'istgtcontrolConfig', hint: 'Use an absolute path of letters, digits and ._-/ only.' });
  const r = await runTool(run, 'istgtcontrol', [...(o.istgtcontrolConfig ? ['-c', o.istgtcontrolConfig] : []), 'info'], o);
  if (r.code === 127 || (r.code !== 0 && missing(r) && !/open error/.test(r.stderr))) return undefined;
  if (/open error|config error|empty config/.test(r.stderr) && !/DONE INFO/.test(r.stdout)) {
    return { skip: appError('NOT_FOUND', 'istgtcontrol is installed on the NAS but has no config file', { detail: r.stderr.trim().slice(0, 300), hint: 'Create istgtcontrol.conf (Host, Port and AuthMethod of istgt\'s [UnitControl]) or give its path; until then only addresses are shown.' }) };
  }
  if (r.code !== 0 || !/DONE INFO/.test(r.stdout)) {
    return { skip: appError('COMMAND_FAILED', `istgtcontrol info failed on the NAS (exit ${r.code})`, { detail: `${r.stdout}${r.stderr}`.trim().slice(0, 300), hint: "Check istgt's [UnitControl] portal and the credentials in istgtcontrol.conf." }) };
  }
  return { sessions: parseIstgtInfo(r.stdout) };
}

async function viaSs(run: CommandRunner, o: PollOptions): Promise<NasSession[]> {
  const port = o.portalPort ?? 3260;
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail('INVALID_INPUT', `${port} is not a TCP port`, { field: 'portalPort' });
  const filter = ['state', 'established', `( sport = :${port} )`];
  let r = await runTool(run, 'ss', ['-Htn', ...filter], o);
  // iproute2 before 4.19 has no -H: the header line is skipped by the parser.
  if (r.code !== 0 && /invalid option|unrecognized/i.test(r.stderr)) r = await runTool(run, 'ss', ['-tn', ...filter], o);
  if (r.code === 127) fail('TOOL_MISSING', 'The NAS has none of tgtadm, LIO, istgtcontrol or ss, so Bootchain cannot see its iSCSI sessions', { hint: 'Install iproute2 (ss) on the NAS, or forward its iSCSI login events to Bootchain\'s syslog receiver.' });
  if (r.code !== 0) fail('COMMAND_FAILED', `ss failed on the NAS (exit ${r.code})`, { detail: r.stderr.trim().slice(0, 300) });
  return parseSs(r.stdout);
}

/**
 * One poll of the NAS's iSCSI sessions: tgtadm, LIO's configfs, istgtcontrol, then ss — the first
 * that works answers; why the earlier ones did not is in `fallbacks` (tgtadm without root is
 * PERMISSION_DENIED there, and the poll goes on with ss).
 */
export async function pollSessions(ssh: CommandRunner | Client | { connection: Client | null }, o: PollOptions = {}): Promise<SessionPoll> {
  if (o.tgtControlPort !== undefined && (!Number.isInteger(o.tgtControlPort) || o.tgtControlPort < 0 || o.tgtControlPort > 65535)) {
    fail('INVALID_INPUT', `${o.tgtControlPort} is not a tgtd control port`, { field: 'tgtControlPort' });
  }
  const run = toRunner(ssh);
  const now = o.now ?? Date.now;
  const fallbacks: AppError[] = [];
  const tries: Array<[Exclude<SessionMethod, 'ss'>, (r: CommandRunner, o: PollOptions) => Promise<Attempt>]> = [
    ['tgtadm', viaTgtadm],
    ['lio', viaLio],
    ['istgt', viaIstgt],
  ];
  for (const [method, attempt] of tries) {
    o.signal?.throwIfAborted();
    const a = await attempt(run, o);
    if (a && 'sessions' in a) return { method, sessions: a.sessions, at: now(), fallbacks };
    if (a) fallbacks.push(a.skip);
  }
  const sessions = await viaSs(run, o);
  return { method: 'ss', sessions, at: now(), fallbacks };
}

/** The key a session is diffed by: initiator and target for IQN methods, the address for ss. */
export function sessionKey(s: NasSession): string {
  return s.initiator ? `${s.initiator} → ${s.target ?? '?'}${s.session !== undefined ? ` #${s.session}` : ''}` : (s.address ?? '?');
}

/**
 * Login and logout events between two polls. A changed method (root lost, tgtd stopped) compares
 * nothing: the new poll's sessions are reported as `initial` logins of the new method.
 */
export function diffSessions(prev: SessionPoll | undefined, next: SessionPoll): SessionEvent[] {
  const index = (p: SessionPoll) => {
    const m = new Map<string, NasSession>();
    for (const s of p.sessions) if (!m.has(sessionKey(s))) m.set(sessionKey(s), s);
    return m;
  };
  const now = index(next);
  if (!prev || prev.method !== next.method) return [...now].map(([key, session]) => ({ kind: 'login' as const, key, session, method: next.method, at: next.at, initial: true }));
  const before = index(prev);
  const events: SessionEvent[] = [];
  for (const [key, session] of before) if (!now.has(key)) events.push({ kind: 'logout', key, session, method: next.method, at: next.at });
  for (const [key, session] of now) if (!before.has(key)) events.push({ kind: 'login', key, session, method: next.method, at: next.at });
  return events;
}

/** Options of a watch. */
export interface WatchOptions extends PollOptions {
  intervalMs: number;
  signal: AbortSignal;
  /**
   * Called with the events of each poll that changed something; the first poll and a poll whose
   * method changed (its `fallbacks` say why) always report.
   */
  onChange: (events: SessionEvent[], poll: SessionPoll) => void;
  /** Called when a poll fails; the watch goes on (a NAS that reboots comes back). */
  onError?: ((e: AppError) => void) | undefined;
}

/**
 * Polls every `intervalMs` until `signal` aborts (resolves then, within the running command's
 * cancel), turning the differences into login / logout events.
 */
export async function watchSessions(ssh: CommandRunner | Client | { connection: Client | null }, o: WatchOptions): Promise<void> {
  if (!Number.isFinite(o.intervalMs) || o.intervalMs < 200) fail('INVALID_INPUT', 'The poll interval must be at least 200 ms', { field: 'intervalMs' });
  const run = toRunner(ssh);
  let prev: SessionPoll | undefined;
  let prevMethod: SessionMethod | undefined;
  let first = true;
  while (!o.signal.aborted) {
    try {
      const poll = await pollSessions(run, o);
      const events = diffSessions(prev, poll);
      prev = poll;
      if (events.length > 0 || first || poll.method !== prevMethod) o.onChange(events, poll);
      prevMethod = poll.method;
      first = false;
    } catch (e) {
      if (o.signal.aborted) break;
      const err = e instanceof BootchainError ? e.appError : appError('INTERNAL', e instanceof Error ? e.message : String(e));
      o.onError?.(err);
    }
    await new Promise<void>((resolve) => {
      // onChange may have aborted already: an abort listener added now would never fire.
      if (o.signal.aborted) return resolve();
      const done = () => {
        clearTimeout(t);
        o.signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, o.intervalMs);
      o.signal.addEventListener('abort', done);
    });
  }
}
