import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// `npm start` on a machine without the Electron binary (this one: installed with
// ELECTRON_SKIP_BINARY_DOWNLOAD=1) starts the browser harness, says why, prints its URL, and the
// URL serves the app. The Electron path needs the binary, which cannot be had here.
const root = path.resolve(__dirname, '..');
const built = existsSync(path.join(root, 'out/main/harness.js'));
const hasElectron = existsSync(path.join(root, 'node_modules/electron/path.txt'));
if (!built) process.stdout.write('SKIP start.test.ts: out/ is not built (npm run build)\n');
if (hasElectron) process.stdout.write('SKIP start.test.ts: the Electron binary is installed, npm start would open the desktop app\n');

const get = (url: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });

describe.skipIf(!built || hasElectron)('npm start without the Electron binary', () => {
  it('starts the harness on loopback, says why, prints a URL that serves the app', { timeout: 30_000 }, async () => {
    const child = spawn(process.execPath, [path.join(root, 'scripts/start.mjs'), '--port', '0'], { cwd: root, env: { ...process.env, BOOTCHAIN_START_SKIP_BUILD: '1', BOOTCHAIN_NO_BROWSER: '1' } });
    let out = '';
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /Bootchain harness: (http:\/\/127\.0\.0\.1:\d+\/#token=\S+)/.exec(out);
          if (m && out.includes('open the URL above yourself')) resolve(m[1]!);
        });
        child.on('exit', (code) => reject(new Error(`start exited ${code}: ${out}`)));
      });
      expect(out).toMatch(/the Electron binary is not installed/);
      expect(out).toMatch(/runs in your browser instead/);
      const page = await get(url.replace(/#.*$/, ''));
      expect(page.status).toBe(200);
      expect(page.body).toMatch(/<div id="root">|<title>Bootchain/);
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
