import { describe, expect, it } from 'vitest';
import { sampleProject } from '../gen/fixtures';
import { checkChapSecret, checkChapUser, generateChapSecret } from './chap';
import { checkIqn, duplicateIqns, generateIqn, normaliseIqn, reverseDomain } from './iqn';
import { macHexhyp, macHexraw, parseMac } from './mac';
import { loadProject, migrateProject } from './project';

const NOW = new Date('2026-11-28T00:00:00Z');

describe('MAC', () => {
  it.each(['52:54:00:AB:cd:EF', '52-54-00-ab-cd-ef', '5254.00ab.cdef', '525400ABCDEF', ' 52:54:00:ab:cd:ef '])('accepts %j', (t) => {
    const r = parseMac(t);
    expect(r).toEqual({ ok: true, value: '52:54:00:ab:cd:ef' });
    if (r.ok) {
      expect(macHexhyp(r.value)).toBe('52-54-00-ab-cd-ef');
      expect(macHexraw(r.value)).toBe('525400abcdef');
    }
  });
  it.each([
    ['52:54:00:ab:cd', /not a MAC/],
    ['52:54-00:ab:cd:ef', /not a MAC/],
    ['52:54:00:ab:cd:eg', /not a MAC/],
    ['00:00:00:00:00:00', /all-zero/],
    ['ff:ff:ff:ff:ff:ff', /broadcast/],
    ['01:00:5e:00:00:01', /multicast/],
    ['52:54:00:ab:cd:ef\n#!ipxe', /not a MAC/],
    ['', /not a MAC/],
  ])('refuses %j', (t, re) => {
    const r = parseMac(t);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(re);
  });
});

describe('iSCSI names (RFC 3720/3721/3722)', () => {
  it.each([
    // RFC 3720 §3.2.6.3.1 and RFC 3721 examples
    'iqn.2001-04.com.example',
    'iqn.2001-04.com.example:storage:diskarrays-sn-a8675309',
    'iqn.2001-04.com.example:storage.tape1.sys1.xyz',
    'iqn.2001-04.com.example:storage.disk2.sys1.xyz',
    'iqn.2007-11.ru.pp.livid:hostname-0011223344',
    'eui.02004567A425678D',
    'naa.52004567BA64678D',
    'naa.62004567BA64678D0123456789ABCDEF',
  ])('accepts %s', (n) => expect(checkIqn(n, NOW).ok).toBe(true));
  it.each([
    ['IQN.2001-04.COM.EXAMPLE:Disk', 'iqn.2001-04.com.example:disk'],
    ['eui.02004567a425678d', 'eui.02004567A425678D'],
  ])('normalises %s', (n, want) => {
    expect(normaliseIqn(n)).toBe(want);
    const r = checkIqn(n, NOW);
    expect(r.ok && r.value).toBe(want);
    // The folded form is for comparing; the name to write stays as given (RFC 3722 folds case).
    expect(r.ok && r.name).toBe(n);
  });
  it.each([
    ['', /empty/],
    ['iqn.2001-13.com.example', /month 13/],
    ['iqn.2001-00.com.example', /month 00/],
    ['iqn.2027-01.com.example', /future/],
    ['iqn.1970-01.com.example', /before domain names/],
    ['iqn.2001-04.com..example', /empty label/],
    ['iqn.2001-04.example', /reversed domain/],
    ['iqn.2001-04.com.exa_mple', /a-z, 0-9/],
    ['iqn.2001-04.com.example:', /nothing after/],
    ['iqn.2001-04.com.example:a b', /spaces/],
    ['iqn.2001-04.com.example:x${17}', /"\$" is not allowed/],
    ['iqn.2001-04.com.example:x;reboot', /";" is not allowed/],
    ['iqn.2001-04.com.example:x#', /"#" is not allowed/],
    ['iqn.2001-04.com.example:x\\', /"\\" is not allowed/],
    [`iqn.2001-04.com.example:${'a'.repeat(210)}`, /223 bytes/],
    ['eui.0200', /16 hex/],
    ['naa.123', /16 or 32 hex/],
    ['foo.2001-04.com.example', /starts with iqn/],
    ['iqn.01-04.com.example', /iqn\.YYYY-MM/],
  ])('refuses %j with the reason', (n, re) => {
    const r = checkIqn(n, NOW);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(re);
  });
  it('generates from the template like the recipe', () => {
    expect(reverseDomain('livid.pp.ru')).toBe('ru.pp.livid');
    expect(generateIqn({ domain: 'livid.pp.ru', date: '2007-11', hostname: 'WS1', mac: '00:11:22:33:44:55' }, 'iqn.%date%.%domain%:%hostname%-%mac%', NOW)).toEqual({
      ok: true,
      value: 'iqn.2007-11.ru.pp.livid:ws1-00-11-22-33-44-55',
      name: 'iqn.2007-11.ru.pp.livid:ws1-00-11-22-33-44-55',
      kind: 'iqn',
    });
    expect(generateIqn({ domain: 'example.org', date: '2020-01', hostname: 'bad host' }, undefined, NOW).ok).toBe(false);
    expect(generateIqn({ domain: 'example.org', date: '2020-01', hostname: 'h' }, undefined, NOW)).toMatchObject({ ok: false, reason: /MAC/ });
  });
  it('finds duplicates case-insensitively', () => {
    expect(duplicateIqns(['iqn.2001-04.com.x:a', 'IQN.2001-04.com.x:A', 'iqn.2001-04.com.x:b'])).toEqual(['iqn.2001-04.com.x:a']);
  });
  it.each([
    ['iqn.2026-11.test.bootchain:WS1', 'iqn.2026-11.test.bootchain:ws1'],
    ['eui.02004567a425678d', 'eui.02004567A425678D'],
  ])('a project refuses initiators %s and %s on two workstations (the same name, RFC 3722)', (a, b) => {
    const s = sampleProject();
    const r = loadProject({ ...s, workstations: [{ ...s.workstations![0]!, initiatorIqn: a }, { ...s.workstations![1]!, initiatorIqn: b }] });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => e.field)).toEqual(['workstations[0].initiatorIqn', 'workstations[1].initiatorIqn']);
  });
});

