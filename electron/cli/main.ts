/**
 * `bootchain <verb> [options]`: finds the verb, reads its command line against its option table,
 * runs it, and turns what it throws into the exit code (2 bad input, 1 failure) and the error
 * text (a JSON document too with --json). Side-effect free, so tests can run it in process.
 */
import { isAppError, type AppError } from '../../shared/errors';
import { toAppError } from '../services/errors';
import { flagOfField, generalHelp, parseArgs, usage, UsageError, verbHelp, type Flag, type Verb } from './options';
import { printError } from './render';
import { VERBS } from './verbs';

const COMMON_FIRST = new Set(['--json', '--quiet', '--verbose']);

/** An error about an input field the verb's table says a flag feeds: named by that flag. */
function byFlag(e: AppError, flags: readonly Flag[]): AppError {
  const f = e.code === 'INVALID_INPUT' ? flagOfField(flags, e.field) : undefined;
  if (!f || e.message.includes(`--${f.name}`)) return e;
  // "Invalid input for verify:start: dhcpWaitMs: Too small…" says the field; the flag says it better.
  const text = e.message.replace(/^Invalid input for [a-z]+:[a-z]+: [^:]+: /, '');
  return { ...e, message: `--${f.name}: ${text.charAt(0).toLowerCase()}${text.slice(1)}` };
}

/** Runs the CLI with the given arguments and returns the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  let json = argv.includes('--json');
  let v: Verb | undefined;
  try {
    // Common switches may come before the verb (`bootchain --json scan …`).
    const lead = argv.findIndex((x) => !COMMON_FIRST.has(x));
    const name = lead < 0 ? undefined : argv[lead];
    const rest = [...argv.slice(0, Math.max(lead, 0)), ...(lead < 0 ? argv : argv.slice(lead + 1))];
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      const which = name === 'help' ? rest.find((x) => !x.startsWith('-')) : undefined;
      const one = which === undefined ? undefined : VERBS.find((x) => x.name === which);
      if (which !== undefined && !one) throw usage(`unknown verb "${which}" (see bootchain --help)`);
      process.stdout.write(one ? verbHelp(one) : generalHelp(VERBS));
      return 0;
    }
    v = VERBS.find((x) => x.name === name);
    if (!v) throw usage(`unknown verb "${name}" (see bootchain --help)`);
    const a = parseArgs(v.name, v.flags, rest);
    json = a.json;
    if (a.has('help')) {
      process.stdout.write(verbHelp(v));
      return 0;
    }
    return await v.run(a);
  } catch (e) {
    if (e instanceof UsageError) {
      printError({ code: 'INVALID_INPUT', message: e.message, hint: `See bootchain ${v ? `${v.name} ` : ''}--help.`, retryable: false }, json);
      return 2;
    }
    const a = byFlag(isAppError(e) ? e : toAppError(e), v?.flags ?? []);
    printError(a, json);
    return a.code === 'INVALID_INPUT' || a.code === 'NEEDS_CONFIRMATION' ? 2 : 1;
  }
}
