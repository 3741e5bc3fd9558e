import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleProject, SAMPLE_SECRETS } from '../../../shared/gen/fixtures';
import { ProjectStore } from './store';

describe('project store', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-projects-'));
  const store = new ProjectStore(dir);

  it('saves atomically, lists, loads back the same project, holds no secret', () => {
    expect(store.list()).toEqual([]);
    const r = store.save(sampleProject());
    expect(r.name).toBe('lab');
    expect(store.list().map((p) => p.name)).toEqual(['lab']);
    expect(store.load('lab')).toMatchObject({ name: 'lab', workstations: [{ name: 'ws1' }, { name: 'ws2', chap: { secretRef: 'ws2.chap' } }] });
    const text = readFileSync(r.path, 'utf8');
    for (const s of Object.values(SAMPLE_SECRETS)) expect(text).not.toContain(s);
    expect(readdirSync(path.join(dir, 'projects')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses an invalid project and keeps the saved one', () => {
    const before = readFileSync(path.join(dir, 'projects/lab.json'), 'utf8');
    expect(() => store.save({ ...sampleProject(), nas: { address: 'nas.local' } })).toThrow(/nas\.address/);
    expect(readFileSync(path.join(dir, 'projects/lab.json'), 'utf8')).toBe(before);
  });

  it('refuses names that leave the folder, and reports broken files', () => {
    expect(() => store.load('../etc/passwd')).toThrow(/not a project name/);
    expect(() => store.load('missing')).toThrow(/No saved project/);
    writeFileSync(path.join(dir, 'projects/broken.json'), '{ nope');
    expect(() => store.load('broken')).toThrow(/not valid JSON/);
    writeFileSync(path.join(dir, 'projects/old.json'), JSON.stringify({ ...sampleProject(), version: 99 }));
    expect(() => store.load('old')).toThrow(/newer Bootchain/);
    expect(existsSync(path.join(dir, 'etc'))).toBe(false);
  });
});
