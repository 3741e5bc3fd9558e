import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateArtifacts } from '../../shared/gen/artifacts';
import { SAMPLE_SECRETS, sampleProject } from '../../shared/gen/fixtures';
import { ScriptValueError } from '../../shared/gen/ipxe';
import { kernelParams } from '../../shared/gen/kernel';
import { loadProject, type Project, type Workstation } from '../../shared/model/project';
import { dracutParse, dracutParserMissing, netrootOf } from './dracut-parser';

// dracut reads netroot=iscsi:user:secret[:in-user:in-secret]@server:proto:port:lun:target with
// its own shell function (parse_iscsi_root; dracut 059: modules.d/40network/net-lib.sh). These
// tests run that function from the installed dracut-network package with /bin/sh (nothing of
// dracut is copied here): what Bootchain writes must come back out field for field, and what
// dracut cannot read back must be refused before it is written.
const why = dracutParserMissing();
if (why) process.stdout.write(`SKIP dracut parser tests: ${why}\n`);

const base = (): Project => {
  const r = loadProject(sampleProject());
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
};
const P = base();
/** The sample's dracut workstation (ws2) with the CHAP values and target given. */
function station(c: { user: string; secret: string; muser?: string; msecret?: string }, target = P.workstations[1]!.target): { w: Workstation; secrets: Record<string, string> } {
  const w: Workstation = {
    ...P.workstations[1]!,
    target,
    chap: { username: c.user, secretRef: 'dr.one', ...(c.muser !== undefined ? { mutual: { username: c.muser, secretRef: 'dr.two' } } : {}) },
  };
  return { w, secrets: { 'dr.one': c.secret, ...(c.msecret !== undefined ? { 'dr.two': c.msecret } : {}) } };
}
const params = (w: Workstation, secrets: Record<string, string>) => kernelParams(P, w, 1, (ref) => secrets[ref]!).params;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!!why)("dracut's parse_iscsi_root reads back what Bootchain writes", () => {
  // Every character class Bootchain allows in CHAP users (A-Z a-z 0-9 . _ -) and secrets
  // (also + = ^ ~ ! %), short and long, one-way and mutual.
  const allowed = [
    { user: 'ws2-user', secret: 'Abcdefgh2345' },
    { user: 'Chap.User_01', secret: 'a.b_c+d=e^f~', muser: 'nas-Target.2', msecret: 'g!h%i-j0K9Lm' },
    { user: 'u'.repeat(64), secret: `${'Z'.repeat(120)}+9`, muser: 'N', msecret: `~${'q'.repeat(15)}` },
  ];
  it.each(allowed)('CHAP %j: user, secrets, server, LUN and target come back unchanged', async (c) => {
    const { w, secrets } = station(c);
    const got = await dracutParse(netrootOf(params(w, secrets)));
    expect(got).toMatchObject({ rc: 0, username: c.user, password: c.secret, inUsername: c.muser ?? '', inPassword: c.msecret ?? '', targetIp: '10.77.0.20', port: '', lun: '1', targetName: w.target, iface: '', netdev: '' });
    expect(got.warnings).toBe('');
  });

  it('a port other than 3260 and LUN 0 come back too', async () => {
    const { w, secrets } = station({ user: 'ws2-user', secret: 'Abcdefgh2345' });
    const got = await dracutParse(netrootOf(params({ ...w, lun: 0, portals: [{ address: '10.77.0.22', port: 3261 }] }, secrets)));
    expect(got).toMatchObject({ rc: 0, targetIp: '10.77.0.22', port: '3261', lun: '0', targetName: w.target });
  });
});

