import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMON_FLAGS, flagOfField, parseArgs, UsageError, verbHelp } from './options';
import { cliTables, README_BEGIN, README_END } from './readme';
import { CLI, runBuiltCli as cli } from './run-cli';
import { VERBS } from './verbs';

const FLAGS = [
  { name: 'ports', value: 'LIST', help: 'ports', field: 'ports' },
  { name: 'no-check', help: 'no check' },
] as const;

describe('the option tables', () => {
  it('parse values, switches, --flag=value and positionals; -- ends the flags', () => {
    const a = parseArgs('scan', FLAGS, ['10.0.0.0/24', '--ports', '3260', '--no-check', '--json', '--', '--not-a-flag']);
    expect(a.pos).toEqual(['10.0.0.0/24', '--not-a-flag']);
    expect([a.str('ports'), a.has('no-check'), a.json, a.quiet]).toEqual(['3260', true, true, false]);
    expect(parseArgs('scan', FLAGS, ['--ports=860']).str('ports')).toBe('860');
  });

  it.each([
    [['--jsn'], /unknown option --jsn for scan \(did you mean --json\?\)/],
    [['--frobnicate'], /^unknown option --frobnicate for scan$/],
    [['--ports'], /--ports needs a value/],
    [['--no-check=1'], /--no-check takes no value/],
  ])('refuse %j naming the flag', (argv, re) => {
    expect(() => parseArgs('scan', FLAGS, argv)).toThrow(UsageError);
    expect(() => parseArgs('scan', FLAGS, argv)).toThrow(re);
  });

  it('every verb: unique flag names, none shadowing a common flag, a help line each', () => {
    const common = new Set(COMMON_FLAGS.map((f) => f.name));
    for (const v of VERBS) {
      const names = v.flags.map((f) => f.name);
      expect(new Set(names).size, v.name).toBe(names.length);
      expect(names.filter((n) => (common as Set<string>).has(n)), v.name).toEqual([]);
      const help = verbHelp(v);
      for (const f of v.flags) expect(help, `${v.name} --${f.name}`).toContain(`--${f.name}`);
    }
    expect(new Set(VERBS.map((v) => v.name)).size).toBe(VERBS.length);
  });

  it('name the flag that feeds an input field', () => {
    expect(flagOfField(FLAGS, 'ports.0')?.name).toBe('ports');
    expect(flagOfField(FLAGS, 'portsX')).toBeUndefined();
  });

  it("the README's CLI tables are the ones the option tables generate (npx tsx scripts/cli-readme.ts writes them)", () => {
    const readme = readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
    const a = readme.indexOf(README_BEGIN);
    const b = readme.indexOf(README_END);
    expect(a, 'README.md has the generated block').toBeGreaterThanOrEqual(0);
    expect(readme.slice(a, b + README_END.length)).toBe(cliTables());
  });
});

const built = existsSync(CLI);
if (!built) process.stdout.write('SKIP options.test.ts built CLI: out/main/cli.js is missing (npm run build first; npm test does)\n');

describe.skipIf(!built)('the built CLI', () => {
  it.each(VERBS.map((v) => v.name))('%s --help exits 0 with its usage and options', async (name) => {
    const r = await cli([name, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: bootchain ${name}`));
    for (const f of VERBS.find((v) => v.name === name)!.flags) expect(r.stdout).toContain(`--${f.name}`);
    expect((await cli(['help', name])).stdout).toBe(r.stdout);
  });

  it('a mistyped flag exits 2 naming it, and runs nothing', async () => {
    const r = await cli(['interfaces', '--jsn']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option --jsn for interfaces/);
    expect(r.stdout).toBe('');
    const j = await cli(['build', '--project', 'x.json', '--engin', 'local', '--json']);
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stdout)).toMatchObject({ error: { code: 'INVALID_INPUT', message: expect.stringMatching(/--engin .*did you mean --engine/) } });
  });

  it('a value the contract refuses names the flag that gave it', async () => {
    const r = await cli(['scan', '10.0.0.0/30', '--timeout', '99999']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^bootchain: --timeout: /);
  });
});
