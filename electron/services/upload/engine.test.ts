import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyUpload, listBackupSets, planUpload, repair, rollback } from './engine';
import { FolderTarget } from './folder';
import { uploadJob } from './job';
import { computePlan, safeRelative, sha256, uploadName } from './plan';

const files = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Buffer.from(v)]));
const tmpRoot = () => mkdtempSync(path.join(os.tmpdir(), 'bc-export-'));
const folder = (root: string) => new FolderTarget(root).open();

describe('upload plan', () => {
  it('tells new, changed, unchanged and extra files apart, and counts the bytes to write', () => {
    const plan = computePlan(files({ 'a.ipxe': 'A', 'b.ipxe': 'B2', 'c.ipxe': 'C' }), { 'b.ipxe': sha256('B1'), 'c.ipxe': sha256('C') }, ['c.ipxe', 'old.ipxe']);
    expect(plan).toEqual({ add: ['a.ipxe'], change: ['b.ipxe'], same: ['c.ipxe'], extra: ['old.ipxe'], bytes: 3 });
  });
  it.each(['../etc/passwd', '/etc/passwd', 'a/../../b', 'a b.ipxe', 'x\0y', '', 'a//..//b', './a', "a'b", 'a;rm -rf', '$(x)'])('refuses path %j', (p) => {
    expect(() => safeRelative(p)).toThrow(/not a file name inside the TFTP root/);
  });
  it('normalises harmless spellings', () => expect(safeRelative('dhcp\\dnsmasq.conf')).toBe('dhcp/dnsmasq.conf'));
  it("keeps Bootchain's own names for itself", () => {
    expect(() => uploadName('.bootchain/owned.json')).toThrow(/keeps for itself/);
    expect(() => uploadName('.a.ipxe.bootchain-tmp-00000000')).toThrow(/keeps for itself/);
  });
});

