/**
 * The CLI's option tables: each verb declares its flags once, here-shaped; the same table parses
 * the command line (an unknown or mistyped flag is refused, naming it), writes `bootchain <verb>
 * --help`, `bootchain --help` and the README's CLI tables (readme.test.ts checks they agree).
 */

/** One flag of a verb. `value` names its argument (`--ports LIST`); without one it is a switch. */
export interface Flag {
  name: string;
  value?: string;
  help: string;
  /** The contract input field it feeds: an error about that field names the flag. */
  field?: string;
}

/** Flags every verb takes. */
export const COMMON_FLAGS = [
  { name: 'json', help: 'print one JSON document on stdout (scripts rely on its shape; serve: one JSON line per event)' },
  { name: 'quiet', help: 'no progress or log on stderr' },
  { name: 'verbose', help: 'the protocol log on stderr (it never shows a secret)' },
  { name: 'help', help: "this verb's usage and options" },
] as const satisfies readonly Flag[];

type CommonName = (typeof COMMON_FLAGS)[number]['name'];
type NameOf<F extends readonly Flag[]> = F[number]['name'] | CommonName;
type ValueNameOf<F extends readonly Flag[]> = Extract<F[number], { value: string }>['name'];

/** What a helper reads of a verb's command line: the flags of its own table (a verb's Args with more flags will do). */
export interface FlagReader<F extends readonly Flag[]> {
  has(name: NameOf<F>): boolean;
  str(name: ValueNameOf<F>): string | undefined;
  int(name: ValueNameOf<F>): number | undefined;
}

/** A usage error: bad command line. Exit code 2, the message names what is wrong. */
export class UsageError extends Error {}
export const usage = (m: string): UsageError => new UsageError(m);

/** The command line of one verb, read against its table. */
export class Args<F extends readonly Flag[] = readonly Flag[]> {
  constructor(
    readonly pos: string[],
    private readonly flags: ReadonlyMap<string, string | true>,
  ) {}

  /** Whether a flag was given. */
  has(name: NameOf<F>): boolean {
    return this.flags.has(name);
  }

  /** The value of a value flag, when given. */
  str(name: ValueNameOf<F>): string | undefined {
    const v = this.flags.get(name);
    return v === true ? undefined : v;
  }

  /** A value flag that holds a whole number. */
  int(name: ValueNameOf<F>): number | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw usage(`--${name} takes a whole number`);
    return Number(v);
  }

  get json(): boolean {
    return this.flags.has('json');
  }
  get quiet(): boolean {
    return this.flags.has('quiet');
  }
  get verbose(): boolean {
    return this.flags.has('verbose');
  }
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/**
 * Reads `argv` (what follows the verb) against the verb's flags and the common ones:
 * `--flag VALUE`, `--flag=VALUE`, switches; `--` ends the flags. Refuses an unknown flag (naming
 * it, with the nearest known one), a missing value and a value given to a switch.
 */
export function parseArgs<F extends readonly Flag[]>(verb: string, flags: F, argv: readonly string[]): Args<F> {
  const table = new Map<string, Flag>([...COMMON_FLAGS, ...flags].map((f) => [f.name, f]));
  const pos: string[] = [];
  const seen = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      pos.push(...argv.slice(i + 1));
      break;
    }
    if (a === '-h') {
      seen.set('help', true);
      continue;
    }
    if (!a.startsWith('--')) {
      pos.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    const f = table.get(name);
    if (!f) {
      const near = [...table.keys()].map((k) => [k, distance(name, k)] as const).sort((x, y) => x[1] - y[1])[0];
      const hint = near && near[1] <= Math.max(1, Math.floor(name.length / 3)) ? ` (did you mean --${near[0]}?)` : '';
      throw usage(`unknown option --${name} for ${verb}${hint}`);
    }
    if (f.value === undefined) {
      if (eq >= 0) throw usage(`--${name} takes no value`);
      seen.set(name, true);
    } else if (eq >= 0) seen.set(name, a.slice(eq + 1));
    else {
      const next = argv[++i];
      if (next === undefined) throw usage(`--${name} needs a value (${f.value})`);
      seen.set(name, next);
    }
  }
  return new Args<F>(pos, seen);
}

/** The flag that feeds an input field (`targets.0` is fed by the flag of `targets`). */
export function flagOfField(flags: readonly Flag[], field: string | undefined): Flag | undefined {
  if (!field) return undefined;
  return flags.find((f) => f.field !== undefined && (field === f.field || field.startsWith(`${f.field}.`)));
}

// ---- text: --help and the README ----

const WIDTH = 100;
const COL = 31;

