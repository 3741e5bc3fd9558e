import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSource, treeDigest } from './source';

// Source download, checksum and cache against a local HTTP server started here, serving a
// STAND-IN source tarball (a tiny tree shaped like iPXE's; the real release cannot be fetched
// on these machines).
let server: http.Server;
let base = '';
let hits = 0;
let tarball = '';
let digest = '';

beforeAll(async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-src-'));
  const tree = path.join(dir, 'ipxe-9.9.9');
  mkdirSync(path.join(tree, 'src/include/ipxe'), { recursive: true });
  writeFileSync(path.join(tree, 'src/Makefile'), 'all:\n');
  writeFileSync(path.join(tree, 'src/core.c'), 'int x;\n');
  tarball = path.join(dir, 'ipxe-9.9.9.tar.gz');
  execFileSync('tar', ['-czf', tarball, '-C', dir, 'ipxe-9.9.9']);
  digest = treeDigest(tree);
  server = http.createServer((req, res) => {
    hits++;
    if (req.url === '/ipxe.tar.gz') {
      const body = readFileSync(tarball);
      res.writeHead(200, { 'Content-Length': body.length });
      res.end(body);
    } else if (req.url === '/moved') {
      res.writeHead(302, { Location: '/ipxe.tar.gz' }).end();
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const rep = () => {
  const phases: string[] = [];
  return { phases, rep: { signal: new AbortController().signal, progress: (p: { phase: string }) => phases.push(p.phase), log: () => undefined } };
};

describe('iPXE source: download, checksum, cache', () => {
  it('downloads (following a redirect), verifies, caches; the second time uses the cache', async () => {
    const cache = mkdtempSync(path.join(os.tmpdir(), 'bc-cache-'));
    const release = { version: 'v9.9.9', url: `${base}/moved`, treeDigest: digest };
    const a = rep();
    hits = 0;
    const r1 = await resolveSource({ kind: 'release', release }, cache, a.rep);
    expect(r1).toMatchObject({ version: 'v9.9.9', treeDigest: digest });
    expect(existsSync(path.join(r1.dir, 'src/Makefile'))).toBe(true);
    expect(a.phases).toContain('download');
    expect(hits).toBe(2);
    const r2 = await resolveSource({ kind: 'release', release }, cache, rep().rep);
    expect(r2.dir).toBe(r1.dir);
    expect(hits).toBe(2);
  });

  it('refuses a download whose files do not match the pinned digest, and keeps nothing', async () => {
    const cache = mkdtempSync(path.join(os.tmpdir(), 'bc-cache-'));
    const release = { version: 'v9.9.9', url: `${base}/ipxe.tar.gz`, treeDigest: '0'.repeat(64) };
    await expect(resolveSource({ kind: 'release', release }, cache, rep().rep)).rejects.toMatchObject({ appError: { code: 'INVALID_INPUT', message: expect.stringMatching(/does not match its pinned checksum/) } });
    expect(readdirSync(path.join(cache, 'sources'))).toEqual([]);
    await expect(resolveSource({ kind: 'release', release: { ...release, url: `${base}/missing` } }, cache, rep().rep)).rejects.toMatchObject({ appError: { code: 'UNREACHABLE' } });
  });

  it('takes a local tarball or folder (offline use)', async () => {
    const cache = mkdtempSync(path.join(os.tmpdir(), 'bc-cache-'));
    const t = await resolveSource({ kind: 'tarball', path: tarball, treeDigest: digest }, cache, rep().rep);
    expect(existsSync(path.join(t.dir, 'src/core.c'))).toBe(true);
    await expect(resolveSource({ kind: 'tarball', path: tarball, treeDigest: 'f'.repeat(64) }, mkdtempSync(path.join(os.tmpdir(), 'bc-cache-')), rep().rep)).rejects.toMatchObject({
      appError: { code: 'INVALID_INPUT' },
    });
    expect((await resolveSource({ kind: 'dir', path: t.dir }, cache, rep().rep)).dir).toBe(t.dir);
    await expect(resolveSource({ kind: 'dir', path: cache }, cache, rep().rep)).rejects.toMatchObject({ appError: { code: 'INVALID_INPUT' } });
  });
});
