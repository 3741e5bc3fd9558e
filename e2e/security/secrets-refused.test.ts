import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, runBuiltCli } from '../../electron/cli/run-cli';
import { generateArtifacts } from '../../shared/gen/artifacts';
import { sampleProject } from '../../shared/gen/fixtures';
import { stationScript } from '../../shared/gen/ipxe';
import { kernelParams } from '../../shared/gen/kernel';
import { generateChapSecret } from '../../shared/model/chap';
import { loadProject, type ProjectInput } from '../../shared/model/project';
import { chapKey, secretEnvName } from '../../shared/secrets';
import { reportMarkdown, type VerifyResult } from '../../shared/verify';
import { apiSession } from '../support/api-session';
import { leaksOf } from '../support/no-secrets';

// A CHAP secret outside the allow-list is refused, and the refusal names the field and the rule,
// never the secret nor a piece of it: in the generators' errors, every reply and job event of the
// API (verify, upload, VM boot, serve, remembering it), the verify report as Markdown and JSON,
// the saved project, and the built CLI's stdout and stderr (generate, verify, a broken secrets
// file). Every initramfs flavour, one-way and mutual CHAP (either secret refused). No lab is
// needed: the verifier's TFTP goes to 127.0.0.1, where nothing answers.

/** Characters the allow-list refuses, each put inside a random secret. */
const REFUSED: Array<[string, string]> = [
  ['space', ' '],
  ['tab', '\t'],
  ['line feed', '\n'],
  ['carriage return', '\r'],
  ['double quote', '"'],
  ['single quote', "'"],
  ['backtick', '`'],
  ['dollar', '$'],
  ['setting expansion', '${'],
  ['semicolon', ';'],
  ['hash', '#'],
  ['ampersand', '&'],
  ['double ampersand', '&&'],
  ['pipe', '|'],
  ['double pipe', '||'],
  ['backslash', '\\'],
  ['slash', '/'],
  ['comma', ','],
  ['colon', ':'],
  ['angle brackets', '<>'],
  ['parentheses', '()'],
  ['square brackets', '[]'],
  ['braces', '{}'],
  ['question mark', '?'],
  ['non-ASCII letter', 'é'],
  ['sharp s', 'ß'],
  ['Cyrillic', 'ж'],
  ['emoji', '🔑'],
  ['NUL', '\u0000'],
  ['DEL', '\u007f'],
];
const FLAVOURS = ['genkernel', 'dracut', 'initramfs-tools'] as const;
const MODES = ['one-way', 'mutual, initiator secret refused', 'mutual, target secret refused'] as const;
const RULE = /letters, digits/;

/** One refused secret: the class inside a random secret of letters and digits. */
const refusedSecret = (chars: string) => {
  const r = generateChapSecret(14);
  return `${r.slice(0, 7)}${chars}${r.slice(7)}`;
};

interface Case {
  label: string;
  flavour: (typeof FLAVOURS)[number];
  mode: (typeof MODES)[number];
  /** The field whose secret is refused. */
  field: string;
}

/** Flavour × mode for the i-th of a list, so that a list of classes cycles through all nine. */
const cycled = (labels: string[]) => labels.map((label, i) => ({ label, flavour: FLAVOURS[i % 3]!, mode: MODES[Math.floor(i / 3) % 3]! }));

/** A project with one workstation per case, each with its refused secret where the mode puts it. */
function refusedProject(specs: Array<Omit<Case, 'field'>>, secretOf: (label: string) => string) {
  const cases: Case[] = [];
  const secrets: Record<string, string> = {};
  const workstations = specs.map(({ label, flavour, mode }, i) => {
    const mutual = mode !== 'one-way';
    const target = mode === 'mutual, target secret refused';
    const bad = secretOf(label);
    secrets[`r${i}.chap`] = target ? generateChapSecret(16) : bad;
    if (mutual) secrets[`r${i}.mutual`] = target ? bad : generateChapSecret(16);
    cases.push({ label, flavour, mode, field: `workstations[${i}].chap.${target ? 'mutual.' : ''}secretRef` });
    return {
      name: `r${i}`,
      mac: `52:54:00:c0:00:${i.toString(16).padStart(2, '0')}`,
      firmware: 'bios' as const,
      target: `iqn.2026-11.test.bootchain.lab:r${i}`,
      lun: 1,
      initiatorIqn: `iqn.2026-11.test.bootchain:r${i}`,
      initramfs: flavour,
      root: 'UUID=1234-abcd',
      chap: { username: `u${i}`, secretRef: `r${i}.chap`, ...(mutual ? { mutual: { username: `t${i}`, secretRef: `r${i}.mutual` } } : {}) },
    };
  });
  const input: ProjectInput = sampleProject({ name: 'refused', nas: { address: '127.0.0.1', iscsiPort: 3260, tftpRoot: '/srv/tftp' }, workstations } as Partial<ProjectInput>);
  const p = loadProject(input);
  if (!p.ok) throw new Error(`refused project: ${JSON.stringify(p.errors)}`);
  return { input, project: p.value, secrets, cases };
}

