// `npm start`: build, then run the Electron app. Where the Electron binary is missing — installed
// with ELECTRON_SKIP_BINARY_DOWNLOAD=1, or on a machine that cannot download it — the same app
// runs in the browser instead: the harness serves it on loopback, this prints its URL and opens
// the default browser (the `open` package: xdg-open, open, start). BOOTCHAIN_NO_BROWSER=1 only prints.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);

// BOOTCHAIN_START_SKIP_BUILD=1: out/ is already built (the test of this script, which must not
// rebuild out/ under the other tests' feet).
if (process.env.BOOTCHAIN_START_SKIP_BUILD !== '1') {
  const built = spawnSync(process.execPath, [path.join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

/** The Electron binary that `npm install` put in place, if it did (never downloads here). */
function electronBinary() {
  const dir = path.join(root, 'node_modules/electron');
  const pathTxt = path.join(dir, 'path.txt');
  if (!existsSync(pathTxt)) return undefined;
  const exe = path.join(dir, 'dist', readFileSync(pathTxt, 'utf8').trim());
  return existsSync(exe) ? exe : undefined;
}

const forward = (child) => {
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, sig) => process.exit(code ?? (sig ? 130 : 1)));
};

const exe = electronBinary();
if (exe) {
  forward(spawn(exe, [root, ...args], { cwd: root, stdio: 'inherit' }));
} else {
  process.stdout.write(
    'npm start: the Electron binary is not installed (npm install ran with ELECTRON_SKIP_BINARY_DOWNLOAD=1, or it could not be downloaded),\n' +
      '  so Bootchain runs in your browser instead: the same app and services, served on this computer only (loopback).\n' +
      '  To get the desktop app, run `npm install` where Electron can be downloaded. Stop with Ctrl-C.\n',
  );
  const child = spawn(process.execPath, [path.join(root, 'out/main/harness.js'), ...args], { cwd: root, stdio: ['inherit', 'pipe', 'inherit'] });
  let buf = '';
  let opened = false;
  child.stdout.on('data', async (d) => {
    process.stdout.write(d);
    buf += d.toString();
    const url = /Bootchain harness: (http:\/\/\S+)/.exec(buf)?.[1];
    if (!url || opened) return;
    opened = true;
    if (process.env.BOOTCHAIN_NO_BROWSER === '1') return void process.stdout.write('npm start: BOOTCHAIN_NO_BROWSER=1, open the URL above yourself.\n');
    try {
      const { default: open } = await import('open');
      const none = () => process.stdout.write('npm start: no browser could be started here (no desktop session?): open the URL above in one.\n');
      const browser = await open(url);
      browser.on('error', none);
      // The opener (xdg-open, open, start) exits at once: 0 once it has handed the URL over.
      browser.on('exit', (code) => (code === 0 ? process.stdout.write('npm start: opened it in your default browser (the URL carries the access token).\n') : none()));
    } catch {
      process.stdout.write('npm start: no browser could be started here: open the URL above in one.\n');
    }
  });
  forward(child);
}
