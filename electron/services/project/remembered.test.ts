import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { ProjectStore } from './store';
import { SAMPLE_SECRETS, sampleProject } from '../../../shared/gen/fixtures';
import { loadProject } from '../../../shared/model/project';
import { fingerprintOf, Remembered } from '../../../shared/model/remembered';

const sha = 'a'.repeat(64);
const remembered: RememberedInput = {
  upload: { kind: 'ssh', host: '10.77.0.20', port: '2222', user: 'admin', root: '/srv/tftp', auth: 'key', keyPath: '/home/me/.ssh/id_ed25519', folder: '' },
  build: { engine: 'local', sourceKind: 'dir', sourcePath: '/home/me/ipxe', targets: ['bios', 'uefi'], serialConsole: false, https: true, noBuild: false },
  lastBuild: { inputs: '0123456789abcdef', at: '2026-12-01T23:00:00.000Z', artifacts: [{ target: 'bin/undionly.kpxe', file: 'undionly.kpxe', size: 70000, sha256: sha, embeddedVerified: true }], kind: 'full', compiled: 900, durationMs: 60000, manifest: 'm1', engine: 'local', version: '1.21.1', outDir: '/data/build/homelab' },
  lastUpload: { inputs: 'fedcba9876543210', at: '2026-12-01T23:05:00.000Z', target: 'admin@10.77.0.20:/srv/tftp', files: [{ file: 'undionly.kpxe', bytes: 70000, sha256: sha }], tftpOk: true },
};
type RememberedInput = z.input<typeof Remembered> & { upload: NonNullable<z.input<typeof Remembered>['upload']> };

describe('remembered settings in the project file', () => {
  it('round trip: saved and loaded again, the same values', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-remember-'));
    const store = new ProjectStore(dir);
    const saved = store.save(sampleProject({ remembered }));
    const back = store.load(saved.name);
    expect(back.remembered).toEqual(remembered);
    expect(loadProject(JSON.parse(JSON.stringify(back))).ok).toBe(true);
  });

  it('an older project file (written by the code before this block) still loads, without it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-remember-old-'));
    const text = readFileSync(path.join(__dirname, 'testdata-project-v1-before-remembered.json'), 'utf8');
    expect(text).not.toContain('"remembered"');
    const store = new ProjectStore(dir);
    mkdirSync(store.dir, { recursive: true });
    writeFileSync(path.join(store.dir, 'before-remembered.json'), text);
    const p = store.load('before-remembered');
    expect(p.name).toBe('before-remembered');
    expect(p.remembered).toBeUndefined();
    expect(p.workstations?.length).toBeGreaterThan(0);
  });

  it('holds no secret: a password, a passphrase or a CHAP secret is refused, and a saved file holds none', () => {
    for (const extra of [{ password: 'hunter2hunter2' }, { passphrase: 'open sesame' }, { secret: 'x' }]) {
      expect(Remembered.safeParse({ upload: { ...remembered.upload, ...extra } }).success).toBe(false);
      expect(loadProject(sampleProject({ remembered: { upload: { ...remembered.upload, ...extra } } as never })).ok).toBe(false);
    }
    expect(Remembered.safeParse({ ...remembered, chapSecrets: SAMPLE_SECRETS }).success).toBe(false);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-remember-nosecret-'));
    const saved = new ProjectStore(dir).save(sampleProject({ remembered }));
    const text = readFileSync(saved.path, 'utf8');
    for (const s of Object.values(SAMPLE_SECRETS)) expect(text).not.toContain(s);
    expect(text).not.toMatch(/"(password|passphrase)"/);
  });

  it('a bad path or host in the block is named by its field', () => {
    const r = loadProject(sampleProject({ remembered: { upload: { ...remembered.upload, keyPath: 'relative/key' } } }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]?.field).toBe('remembered.upload.keyPath');
  });

  it('the fingerprint changes with its input', () => {
    expect(fingerprintOf('a')).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprintOf('a')).not.toBe(fingerprintOf('b'));
    expect(fingerprintOf('é')).toBe(fingerprintOf('é'));
  });
});