describe('upload engine on a folder', () => {
  it('writes atomically, keeps backups of replaced files, and rolls back byte for byte', async () => {
    const root = tmpRoot();
    writeFileSync(path.join(root, 'default.ipxe'), 'old default');
    writeFileSync(path.join(root, 'mine.txt'), 'not ours');
    const t = await folder(root);
    const set = files({ 'default.ipxe': 'new default', '52-54-00-12-34-56.ipxe': 'ws1', 'sub/dir/x.bin': 'xx' });
    const first = await applyUpload(t, set);
    expect(first.plan).toMatchObject({ add: ['52-54-00-12-34-56.ipxe', 'sub/dir/x.bin'], change: ['default.ipxe'] });
    expect(first.rename).toBe('atomic');
    expect(readFileSync(path.join(root, 'default.ipxe'), 'utf8')).toBe('new default');
    expect(readdirSync(root).filter((f) => f.includes('bootchain-tmp'))).toEqual([]);
    const held = await t.hash(Object.keys(set));
    expect(Object.entries(held.hashes).filter(([f, h]) => h !== sha256(set[f]!))).toEqual([]);
    expect(first.verified).toBe('local');
    // The same files again: nothing to do, no new backup.
    expect((await applyUpload(t, set)).backup).toBeUndefined();
    expect(await listBackupSets(t)).toHaveLength(1);
    const r = await rollback(t);
    expect(r).toMatchObject({ restored: ['default.ipxe'], removed: ['52-54-00-12-34-56.ipxe', 'sub/dir/x.bin'] });
    expect(readFileSync(path.join(root, 'default.ipxe'), 'utf8')).toBe('old default');
    expect(existsSync(path.join(root, '52-54-00-12-34-56.ipxe'))).toBe(false);
    expect(readFileSync(path.join(root, 'mine.txt'), 'utf8')).toBe('not ours');
    await expect(rollback(t)).rejects.toThrow(/nothing to roll back/);
  });
  it('two uploads, two rollbacks: each restores the set before it', async () => {
    const root = tmpRoot();
    const t = await folder(root);
    await applyUpload(t, files({ 'a.ipxe': 'v1' }));
    await applyUpload(t, files({ 'a.ipxe': 'v2' }));
    await applyUpload(t, files({ 'a.ipxe': 'v3' }));
    await rollback(t);
    expect(readFileSync(path.join(root, 'a.ipxe'), 'utf8')).toBe('v2');
    await rollback(t);
    expect(readFileSync(path.join(root, 'a.ipxe'), 'utf8')).toBe('v1');
  });
  it('a plan writes nothing; it lists files a previous upload owned; a stale plan id is refused', async () => {
    const root = tmpRoot();
    const t = await folder(root);
    await applyUpload(t, files({ 'a.ipxe': '1', 'b.ipxe': '2' }));
    const dry = await planUpload(t, files({ 'a.ipxe': '3' }));
    expect(dry.plan).toEqual({ add: [], change: ['a.ipxe'], same: [], extra: ['b.ipxe'], bytes: 1 });
    expect(readFileSync(path.join(root, 'a.ipxe'), 'utf8')).toBe('1');
    writeFileSync(path.join(root, 'a.ipxe'), 'someone else');
    await expect(applyUpload(t, files({ 'a.ipxe': '3' }), { planId: dry.planId })).rejects.toThrow(/changed since the plan was shown/);
    expect(readFileSync(path.join(root, 'a.ipxe'), 'utf8')).toBe('someone else');
  });
  it('refuses a path that escapes the root before writing anything', async () => {
    const root = tmpRoot();
    const t = await folder(root);
    await expect(applyUpload(t, files({ 'ok.ipxe': 'x', '../escape.ipxe': 'y' }))).rejects.toThrow(/not a file name/);
    expect(readdirSync(root)).toEqual([]);
  });
  it('never follows a symbolic link out of the root (folder or file)', async () => {
    const root = tmpRoot();
    const outside = tmpRoot();
    writeFileSync(path.join(outside, 'victim.ipxe'), 'outside');
    symlinkSync(outside, path.join(root, 'linked'));
    symlinkSync(path.join(outside, 'victim.ipxe'), path.join(root, 'victim.ipxe'));
    const t = await folder(root);
    await expect(applyUpload(t, files({ 'linked/x.ipxe': 'y' }))).rejects.toThrow(/"linked" .* is a symbolic link, not a folder/);
    await expect(applyUpload(t, files({ 'victim.ipxe': 'y' }))).rejects.toThrow(/"victim.ipxe" .* is a symbolic link/);
    expect(readdirSync(outside)).toEqual(['victim.ipxe']);
    expect(readFileSync(path.join(outside, 'victim.ipxe'), 'utf8')).toBe('outside');
  });
  it('repairs what an interrupted run left: aside copy back in place, temporaries and half backup sets gone', async () => {
    const root = tmpRoot();
    writeFileSync(path.join(root, '.a.ipxe.bootchain-old-0123abcd'), 'old a'); // a.ipxe itself missing
    writeFileSync(path.join(root, 'b.ipxe'), 'b');
    writeFileSync(path.join(root, '.b.ipxe.bootchain-old-89abcdef'), 'older b'); // b.ipxe present: the aside copy is stale
    writeFileSync(path.join(root, '.c.ipxe.bootchain-tmp-00ff00ff'), 'half');
    mkdirSync(path.join(root, '.bootchain/backups/2026-half/files'), { recursive: true });
    const t = await folder(root);
    const r = await repair(t, ['a.ipxe', 'b.ipxe', 'c.ipxe']);
    expect(r.restored).toEqual(['a.ipxe']);
    expect(r.removed.sort()).toEqual(['.b.ipxe.bootchain-old-89abcdef', '.bootchain/backups/2026-half', '.c.ipxe.bootchain-tmp-00ff00ff']);
    expect(readdirSync(root).sort()).toEqual(['.bootchain', 'a.ipxe', 'b.ipxe']);
    expect(readFileSync(path.join(root, 'a.ipxe'), 'utf8')).toBe('old a');
  });
  it('a cancelled upload leaves every file old or new and no temporary file', async () => {
    const root = tmpRoot();
    const t = await folder(root);
    const old = files({ 'a.bin': 'A'.repeat(3 << 20), 'b.bin': 'B'.repeat(3 << 20) });
    await applyUpload(t, old);
    const ac = new AbortController();
    const next = files({ 'a.bin': 'a'.repeat(3 << 20), 'b.bin': 'b'.repeat(3 << 20) });
    const p = applyUpload(t, next, { signal: ac.signal, concurrency: 1, onBytes: (done) => done > 1 << 20 && ac.abort() });
    await expect(p).rejects.toThrow();
    for (const f of ['a.bin', 'b.bin']) expect([old[f]!.toString(), next[f]!.toString()]).toContain(readFileSync(path.join(root, f), 'utf8'));
    expect(readdirSync(root).filter((f) => f.includes('bootchain-'))).toEqual([]);
  });
});

describe('upload job on a folder', () => {
  it('reports byte progress up to the total, one item per file, and verifies', async () => {
    const root = tmpRoot();
    const seen: Array<{ phase: string; done?: number; total?: number }> = [];
    const items: string[] = [];
    const set = files({ 'a.bin': 'a'.repeat(5 << 20), 'b.ipxe': '#!ipxe\n' });
    const r = await uploadJob(
      { files: set, target: { kind: 'folder', path: root }, dryRun: false },
      { knownHostsFile: path.join(root, 'unused') },
      { signal: new AbortController().signal, progress: (p) => seen.push(p), log: () => undefined, item: (i) => items.push(i.file) },
    );
    const up = seen.filter((p) => p.phase === 'uploading');
    expect(up.length).toBeGreaterThan(1);
    expect(up.at(-1)).toMatchObject({ done: r.plan.bytes, total: r.plan.bytes });
    expect(up.every((p, i) => i === 0 || p.done! >= up[i - 1]!.done!)).toBe(true);
    expect(items).toEqual(['a.bin', 'b.ipxe']);
    expect(r.files.every((f) => f.verified === 'local')).toBe(true);
  });
});