/** Wraps text into lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  // Backticks mark code in the README; on a terminal they are noise.
  for (const word of text.replace(/`/g, '').split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** `  left  text…` with the text wrapped in its column. */
function row(left: string, text: string): string {
  const body = wrap(text, WIDTH - COL);
  const first = left.length <= COL - 4 ? `  ${left.padEnd(COL - 2)}${body.shift() ?? ''}` : `  ${left}\n${' '.repeat(COL)}${body.shift() ?? ''}`;
  return [first.trimEnd(), ...body.map((l) => `${' '.repeat(COL)}${l}`)].join('\n');
}

/** `--ports LIST` */
export const flagLabel = (f: Flag): string => `--${f.name}${f.value ? ` ${f.value}` : ''}`;

/** What a verb's help and table entry need (the verb's table without its run function). */
export interface VerbText {
  name: string;
  /** Usage lines after `bootchain ` (several for verbs with sub-verbs). */
  usage: readonly string[];
  /** One sentence: `bootchain --help` and the README table. */
  summary: string;
  /** More, for `bootchain <verb> --help`. */
  about?: string;
  flags: readonly Flag[];
}

/** A verb: its text, its one option table, and what it does with the parsed command line. */
export interface Verb<F extends readonly Flag[] = readonly Flag[]> extends VerbText {
  readonly flags: F;
  run(a: Args<F>): Promise<number>;
}

/** Declares a verb (the flag names of `run`'s arguments are checked against its table). */
export const verb = <const F extends readonly Flag[]>(v: Verb<F>): Verb<F> => v;

/** `bootchain <verb> --help`. */
export function verbHelp(v: VerbText): string {
  const out = [...v.usage.map((u, i) => `${i === 0 ? 'Usage: ' : '       '}bootchain ${u}${v.flags.length ? ' [options]' : ''}`), '', ...wrap(`${v.summary}${v.about ? ` ${v.about}` : ''}`, WIDTH), ''];
  if (v.flags.length) out.push('Options:', ...v.flags.map((f) => row(flagLabel(f), f.help)), '');
  out.push('Common options:', ...COMMON_FLAGS.map((f) => row(flagLabel(f), f.help)), '', EXIT_CODES, '');
  return out.join('\n');
}

export const EXIT_CODES = 'Exit codes: 0 done; 2 bad input (the message says which); 1 failure or cancelled (Ctrl-C).';

/** `bootchain --help`: every verb with its summary. */
export function generalHelp(verbs: readonly VerbText[]): string {
  return [
    'bootchain — diskless iSCSI boot wizard, headless',
    '',
    'Usage: bootchain <verb> [options]        bootchain <verb> --help: its options',
    '',
    'Verbs:',
    ...verbs.flatMap((v) => v.usage.map((u, i) => row(u, i === 0 ? v.summary : ''))),
    row('help [VERB]', 'this text, or one verb\'s'),
    '',
    'Common options:',
    ...COMMON_FLAGS.map((f) => row(flagLabel(f), f.help)),
    '',
    EXIT_CODES,
    '',
  ].join('\n');
}

/** Text for a Markdown table cell: "|" escaped, and "<" ">" outside code spans (they would read as HTML). */
const cell = (s: string) =>
  s
    .split('`')
    .map((part, i) => (i % 2 ? part : part.replace(/</g, '&lt;').replace(/>/g, '&gt;')))
    .join('`')
    .replace(/\|/g, '\\|');
const code = (s: string) => `\`${s.replace(/\|/g, '\\|')}\``;

/** The README's CLI tables: the verbs, then every option (an option several verbs share, once, naming them all). */
export function readmeTables(verbs: readonly VerbText[]): string {
  const out = ['| verb | what it does |', '| --- | --- |'];
  for (const v of verbs) out.push(`| ${v.usage.map(code).join('<br>')} | ${cell(v.summary)} |`);
  out.push(`| ${code('help [VERB]')}, ${code('<verb> --help')} | usage of every verb, or of one with its options |`, '', '| verbs | option | what it does |', '| --- | --- | --- |');
  const rows = new Map<string, { flag: Flag; verbs: string[] }>();
  for (const v of verbs)
    for (const f of v.flags) {
      const key = `${flagLabel(f)}\0${f.help}`;
      const r = rows.get(key) ?? rows.set(key, { flag: f, verbs: [] }).get(key)!;
      r.verbs.push(v.name);
    }
  for (const r of rows.values()) out.push(`| ${r.verbs.join(', ')} | ${code(flagLabel(r.flag))} | ${cell(r.flag.help)} |`);
  for (const f of COMMON_FLAGS) out.push(`| every verb | ${code(flagLabel(f))} | ${cell(f.help)} |`);
  return out.join('\n');
}
