import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, runBuiltCli as cli } from './run-cli';
import { SAMPLE_SECRETS, sampleProject } from '../../shared/gen/fixtures';

// The built CLI (npm run build) on the model verbs; no network involved.
const built = existsSync(CLI);
if (!built) process.stdout.write('SKIP cli-model.test.ts: out/main/cli.js is missing (npm run build first; npm test does)\n');


describe.skipIf(!built)('bootchain iqn and generate', () => {
  it('iqn new builds the recipe-style name; iqn check validates', async () => {
    const r = await cli(['iqn', 'new', '--domain', 'livid.pp.ru', '--date', '2007-11', '--host', 'WS1', '--mac', '00-11-22-33-44-55']);
    expect(r).toMatchObject({ code: 0, stdout: 'iqn.2007-11.ru.pp.livid:ws1-001122334455\n' });
    expect(await cli(['iqn', 'check', 'IQN.2007-11.RU.PP.LIVID:WS1'])).toMatchObject({ code: 0, stdout: 'iqn.2007-11.ru.pp.livid:ws1\n' });
    const bad = await cli(['iqn', 'check', 'iqn.2007-13.ru.pp.livid:ws1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/month 13/);
    expect((await cli(['iqn', 'new', '--domain', 'x.org', '--date', '2020-01', '--host', 'h', '--mac', 'zz'])).code).toBe(2);
  });

  it('generate writes every artifact, with secrets from a file or the environment', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-gen-'));
    const project = path.join(dir, 'project.json');
    writeFileSync(project, JSON.stringify(sampleProject()));
    const secrets = path.join(dir, 'secrets.json');
    writeFileSync(secrets, JSON.stringify(SAMPLE_SECRETS));
    const out = path.join(dir, 'out');
    const r = await cli(['generate', '--project', project, '--out', out, '--secrets', secrets, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).files).toContain('52-54-00-ab-cd-ef.ipxe');
    expect(readdirSync(path.join(out, 'dhcp')).sort()).toEqual(['dhcpd.conf', 'dnsmasq-proxy.conf', 'dnsmasq.conf', 'kea-dhcp4.json', 'mikrotik.rsc', 'openwrt-dhcp.uci']);
    expect(readFileSync(path.join(out, '52-54-00-ab-cd-ef.ipxe'), 'utf8')).toContain('set password Abcdefgh2345');
    const viaEnv = await cli(['generate', '--project', project, '--out', path.join(dir, 'out2')], { BOOTCHAIN_SECRET_WS2_CHAP: 'Abcdefgh2345', BOOTCHAIN_SECRET_WS2_CHAP_MUTUAL: 'Zyxwvuts9876' });
    expect(viaEnv.code).toBe(0);
  });

  it('a project with any invalid value writes nothing and names the field', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-gen-'));
    const p = sampleProject();
    const project = path.join(dir, 'project.json');
    writeFileSync(project, JSON.stringify({ ...p, workstations: [{ ...p.workstations![0]!, target: 'iqn.2026-11.x:a b' }, p.workstations![1]!] }));
    const out = path.join(dir, 'out');
    const r = await cli(['generate', '--project', project, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/workstations\[0\]\.target: invalid iSCSI name/);
    expect(r.stderr).toMatch(/Nothing was written/);
    expect(existsSync(out)).toBe(false);
    const noSecrets = await cli(['generate', '--project', path.join(dir, 'project.json'), '--out', out]);
    expect(noSecrets.code).toBe(2);
    expect(existsSync(out)).toBe(false);
  });

  it('kernel-check lists what the recipe needs', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-kcfg-'));
    const good = path.join(dir, 'good.config');
    writeFileSync(good, ['CONFIG_SCSI=y', 'CONFIG_BLK_DEV_SD=y', 'CONFIG_ISCSI_TCP=m', 'CONFIG_SCSI_ISCSI_ATTRS=m', 'CONFIG_CRYPTO_CRC32C=y', 'CONFIG_IP_PNP=y', 'CONFIG_IP_PNP_DHCP=y'].join('\n'));
    const r = await cli(['kernel-check', good]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/genkernel --iscsi/);
    const bad = path.join(dir, 'bad.config');
    writeFileSync(bad, 'CONFIG_SCSI=y\n# CONFIG_ISCSI_TCP is not set\n');
    const b = await cli(['kernel-check', bad]);
    expect(b.code).toBe(1);
    expect(b.stdout).toMatch(/FAIL CONFIG_ISCSI_TCP/);
  });
});

// A terminal for the CLI: util-linux `script` runs it on a pseudo-terminal; the test types the
// secrets only once each prompt is on screen, as a person would.
const hasScript = existsSync('/usr/bin/script');
if (!hasScript) process.stdout.write('SKIP cli-model.test.ts prompt: /usr/bin/script (util-linux) is missing\n');

describe.skipIf(!built || !hasScript)('secrets asked for on the terminal', () => {
  it('generate asks for each missing CHAP secret without echoing it', { timeout: 30_000 }, async () => {
    const { spawn } = await import('node:child_process');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-prompt-'));
    const project = path.join(dir, 'project.json');
    writeFileSync(project, JSON.stringify(sampleProject()));
    const out = path.join(dir, 'out');
    const cmd = [process.execPath, CLI, 'generate', '--project', project, '--out', out].map((a) => `'${a}'`).join(' ');
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BOOTCHAIN_SECRET_')));
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    const answers: Array<[string, string]> = [
      ['CHAP secret "ws2.chap"', SAMPLE_SECRETS['ws2.chap']!],
      ['CHAP secret "ws2.chap-mutual"', SAMPLE_SECRETS['ws2.chap-mutual']!],
    ];
    child.stdout.on('data', (d: Buffer) => {
      screen += d.toString();
      const next = answers[0];
      if (next && screen.includes(next[0])) {
        answers.shift();
        child.stdin.write(`${next[1]}\r`);
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.stdin.end();
    expect(answers, `prompts not all seen; screen: ${screen}`).toEqual([]);
    expect(code).toBe(0);
    const script = readdirSync(out).filter((f) => /^[0-9a-f-]{17}\.ipxe$/.test(f)).map((f) => readFileSync(path.join(out, f), 'utf8')).join('\n');
    expect(script).toContain(SAMPLE_SECRETS['ws2.chap']);
    for (const s of Object.values(SAMPLE_SECRETS)) expect(screen.includes(s), 'a secret was echoed on the terminal').toBe(false);
  });
});
