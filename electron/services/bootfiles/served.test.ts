import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SAMPLE_SECRETS, sampleProject } from '../../../shared/gen/fixtures';
import { loadProject, type Project } from '../../../shared/model/project';
import { sha256 } from './hash';
import { writeManifest } from './manifest';
import { placeFiles, servedFiles } from './served';
import { STOCK_IPXE } from '../../../shared/build';

// Debian's ipxe package: real iPXE binaries built by Debian, not by Bootchain.
const debianIpxe = existsSync(STOCK_IPXE.bios) && existsSync(STOCK_IPXE.uefi);
if (!debianIpxe) process.stdout.write(`SKIP served.test.ts (stock binaries): Debian's ipxe package is not installed (${STOCK_IPXE.bios}); apt install ipxe\n`);

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

  it.skipIf(!debianIpxe)("with stock iPXE chosen: Debian's binaries under the names DHCP hands out, for the stations' firmware", () => {
    const p = project();
    const firmwares = new Set(p.workstations.map((w) => w.firmware));
    expect(firmwares).toEqual(new Set(['bios', 'uefi']));
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-served-'));
    const s = servedFiles(p, SAMPLE_SECRETS, dir, {});
    expect(s.files[p.boot.biosFile]).toEqual(readFileSync(STOCK_IPXE.bios));
    expect(s.files[p.boot.uefiFile]).toEqual(readFileSync(STOCK_IPXE.uefi));
    expect(s.files['default.ipxe']).toBeDefined();
    expect(s.notes).toEqual([]);
    // BIOS stations only: no UEFI binary is sent.
    const bios = { ...p, workstations: p.workstations.filter((w) => w.firmware === 'bios') };
    expect(Object.keys(servedFiles(bios, SAMPLE_SECRETS, dir, {}).files)).not.toContain(p.boot.uefiFile);
  });

  it('with stock iPXE chosen but not installed: the scripts still, and a note that says how to get it', () => {
    const s = servedFiles(project(), SAMPLE_SECRETS, undefined, { paths: { bios: '/nonexistent/undionly.kpxe', uefi: '/nonexistent/snponly.efi' } });
    expect(Object.keys(s.files).sort()).toEqual(['52-54-00-12-34-56.ipxe', '52-54-00-ab-cd-ef.ipxe', 'autoexec.ipxe', 'default.ipxe']);
    expect(s.notes).toHaveLength(2);
    expect(s.notes[0]).toMatch(/not on this computer \(\/nonexistent\/undionly\.kpxe\): install Debian's or Ubuntu's ipxe package \(apt install ipxe\)/);
  });
});
