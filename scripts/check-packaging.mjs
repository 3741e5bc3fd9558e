// Validates the electron-builder config offline: `--linux dir` with a stub Electron
// (no Electron binary can be downloaded here), then checks what went into app.asar.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const root = path.resolve(import.meta.dirname, '..');
const version = JSON.parse(readFileSync(path.join(root, 'node_modules/electron/package.json'), 'utf8')).version;
const stub = mkdtempSync(path.join(os.tmpdir(), 'bc-electron-stub-'));
writeFileSync(path.join(stub, 'electron'), '#!/bin/sh\necho "stub electron: packaging check only" >&2\nexit 1\n');
chmodSync(path.join(stub, 'electron'), 0o755);
writeFileSync(path.join(stub, 'version'), version);
const out = path.join(root, 'dist');
rmSync(path.join(out, 'linux-unpacked'), { recursive: true, force: true });

let failed = 0;
const check = (ok, what) => {
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
  if (!ok) failed++;
};
try {
  execFileSync(
    path.join(root, 'node_modules/.bin/electron-builder'),
    ['--linux', 'dir', '--config', 'build/electron-builder.yml', `-c.electronDist=${stub}`, `-c.electronVersion=${version}`, '--publish', 'never'],
    { cwd: root, stdio: 'inherit', env: { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1' } },
  );
  const asar = path.join(out, 'linux-unpacked/resources/app.asar');
  check(existsSync(asar), 'app.asar built');
  const { listPackage } = require('@electron/asar');
  const files = new Set(listPackage(asar, { isPack: false }).map((f) => f.replace(/\\/g, '/')));
  for (const f of ['/package.json', '/out/main/index.js', '/out/main/cli.js', '/out/main/harness.js', '/out/preload/index.js', '/out/renderer/index.html']) {
    check(files.has(f), `app.asar holds ${f}`);
  }
  for (const dep of ['zod', 'ws', 'node-ssh']) check(files.has(`/node_modules/${dep}/package.json`), `app.asar holds runtime dependency ${dep}`);
  for (const dev of ['vitest', 'electron', 'react', 'typescript']) check(!files.has(`/node_modules/${dev}/package.json`), `app.asar leaves out dev dependency ${dev}`);
  check(![...files].some((f) => f.startsWith('/e2e/') || f.startsWith('/renderer/src/')), 'app.asar holds no sources or tests');
  check(existsSync(path.join(out, 'linux-unpacked/resources/ipxe/Containerfile')), 'resources/ipxe/Containerfile ships beside the app');
} catch (e) {
  check(false, `electron-builder --linux dir: ${e.message}`);
} finally {
  rmSync(stub, { recursive: true, force: true });
}
process.stdout.write(`packaging: ${failed === 0 ? 'config valid' : `${failed} check(s) failed`}\n`);
process.exit(failed === 0 ? 0 : 1);
