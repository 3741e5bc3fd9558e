import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SAMPLE_SECRETS, sampleProject } from '../../../shared/gen/fixtures';
import { loadProject, type Project } from '../../../shared/model/project';
import { sha256 } from './hash';
import { writeManifest } from './manifest';
import { placeFiles, servedFiles } from './served';

const project = (): Project => {
  const p = loadProject(sampleProject());
  if (!p.ok) throw new Error('sample project');
  return p.value;
};

describe('the served set', () => {
  it('is the served scripts, plus the build by its manifest; a changed binary is refused', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-served-'));
    expect(Object.keys(servedFiles(project(), SAMPLE_SECRETS, dir).files).sort()).toEqual(['52-54-00-12-34-56.ipxe', '52-54-00-ab-cd-ef.ipxe', 'autoexec.ipxe', 'default.ipxe']);
    const bin = Buffer.from('MZ iPXE');
    writeFileSync(path.join(dir, 'undionly.kpxe'), bin);
    writeManifest(dir, { builtAt: 'now', engine: 'local', ipxe: { version: 'x', source: 'y' }, options: {}, artifacts: [{ target: 'bin/undionly.kpxe', file: 'undionly.kpxe', size: bin.length, sha256: sha256(bin), embeddedVerified: true }] });
    const s = servedFiles(project(), SAMPLE_SECRETS, dir);
    expect(s.files['undionly.kpxe']).toEqual(bin);
    expect(s.notes).toEqual([]);
    writeFileSync(path.join(dir, 'undionly.kpxe'), 'changed');
    expect(() => servedFiles(project(), SAMPLE_SECRETS, dir)).toThrow(/does not match its build manifest/);
  });

  it('is placed in a folder: new and changed files written, the same ones left, no temporary file left', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'bc-place-'));
    expect(placeFiles(root, { 'a.ipxe': Buffer.from('a'), 'b.ipxe': Buffer.from('b') })).toEqual({ add: ['a.ipxe', 'b.ipxe'], change: [], same: [] });
    expect(placeFiles(root, { 'a.ipxe': Buffer.from('a'), 'b.ipxe': Buffer.from('B') })).toEqual({ add: [], change: ['b.ipxe'], same: ['a.ipxe'] });
    expect(readdirSync(root).sort()).toEqual(['a.ipxe', 'b.ipxe']);
    expect(readFileSync(path.join(root, 'b.ipxe'), 'utf8')).toBe('B');
  });
});
