import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportToFolder, listBackups, planFolder, rollbackFolder } from './folder';
import { computePlan, safeRelative, sha256 } from './plan';

const files = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Buffer.from(v)]));

describe('upload plan', () => {
  it('tells new, changed, unchanged and extra files apart', () => {
    const plan = computePlan(files({ 'a.ipxe': 'A', 'b.ipxe': 'B2', 'c.ipxe': 'C' }), { 'b.ipxe': sha256('B1'), 'c.ipxe': sha256('C') }, ['c.ipxe', 'old.ipxe']);
    expect(plan).toEqual({ add: ['a.ipxe'], change: ['b.ipxe'], same: ['c.ipxe'], extra: ['old.ipxe'] });
  });
  it.each(['../etc/passwd', '/etc/passwd', 'a/../../b', 'a b.ipxe', 'x\0y', '', 'a//..//b', './a'])('refuses path %j', (p) => {
    expect(() => safeRelative(p)).toThrow(/not a file name inside the TFTP root/);
  });
  it('normalises harmless spellings', () => expect(safeRelative('dhcp\\dnsmasq.conf')).toBe('dhcp/dnsmasq.conf'));
});

describe('export to a folder', () => {
  it('writes atomically, keeps backups of replaced files, and rolls back byte for byte', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'bc-export-'));
    writeFileSync(path.join(root, 'default.ipxe'), 'old default');
    writeFileSync(path.join(root, 'mine.txt'), 'not ours');
    const first = exportToFolder(root, files({ 'default.ipxe': 'new default', '52-54-00-12-34-56.ipxe': 'ws1' }));
    expect(first.plan).toMatchObject({ add: ['52-54-00-12-34-56.ipxe'], change: ['default.ipxe'] });
    expect(readFileSync(path.join(root, 'default.ipxe'), 'utf8')).toBe('new default');
    expect(readdirSync(root).filter((f) => f.includes('bootchain-tmp'))).toEqual([]);
    // The same files again: nothing to do, no new backup.
    expect(exportToFolder(root, files({ 'default.ipxe': 'new default', '52-54-00-12-34-56.ipxe': 'ws1' })).backup).toBeUndefined();
    expect(listBackups(root)).toHaveLength(1);
    const r = rollbackFolder(root);
    expect(r).toMatchObject({ restored: ['default.ipxe'], removed: ['52-54-00-12-34-56.ipxe'] });
    expect(readFileSync(path.join(root, 'default.ipxe'), 'utf8')).toBe('old default');
    expect(existsSync(path.join(root, '52-54-00-12-34-56.ipxe'))).toBe(false);
    expect(readFileSync(path.join(root, 'mine.txt'), 'utf8')).toBe('not ours');
    expect(() => rollbackFolder(root)).toThrow(/nothing to roll back/);
  });
  it('a dry run writes nothing; the plan lists files a previous export owned', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'bc-export-'));
    exportToFolder(root, files({ 'a.ipxe': '1', 'b.ipxe': '2' }));
    const dry = exportToFolder(root, files({ 'a.ipxe': '3' }), { dryRun: true });
    expect(dry.plan).toEqual({ add: [], change: ['a.ipxe'], same: [], extra: ['b.ipxe'] });
    expect(readFileSync(path.join(root, 'a.ipxe'), 'utf8')).toBe('1');
    expect(planFolder(root, files({ 'a.ipxe': '1' })).same).toEqual(['a.ipxe']);
  });
  it('refuses a path that escapes the root before writing anything', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'bc-export-'));
    expect(() => exportToFolder(root, files({ 'ok.ipxe': 'x', '../escape.ipxe': 'y' }))).toThrow(/not a file name/);
    expect(readdirSync(root)).toEqual([]);
  });
});