describe('CHAP secrets', () => {
  it('generates 12-16 safe characters by default, all different', () => {
    const a = new Set(Array.from({ length: 50 }, () => generateChapSecret()));
    expect(a.size).toBe(50);
    for (const s of a) {
      expect(s).toMatch(/^[A-Za-z0-9]{16}$/);
      expect(checkChapSecret(s)).toEqual({ ok: true });
    }
    expect(generateChapSecret(12)).toHaveLength(12);
  });
  it.each([
    ['short', /at least 12/],
    ['a'.repeat(17), /at most 16/],
    ['has space 1234', /letters, digits/],
    ['dollar${17}abc', /letters, digits/],
    ['semi;colon1234', /letters, digits/],
  ])('refuses %j', (s, re) => {
    const r = checkChapSecret(s);
    expect(!r.ok && r.reason).toMatch(re);
  });
  it('refuses a mutual secret equal to the initiator one, and bad user names', () => {
    expect(checkChapSecret('Abcdefgh2345', { other: 'Abcdefgh2345' })).toMatchObject({ ok: false, reason: /must differ/ });
    expect(checkChapSecret('a'.repeat(20), { wide: false })).toEqual({ ok: true });
    expect(checkChapUser('user name').ok).toBe(false);
    expect(checkChapUser('ws-1@lab').ok).toBe(true);
  });
});

describe('project model', () => {
  it('loads the sample with defaults', () => {
    const r = loadProject(sampleProject());
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value.workstations[0]!.keepSan).toBe(false);
  });
  it.each([
    [{ nas: { address: 'nas.local' } }, 'nas.address', /IPv4 address/],
    [{ router: { rootPath: 'http://10.0.0.1/boot/' } }, 'router.rootPath', /trailing/],
    [{ router: { rootPath: 'http://x/${17}' } }, 'router.rootPath', /no spaces/],
    [{ nas: { address: '10.0.0.1', tftpRoot: '/srv/../etc' } }, 'nas.tftpRoot', /\.\./],
  ])('names the field of %j', (patch, field, re) => {
    const r = loadProject({ ...sampleProject(), ...patch });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field, message: expect.stringMatching(re) })]));
  });
  it('names workstation fields and cross-field rules', () => {
    const p = sampleProject();
    const ws = p.workstations!;
    const bad = {
      ...p,
      workstations: [
        { ...ws[0]!, mac: '52:54:00:12:34:5' },
        { ...ws[1]!, initiatorIqn: ws[0]!.initiatorIqn, name: 'ws1' },
        { ...ws[0]!, name: 'ws3', mac: '52:54:00:00:00:03', initiatorIqn: 'iqn.2026-11.test.bootchain:ws3', target: 'iqn.2026-11.x:a b' },
      ],
    };
    const r = loadProject(bad);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const fields = r.errors.map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['workstations[0].mac', 'workstations[1].name', 'workstations[1].initiatorIqn', 'workstations[0].initiatorIqn', 'workstations[2].target']));
  });
  it('migrates older versions and refuses newer ones', () => {
    const migrations = { 0: (p: Record<string, unknown>) => ({ ...p, renamed: p.old }) };
    expect(migrateProject({ version: 0, old: 1 }, migrations, 1)).toEqual({ ok: false, error: expect.objectContaining({ field: 'version' }) });
    expect(migrateProject({ version: 1, old: 1 }, { 1: (p) => ({ ...p, renamed: p.old }) }, 2)).toEqual({ ok: true, value: { version: 2, old: 1, renamed: 1 } });
    expect(migrateProject({ version: 9 })).toMatchObject({ ok: false, error: { message: /newer Bootchain/ } });
    expect(migrateProject([])).toMatchObject({ ok: false });
    expect(migrateProject({ name: 'x' })).toMatchObject({ ok: false, error: { message: /not a Bootchain project/ } });
  });
});

describe('project name', () => {
  it.each(['../../etc', 'a/b', '..', '.hidden', 'with space', ''])('refuses %j: it names files and folders', (name) => {
    const r = loadProject({ ...sampleProject(), name });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]?.field).toBe('name');
  });
  it('takes letters, digits, ".", "_", "-"', () => expect(loadProject({ ...sampleProject(), name: 'Home-lab_2.0' }).ok).toBe(true));
});
