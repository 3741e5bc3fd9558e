/**
 * An evaluator for the iPXE script language as Bootchain generates it and users commonly write:
 * `#!ipxe`, comments, `:labels`, `goto`, `set`, `isset`, `iseq`, `dhcp`, `chain`, `echo`,
 * `sanboot`, `sanhook`, `exit`, `shell`, `sleep`, `prompt`, `||` / `&&`, and settings expanded as
 * `${name}`, `${name:type}`, `${net0/name}` (17, root-path, mac, mac:hexhyp, uuid, hostname,
 * next-server, ...). It follows `chain` file by file through the host's fetcher, as the
 * workstation's iPXE would, and records what happened.
 *
 * Semantics follow iPXE's: a failing command ends the script with an error unless `||` handles
 * it; `chain` to a script does not return when that script ends well; `sanboot` boots (the end
 * of the walk: the iSCSI side is checked separately); `shell` is where a script gives up.
 */

export interface Fetched {
  url: string;
  ok: boolean;
  data?: Buffer | undefined;
  error?: string | undefined;
}

export interface ScriptHost {
  /** Fetches a URL (tftp:// or http://). */
  fetch(url: string): Promise<Fetched>;
  /** Runs DHCP as this iPXE (with its user-class); the offer's settings, or undefined (no answer). */
  dhcp(userClass: string | undefined): Promise<Record<string, string> | undefined>;
}

export type ScriptEvent =
  | { kind: 'script'; url: string }
  | { kind: 'echo'; text: string; url: string; line: number }
  | { kind: 'dhcp'; ok: boolean; userClass?: string | undefined; url: string; line: number }
  | { kind: 'chain-failed'; target: string; error: string; url: string; line: number }
  | { kind: 'chain-binary'; target: string; bytes: number; url: string; line: number }
  | { kind: 'sanhook'; uris: string[]; url: string; line: number }
  | { kind: 'sanboot'; uris: string[]; keep: boolean; filename?: string | undefined; url: string; line: number; settings: Record<string, string> }
  | { kind: 'shell' | 'exit'; url: string; line: number }
  | { kind: 'error'; message: string; url: string; line: number };

export type ScriptEnd = 'sanboot' | 'chain-binary' | 'shell' | 'exit' | 'end' | 'error';

export interface ScriptRun {
  end: ScriptEnd;
  events: ScriptEvent[];
  /** Every script fetched and run, in order. */
  scripts: Array<{ url: string; text: string }>;
  /** The settings when the walk ended. */
  settings: Record<string, string>;
}

export interface ScriptEnv {
  /** Canonical MAC aa:bb:cc:dd:ee:ff. */
  mac: string;
  uuid?: string | undefined;
  /** Settings known before the script runs (from the DHCP that loaded iPXE). */
  settings?: Record<string, string> | undefined;
}

const MAX_STEPS = 5_000;
const MAX_DEPTH = 10;

/** Tokens of one line, split on whitespace only: iPXE has no quoting or escapes (core/exec.c). */
function tokenize(line: string): string[] {
  return line.split(/\s+/).filter((t) => t !== '');
}

