import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLI, runBuiltCli as cli } from './run-cli';
import { labOrSkipReason } from '../../e2e/support/lab-guard';

const lab = labOrSkipReason('cli.int.test.ts');
if (lab && !existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);


describe.skipIf(!lab)('bootchain CLI in the lab', () => {
  it('scan --json prints the portals document and exits 0', async () => {
    const r = await cli(['scan', lab!.subnet, '--ports', '3260', '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { portals: Array<{ address: string; port: number; iscsi: boolean; name?: string }> };
    const iscsi = doc.portals.filter((p) => p.iscsi === true).map((p) => `${p.address}:${p.port}`);
    const other = doc.portals.filter((p) => p.iscsi === false).map((p) => `${p.address}:${p.port}`);
    expect(iscsi).toEqual(lab!.iscsiPortals);
    expect(other).toEqual(lab!.nonIscsi);
    for (const p of doc.portals) expect(Object.keys(p)).toEqual(expect.arrayContaining(['address', 'port', 'iscsi']));
  });

  it('plain scan prints one line per open port', async () => {
    const r = await cli(['scan', lab!.subnet, '--quiet']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${lab!.iscsiPortals[0]!.replace(/\./g, '\\.')}\\tiSCSI\\t`, 'm'));
    expect(r.stdout).toMatch(/\tnot-iSCSI\t/);
  });

  it.each([
    [['scan', '10.77.0.0/33'], /prefix length/],
    [['scan', lab?.subnet ?? '', '--ports', '0'], /port 0 is out of range/],
    [['scan', lab?.subnet ?? '', '--ports', '70000'], /port 70000 is out of range/],
    [['scan', '10.0.0.0/8'], /larger than a \/16/],
    [['scan'], /at least one target/],
    [['frobnicate'], /unknown verb/],
  ])('refuses %j with exit 2 and a message, scanning nothing', async (args, re) => {
    const r = await cli([...args, '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(re);
    const doc = JSON.parse(r.stdout) as { error: { code: string; hint: string } };
    expect(doc.error.hint.length).toBeGreaterThan(5);
  });

  it('--help documents every verb', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const verb of ['scan', 'check', 'interfaces']) expect(r.stdout).toContain(`  ${verb}`);
  });

  it('check reports a portal by hand', async () => {
    const r = await cli(['check', `${lab!.nas.ips[1]}:3260`, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ address: lab!.nas.ips[1], iscsi: true });
  });
});