/** Asserts a text names the field and the rule and holds no piece of any secret. */
function expectRefusal(text: string, field: string, secrets: Iterable<string>, where: string) {
  expect(text, where).toContain(field);
  expect(text, where).toMatch(RULE);
  expect(leaksOf(text, secrets), `${where}: a secret was echoed`).toEqual([]);
}

describe('a refused CHAP secret is never echoed', () => {
  // Fixed per run, so the outputs below can be searched for exactly these values.
  const made = new Map<string, string>(REFUSED.map(([label, chars]) => [label, refusedSecret(chars)]));
  made.set('too long', generateChapSecret(255) + generateChapSecret(45));
  const all = refusedProject(cycled([...made.keys()]), (label) => made.get(label)!);
  const allSecrets = Object.values(all.secrets);

  it.each(FLAVOURS.flatMap((flavour) => MODES.flatMap((mode) => [...made.keys()].map((label) => [flavour, mode, label] as const))))('generators: %s, %s, %s', (flavour, mode, label) => {
    const { project, secrets, cases } = refusedProject([{ label, flavour, mode }], (l) => made.get(l)!);
    const w = project.workstations[0]!;
    const lookup = (ref: string) => secrets[ref]!;
    const thrown = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return String((e as Error).message);
      }
      throw new Error('not refused');
    };
    const field = cases[0]!.field;
    expectRefusal(thrown(() => stationScript(project, w, 0, lookup)), field, Object.values(secrets), 'the per-MAC script');
    expectRefusal(thrown(() => kernelParams(project, w, 0, lookup)), field, Object.values(secrets), 'the kernel parameters');
    const g = generateArtifacts(project, secrets);
    expect(g.ok).toBe(false);
    expectRefusal(JSON.stringify(g), field, Object.values(secrets), 'generateArtifacts');
  });

  it('through the API: replies, job events, the verify reports and the saved project', { timeout: 60_000 }, async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bc-refused-'));
    const api = apiSession(dataDir);
    // The API takes secrets of at most 256 characters: the long one is refused on its own.
    const long = Object.entries(all.secrets).find(([, v]) => v.length > 256)!;
    const secrets = Object.fromEntries(Object.entries(all.secrets).filter(([k]) => k !== long[0]));
    const results: VerifyResult[] = [];
    await Promise.all(
      all.cases.map(async (c, i) => {
        if (c.label === 'too long') return;
        const r = await api.call('verify:start', { project: all.input, secrets, station: `r${i}`, dhcp: false, dhcpWaitMs: 200 });
        const end = api.endOf(r) as { type: string; result?: VerifyResult } | undefined;
        expect(end?.type, `verify r${i}`).toBe('succeeded');
        const kernel = end!.result!.links.find((l) => l.id === 'kernel')!;
        expect(kernel.status).toBe('fail');
        expectRefusal(kernel.summary, c.field, allSecrets, `verify r${i} (${c.label}, ${c.flavour}, ${c.mode})`);
        results.push(end!.result!);
      }),
    );
    const tooLong = await api.call('verify:start', { project: all.input, secrets: { [long[0]]: long[1] }, station: 'r0', dhcp: false });
    expect(tooLong.ok).toBe(false);
    const upload = await api.call('upload:start', { project: all.input, secrets, dryRun: true, target: { kind: 'folder', path: path.join(dataDir, 'up') } });
    expect(upload.ok).toBe(false);
    for (const c of all.cases.filter((x) => x.label !== 'too long').slice(0, 3)) expectRefusal(JSON.stringify(upload), c.field, allSecrets, 'upload:start');
    for (const [channel, input] of [
      ['vm:boot', { project: all.input, secrets, station: 'r0', network: { kind: 'user' } }],
      ['serve:start', { project: all.input, secrets, address: '127.0.0.1', tftpPort: 16969, httpPort: 0 }],
    ] as const) {
      const r = await api.call(channel, input);
      const end = api.endOf(r) as { type: string; error?: { message: string } } | undefined;
      expect(end?.type, channel).toBe('failed');
      expectRefusal(end!.error!.message, all.cases[0]!.field, allSecrets, channel);
    }
    for (const [ref, value] of Object.entries(all.secrets)) {
      const r = await api.call('secrets:set', { key: chapKey('refused', ref), value, remember: true });
      if (value.length <= 255 && /^[A-Za-z0-9]+$/.test(value)) expect(r.ok).toBe(true);
      else expect(r.ok, `secrets:set ${ref}`).toBe(false);
    }
    expect((await api.call('project:save', { project: all.input })).ok).toBe(true);
    const saved = readdirSync(path.join(dataDir, 'projects')).map((f) => readFileSync(path.join(dataDir, 'projects', f), 'utf8')).join('\n');
    expect(saved).toContain('"secretRef": "r0.chap"');
    const vaultFile = existsSync(path.join(dataDir, 'secrets.json')) ? readFileSync(path.join(dataDir, 'secrets.json'), 'utf8') : '';
    const reports = results.map((r) => `${reportMarkdown(r)}\n${JSON.stringify(r, null, 2)}`).join('\n');
    expect(reports).toContain('## Kernel parameters: FAIL');
    for (const [where, text] of [['the wire', api.wire()], ['the reports', reports], ['the saved project', saved], ['secrets.json', vaultFile]] as const) {
      expect(leaksOf(text, allSecrets), `a secret reached ${where}`).toEqual([]);
    }
  });

  const built = existsSync(CLI);
  if (!built) process.stdout.write('SKIP secrets-refused.test.ts CLI: out/main/cli.js is missing (npm run --silent build first; npm test does)\n');

  it.skipIf(!built)('through the built CLI: generate and verify, stdout and stderr', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-refused-cli-'));
    const projectFile = path.join(dir, 'project.json');
    writeFileSync(projectFile, JSON.stringify(all.input));
    const secretsFile = path.join(dir, 'secrets.json');
    writeFileSync(secretsFile, JSON.stringify(all.secrets), { mode: 0o600 });
    const dataDir = path.join(dir, 'data');
    mkdirSync(dataDir);
    const env = { BOOTCHAIN_DATA_DIR: dataDir };
    const cli = (args: string[], more: Record<string, string> = {}) => runBuiltCli(args, { ...env, ...more });
    const outputs: string[] = [];
    const seen = <R extends { stdout: string; stderr: string }>(r: R): R => {
      outputs.push(r.stdout, r.stderr);
      return r;
    };

    const gen = seen(await cli(['generate', '--project', projectFile, '--out', path.join(dir, 'out'), '--secrets', secretsFile]));
    expect(gen.code).toBe(2);
    for (const c of all.cases) expectRefusal(gen.stderr, `${c.field}:`, allSecrets, `generate stderr (${c.label})`);
    expect(existsSync(path.join(dir, 'out'))).toBe(false);
    const genJson = seen(await cli(['generate', '--project', projectFile, '--out', path.join(dir, 'out'), '--secrets', secretsFile, '--json']));
    expect(genJson.code).toBe(2);
    for (const c of all.cases) expectRefusal(genJson.stdout, c.field, allSecrets, `generate --json (${c.label})`);

    // The same through BOOTCHAIN_SECRET_<REF>; an environment cannot hold NUL, so that one stays in a file.
    const withNul = Object.entries(all.secrets).filter(([, v]) => v.includes('\u0000'));
    const nulFile = path.join(dir, 'nul.json');
    writeFileSync(nulFile, JSON.stringify(Object.fromEntries(withNul)), { mode: 0o600 });
    const viaEnv = Object.fromEntries(Object.entries(all.secrets).filter(([, v]) => !v.includes('\u0000')).map(([k, v]) => [secretEnvName(k), v]));
    const genEnv = seen(await cli(['generate', '--project', projectFile, '--out', path.join(dir, 'out'), '--secrets', nulFile], viaEnv));
    expect(genEnv.code).toBe(2);
    for (const c of all.cases) expectRefusal(genEnv.stderr, `${c.field}:`, allSecrets, `generate with BOOTCHAIN_SECRET_* (${c.label})`);

    // A secrets file that is not valid JSON (a secret without its quotes): Node's parser quotes
    // the text around the fault in its message. (The "Q" makes sure it is not read as a number.)
    const broken = path.join(dir, 'broken.json');
    writeFileSync(broken, `{"r0.chap": Q${made.get('dollar')}, "r1.chap": "${made.get('space')}"}`, { mode: 0o600 });
    const bad = seen(await cli(['generate', '--project', projectFile, '--out', path.join(dir, 'out'), '--secrets', broken]));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--secrets/);

    // verify: one workstation of each flavour × mode; each output (text with evidence, JSON,
    // Markdown) once per flavour and once per mode (a Latin square).
    const formats = [['--verbose'], ['--json'], ['--markdown']];
    const runs = FLAVOURS.flatMap((f, a) => MODES.map((m, b) => ({ i: all.cases.findIndex((c) => c.flavour === f && c.mode === m), fmt: formats[(a + b) % 3]! })));
    for (let k = 0; k < runs.length; k += 5) {
      await Promise.all(
        runs.slice(k, k + 5).map(async ({ i, fmt }) => {
          const r = seen(await cli(['verify', '--project', projectFile, '--station', `r${i}`, '--secrets', secretsFile, '--no-dhcp', ...fmt]));
          const c = all.cases[i]!;
          expect(r.code, `verify r${i} ${fmt.join(' ')}: ${r.stderr}`).toBe(1);
          expectRefusal(r.stdout, c.field, allSecrets, `verify r${i} ${fmt.join(' ')} (${c.label}, ${c.flavour}, ${c.mode})`);
        }),
      );
    }
    expect(leaksOf(outputs.join('\n'), allSecrets), 'a secret reached the CLI output').toEqual([]);
  });
});