/** A setting formatted as `${name:type}` asks. */
function formatSetting(name: string, type: string | undefined, s: Map<string, string>, env: ScriptEnv): string {
  const key = name.replace(/^net\d+\//, '').toLowerCase();
  let v: string | undefined;
  if (key === 'mac') v = env.mac;
  else if (key === 'uuid') v = env.uuid;
  else if (key === 'root-path') v = s.get('17');
  else if (key === '17') v = s.get('17');
  else if (key === 'hostname') v = s.get('hostname') ?? s.get('12');
  else if (key === 'next-server') v = s.get('next-server');
  else if (key === 'filename') v = s.get('filename') ?? s.get('67');
  else v = s.get(key);
  if (v === undefined) return '';
  if (key === 'mac' || type === 'hexhyp' || type === 'hexraw' || type === 'hex') {
    const hex = v.replace(/[^0-9a-fA-F]/g, '').toLowerCase();
    if (type === 'hexhyp') return hex.replace(/(..)(?!$)/g, '$1-');
    if (type === 'hexraw') return hex;
    if (key === 'mac') return hex.replace(/(..)(?!$)/g, '$1:');
  }
  return v;
}

/** Expands ${...} in a token (nested expansions are not part of the subset). */
function expand(token: string, s: Map<string, string>, env: ScriptEnv): string {
  return token.replace(/\$\{([A-Za-z0-9_./-]+)(?::([a-z]+))?\}/g, (_, name: string, type: string | undefined) => formatSetting(name, type, s, env));
}

/** A `chain`/`sanboot` argument resolved against the running script's URL, as iPXE resolves URIs. */
export function resolveUri(target: string, base: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return target;
  try {
    return new URL(target, base).href;
  } catch {
    return target;
  }
}

interface Frame {
  url: string;
  lines: string[];
  labels: Map<string, number>;
}

/** Walks a script and everything it chains; never throws for script problems (they are events). */
export async function runScript(text: string, url: string, host: ScriptHost, env: ScriptEnv): Promise<ScriptRun> {
  const settings = new Map<string, string>(Object.entries(env.settings ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const events: ScriptEvent[] = [];
  const scripts: ScriptRun['scripts'] = [];
  let steps = 0;

  /** Runs one script: 'ok' (ran to its end), 'failed' (a command failed unhandled), or a terminal end. */
  const run = async (scriptText: string, scriptUrl: string, depth: number): Promise<'ok' | 'failed' | Exclude<ScriptEnd, 'end'>> => {
    scripts.push({ url: scriptUrl, text: scriptText });
    events.push({ kind: 'script', url: scriptUrl });
    const lines = scriptText.replace(/\r/g, '').split('\n');
    const frame: Frame = { url: scriptUrl, lines, labels: new Map() };
    lines.forEach((l, i) => {
      const m = /^\s*:(\S+)/.exec(l);
      if (m) frame.labels.set(m[1]!, i);
    });
    const err = (message: string, line: number) => events.push({ kind: 'error', message, url: scriptUrl, line: line + 1 });
    for (let pc = 0; pc < lines.length; pc++) {
      if (++steps > MAX_STEPS) {
        err(`more than ${MAX_STEPS} commands: the script loops (goto)`, pc);
        return 'error';
      }
      const raw = lines[pc]!.trim();
      if (raw === '' || raw.startsWith('#') || raw.startsWith(':')) continue;
      const tokens = tokenize(raw);
      // Split into commands joined by || and &&.
      const cmds: Array<{ op?: string; argv: string[] }> = [];
      let cur: string[] = [];
      let op: string | undefined;
      for (const t of tokens) {
        if (t === '||' || t === '&&') {
          cmds.push({ ...(op ? { op } : {}), argv: cur });
          op = t;
          cur = [];
        } else cur.push(t);
      }
      cmds.push({ ...(op ? { op } : {}), argv: cur });
      let rc = 0;
      let jumped: number | undefined;
      for (const c of cmds) {
        if (c.op === '||' && rc === 0) continue;
        if (c.op === '&&' && rc !== 0) continue;
        if (c.argv.length === 0) {
          rc = 0; // "cmd ||": the failure is handled
          continue;
        }
        const [name, ...rawArgs] = c.argv as [string, ...string[]];
        const args = rawArgs.map((a) => expand(a, settings, env));
        const line = pc + 1;
        switch (name) {
          case 'set': {
            const key = args[0];
            if (!key) {
              err('set without a name', pc);
              rc = 1;
              break;
            }
            const k = key.replace(/^net\d+\//, '').toLowerCase();
            if (args.length > 1) settings.set(k, args.slice(1).join(' '));
            else settings.delete(k);
            rc = 0;
            break;
          }
          case 'isset':
            rc = args.length > 0 && args.join('') !== '' ? 0 : 1;
            break;
          case 'iseq':
            rc = (args[0] ?? '') === (args[1] ?? '') ? 0 : 1;
            break;
          case 'echo':
            events.push({ kind: 'echo', text: args.filter((a) => a !== '-n').join(' '), url: scriptUrl, line });
            rc = 0;
            break;
          case 'dhcp':
          case 'ifconf': {
            const uc = settings.get('user-class');
            const offer = await host.dhcp(uc);
            events.push({ kind: 'dhcp', ok: offer !== undefined, userClass: uc, url: scriptUrl, line });
            if (offer) for (const [k, v] of Object.entries(offer)) settings.set(k.toLowerCase(), v);
            rc = offer ? 0 : 1;
            break;
          }
          case 'goto': {
            const to = frame.labels.get(args[0] ?? '');
            if (to === undefined) {
              err(`goto ${args[0] ?? ''}: no such label`, pc);
              rc = 1;
            } else {
              jumped = to;
              rc = 0;
            }
            break;
          }
          case 'chain':
          case 'boot': {
            const target = args.filter((a) => !a.startsWith('--')).find((a) => !a.includes('=')) ?? '';
            const u = resolveUri(target, scriptUrl);
            if (depth >= MAX_DEPTH) {
              err(`more than ${MAX_DEPTH} scripts chained: a loop`, pc);
              return 'error';
            }
            const f = await host.fetch(u);
            if (!f.ok || !f.data) {
              events.push({ kind: 'chain-failed', target: u, error: f.error ?? 'not found', url: scriptUrl, line });
              rc = 1;
              break;
            }
            if (f.data.subarray(0, 6).toString('latin1') === '#!ipxe') {
              const r = await run(f.data.toString('utf8'), u, depth + 1);
              if (r === 'failed') {
                rc = 1;
                break;
              }
              // A chained script that ends well does not return (its image replaced this one).
              return r === 'ok' ? 'exit' : r;
            }
            events.push({ kind: 'chain-binary', target: u, bytes: f.data.length, url: scriptUrl, line });
            return 'chain-binary';
          }
          case 'sanboot':
          case 'sanhook': {
            let keep = false;
            let filename: string | undefined;
            const uris: string[] = [];
            for (let i = 0; i < args.length; i++) {
              const a = args[i]!;
              if (a === '--keep' || a === '-k') keep = true;
              else if (a === '--filename' || a === '-f') filename = args[++i];
              else if (a.startsWith('--filename=')) filename = a.slice(11);
              else if (a === '--drive' || a === '-d' || a === '--extra' || a === '-e') i++;
              else if (a.startsWith('-')) continue;
              else uris.push(a);
            }
            if (name === 'sanhook') {
              events.push({ kind: 'sanhook', uris, url: scriptUrl, line });
              rc = 0;
              break;
            }
            events.push({ kind: 'sanboot', uris, keep, filename, url: scriptUrl, line, settings: Object.fromEntries(settings) });
            return 'sanboot';
          }
          case 'shell':
            events.push({ kind: 'shell', url: scriptUrl, line });
            return 'shell';
          case 'exit':
            events.push({ kind: 'exit', url: scriptUrl, line });
            return 'exit';
          case 'prompt':
            // Nobody presses a key: with a timeout it fails, without one it would wait forever.
            rc = 1;
            break;
          // imgfetch: the watch's stage markers (nothing the boot needs). The check does not fetch
          // them: a Verify run must not look like a workstation booting to a watch.
          case 'imgfetch':
          case 'sleep':
          case 'imgfree':
          case 'ifopen':
          case 'ifclose':
          case 'inc':
          case 'clear':
          case 'route':
          case 'sync':
            rc = 0;
            break;
          default:
            err(`${name}: a command the check does not know`, pc);
            rc = 1;
        }
        if (jumped !== undefined) break;
      }
      if (jumped !== undefined) {
        pc = jumped;
        continue;
      }
      if (rc !== 0) return 'failed';
    }
    return 'ok';
  };

  const r = await run(text, url, 0);
  const end: ScriptEnd = r === 'ok' ? 'end' : r === 'failed' ? 'error' : r;
  return { end, events, scripts, settings: Object.fromEntries(settings) };
}
