// Validates the electron-builder config offline: `--linux dir` with a stub Electron
// (no Electron binary can be downloaded here), then checks what went into app.asar, the fuses
// electron-builder flipped in the (stub) binary, the resources beside it, and every icon file.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const root = path.resolve(import.meta.dirname, '..');
const version = JSON.parse(readFileSync(path.join(root, 'node_modules/electron/package.json'), 'utf8')).version;
const stub = mkdtempSync(path.join(os.tmpdir(), 'bc-electron-stub-'));
// The stub carries a fuse wire as Electron 41 ships it (sentinel, version 1, 8 fuses:
// RunAsNode on, cookie encryption off, NODE_OPTIONS on, --inspect on, asar integrity off,
// only-asar off, browser V8 snapshot off, file:// privileges on) so the fuse step really runs.
const { SENTINEL } = require('@electron/fuses/dist/constants.js');
writeFileSync(
  path.join(stub, 'electron'),
  Buffer.concat([Buffer.from('#!/bin/sh\necho "stub electron: packaging check only" >&2\nexit 1\n# '), Buffer.from(SENTINEL), Buffer.from([1, 8]), Buffer.from('10110001'), Buffer.from('\n')]),
);
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
  const helper = path.join(out, 'linux-unpacked/resources/privileges/bootchain-grant');
  check(existsSync(helper) && (statSync(helper).mode & 0o111) !== 0, 'resources/privileges/bootchain-grant ships beside the app, executable');
  const exe = path.join(out, 'linux-unpacked/bootchain');
  check(existsSync(exe), 'the executable is named bootchain');
  const { getCurrentFuseWire } = require('@electron/fuses');
  const wire = await getCurrentFuseWire(exe);
  const [OFF, ON] = [48, 49];
  for (const [i, name, want] of [
    [0, 'RunAsNode', OFF],
    [1, 'EnableCookieEncryption', ON],
    [2, 'EnableNodeOptionsEnvironmentVariable', OFF],
    [3, 'EnableNodeCliInspectArguments', OFF],
    [5, 'OnlyLoadAppFromAsar', ON],
  ]) check(wire[i] === want, `fuse ${name} is ${want === ON ? 'on' : 'off'} in the packaged binary`);
} catch (e) {
  check(false, `electron-builder --linux dir: ${e.message}`);
}

// Icons: the sizes each platform's installer takes, rendered from build/icon.svg.
try {
  const pngSize = (buf) => (buf.subarray(1, 4).toString() === 'PNG' ? [buf.readUInt32BE(16), buf.readUInt32BE(20)] : [0, 0]);
  const b = (f) => readFileSync(path.join(root, 'build', f));
  check(pngSize(b('icon.png')).join('x') === '1024x1024', 'build/icon.png is a 1024x1024 PNG');
  for (const n of [16, 24, 32, 48, 64, 128, 256, 512]) check(pngSize(b(`icons/${n}x${n}.png`)).join('x') === `${n}x${n}`, `build/icons/${n}x${n}.png is ${n}x${n}`);
  const ico = b('icon.ico');
  const entries = Array.from({ length: ico.readUInt16LE(4) }, (_, i) => {
    const e = 6 + 16 * i;
    const img = ico.subarray(ico.readUInt32LE(e + 12), ico.readUInt32LE(e + 12) + ico.readUInt32LE(e + 8));
    return { n: ico[e] || 256, png: pngSize(img)[0] };
  });
  check(ico.readUInt16LE(2) === 1 && entries.some((e) => e.n === 256) && entries.every((e) => e.n === e.png), `build/icon.ico holds ${entries.map((e) => e.n).join(', ')} px`);
  const icns = b('icon.icns');
  const types = [];
  for (let o = 8; o < icns.length; o += icns.readUInt32BE(o + 4)) types.push(icns.subarray(o, o + 4).toString());
  check(icns.subarray(0, 4).toString() === 'icns' && icns.readUInt32BE(4) === icns.length && types.includes('ic10') && types.includes('ic07'), `build/icon.icns holds ${types.join(', ')}`);
} catch (e) {
  check(false, `icons: ${e.message}`);
} finally {
  rmSync(stub, { recursive: true, force: true });
}
process.stdout.write(`packaging: ${failed === 0 ? 'config valid' : `${failed} check(s) failed`}\n`);
process.exit(failed === 0 ? 0 : 1);