describe.skipIf(!!why)('values dracut cannot carry in netroot= are refused, naming the field and the rule', () => {
  // The netroot dracut documents (dracut.cmdline(7)): what Bootchain would write without the rule.
  const documented = (c: { user: string; secret: string; muser?: string; msecret?: string }) =>
    `iscsi:${c.user}:${c.secret}${c.muser !== undefined ? `:${c.muser}:${c.msecret}` : ''}@10.77.0.20:::1:${P.workstations[1]!.target}`;
  const refused: Array<[string, { user: string; secret: string; muser?: string; msecret?: string }, string, RegExp]> = [
    ['"@" in the CHAP user (an e-mail-like name)', { user: 'ws2@corp', secret: 'Abcdefgh2345' }, 'chap.username', /"@"/],
    ['":" in the CHAP user (Windows uses the initiator IQN as CHAP name)', { user: 'iqn.1991-05.com.microsoft:ws2', secret: 'Abcdefgh2345' }, 'chap.username', /":"/],
    ['"@" in the CHAP secret', { user: 'ws2-user', secret: 'Abcd@efgh2345' }, 'chap.secretRef', /"@"/],
    ['"*" in the CHAP secret (the shell expands it as a file pattern)', { user: 'ws2-user', secret: 'Abcdefgh234*' }, 'chap.secretRef', /"\*"/],
    ['":" in the mutual CHAP user', { user: 'ws2-user', secret: 'Abcdefgh2345', muser: 'nas:a', msecret: 'Zyxwvuts9876' }, 'chap.mutual.username', /":"/],
    ['"@" in the mutual CHAP secret', { user: 'ws2-user', secret: 'Abcdefgh2345', muser: 'nas', msecret: 'Zyxw@vuts9876' }, 'chap.mutual.secretRef', /"@"/],
    ['"*" in the mutual CHAP secret', { user: 'ws2-user', secret: 'Abcdefgh2345', muser: 'nas', msecret: 'Zyxwvuts987*' }, 'chap.mutual.secretRef', /"\*"/],
  ];
  it.each(refused)('%s: dracut misreads it, Bootchain refuses it', async (_what, c, field, rule) => {
    // dracut's real parser, run where a file matches the "*" pattern as one may in an initramfs.
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'bc-dracut-'));
    dirs.push(cwd);
    for (const s of [c.secret, c.msecret]) if (s?.endsWith('*')) writeFileSync(path.join(cwd, `${s.slice(0, -1)}x`), '');
    const got = await dracutParse(documented(c), cwd);
    const readBack = got.rc === 0 && got.username === c.user && got.password === c.secret && got.inUsername === (c.muser ?? '') && got.inPassword === (c.msecret ?? '') && got.targetIp === '10.77.0.20';
    expect(readBack).toBe(false);

    const { w, secrets } = station(c);
    let err: unknown;
    try {
      params(w, secrets);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ScriptValueError);
    const e = err as ScriptValueError;
    expect(e.field).toBe(`workstations[1].${field}`);
    expect(e.reason).toMatch(rule);
    expect(e.reason).toMatch(/dracut/);
    for (const s of [c.secret, c.msecret]) if (s) expect(e.message).not.toContain(s);
    // The same refusal reaches generate: nothing is written, the field is named, no secret shown.
    const g = generateArtifacts({ ...P, workstations: [P.workstations[0]!, w] }, { ...SAMPLE_SECRETS, ...secrets });
    expect(g.ok).toBe(false);
    if (!g.ok) {
      expect(g.errors).toEqual([expect.objectContaining({ field: `workstations[1].${field}`, message: expect.stringMatching(rule) })]);
      for (const s of [c.secret, c.msecret]) if (s) expect(JSON.stringify(g.errors)).not.toContain(s);
    }
  });

  it('the rule is dracut\'s: it does not apply to genkernel or initramfs-tools stations', () => {
    const { w, secrets } = station({ user: 'iqn.1991-05.com.microsoft:ws2', secret: 'Abcd@efgh2345', muser: 'nas@x', msecret: 'Zyxwvuts987*' });
    for (const flavour of ['genkernel', 'initramfs-tools'] as const) expect(() => params({ ...w, initramfs: flavour }, secrets)).not.toThrow();
  });

  it.each([
    ['a later ":iqn." in the target name', 'iqn.2001-04.com.example:iqn.disk1', /":iqn\."/],
    ['an upper-case type prefix', 'IQN.2001-04.com.example:7:disk', /lower-case "iqn\."/],
  ])('target names dracut reads differently: %s', async (_what, target, rule) => {
    const got = await dracutParse(`iscsi:10.77.0.20:::1:${target}`);
    expect(got.rc === 0 && got.targetName === target && got.lun === '1').toBe(false);
    const { w, secrets } = station({ user: 'ws2-user', secret: 'Abcdefgh2345' }, target);
    expect(() => params(w, secrets)).toThrow(rule);
    expect(() => params({ ...w, initramfs: 'genkernel' }, secrets)).not.toThrow();
  });
});
