import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { _electron as electron, expect, test } from '@playwright/test';

// Electron-only tests: they need the Electron binary, which cannot be downloaded on machines
// without GitHub access (ELECTRON_SKIP_BINARY_DOWNLOAD=1). There they skip with this reason.
// The binary is found from the package's path.txt, never by require('electron'): since Electron
// 42 that require downloads the binary when it is missing (traffic to GitHub from a test).
function electronBinary(): { path?: string; reason?: string } {
  const dir = path.resolve('node_modules/electron');
  const pathTxt = path.join(dir, 'path.txt');
  if (!existsSync(pathTxt)) return { reason: 'the Electron binary is not installed (npm install ran with ELECTRON_SKIP_BINARY_DOWNLOAD=1)' };
  const p = path.join(dir, 'dist', readFileSync(pathTxt, 'utf8').trim());
  return existsSync(p) ? { path: p } : { reason: `the Electron binary is not installed (${p} is missing)` };
}
const bin = electronBinary();
if (!bin.path) process.stdout.write(`SKIP electron.spec.ts: ${bin.reason}\n`);

const MAIN = path.resolve('out/main/index.js');
/** The app with a fresh profile (projects, secrets, known hosts) of its own. */
const launch = () => electron.launch({ executablePath: bin.path!, args: [MAIN, `--user-data-dir=${mkdtempSync(path.join(os.tmpdir(), 'bc-electron-'))}`] });

test.describe('Electron app', () => {
  test.skip(!bin.path, bin.reason ?? '');

  test('launches locked down and shows the Start screen', async () => {
    const app = await electron.launch({ executablePath: bin.path!, args: [path.resolve('out/main/index.js')] });
    const win = await app.firstWindow();
    await expect(win.getByTestId('step-start')).toBeVisible();
    await expect(win.getByTestId('app-info')).toContainText('electron');
    // Sandboxed, isolated renderer: no Node, only the typed API from the preload.
    const seen = await win.evaluate(() => {
      const g = globalThis as { require?: unknown; process?: unknown; api?: Record<string, unknown> };
      return { require: typeof g.require, process: typeof g.process, api: Object.keys(g.api ?? {}).sort() };
    });
    expect(seen.require).toBe('undefined');
    expect(seen.process).toBe('undefined');
    expect(seen.api).toContain('scan:start');
    // Navigation away from the app is refused.
    await win.evaluate(() => {
      (globalThis as unknown as { location: { href: string } }).location.href = 'https://example.invalid/';
    });
    await expect(win.getByTestId('step-start')).toBeVisible();
    await app.close();
  });

  test("the wizard's first step: Scan with instant validation, later steps locked", async () => {
    const app = await launch();
    const win = await app.firstWindow();
    await win.getByTestId('start-new').click();
    await expect(win.getByTestId('step-scan')).toBeVisible();
    await expect(win.getByTestId('subnets')).toBeVisible();
    await expect(win.getByTestId('nav-target')).toBeDisabled();
    await expect(win.getByTestId('next')).toBeDisabled();
    // Validation only: nothing is scanned (no network traffic from this test).
    await win.getByTestId('scan-targets').fill('192.168.1.0/24, 10.0.0.300');
    await expect(win.getByTestId('scan-form-error')).toContainText('300 is larger than 255');
    await win.getByTestId('scan-targets').fill('8.8.8.0/24');
    await expect(win.getByTestId('confirm-public')).toBeVisible();
    await app.close();
  });

  test('security settings hold in the running app', async () => {
    const app = await launch();
    const win = await app.firstWindow();
    await expect(win.getByTestId('step-start')).toBeVisible();
    // No Node in the page, only the bridged API (contextBridge proxies print as native code).
    const seen = await win.evaluate(() => {
      const g = globalThis as unknown as Record<string, unknown> & { api: Record<string, unknown> };
      return { require: typeof g.require, process: typeof g.process, module: typeof g.module, ipc: typeof g.ipcRenderer, bridged: String(g.api['app:info']) };
    });
    expect(seen).toMatchObject({ require: 'undefined', process: 'undefined', module: 'undefined', ipc: 'undefined' });
    expect(seen.bridged).toContain('[native code]');
    // The CSP (meta and header) blocks inline script.
    const csp = await win.evaluate(() => {
      const d = (globalThis as unknown as { document: { querySelector(q: string): { getAttribute(a: string): string | null } | null; createElement(t: string): { textContent: string }; head: { appendChild(n: unknown): void }; body: { dataset: Record<string, string | undefined> } } }).document;
      const meta = d.querySelector('meta[http-equiv="Content-Security-Policy"]')?.getAttribute('content') ?? '';
      const s = d.createElement('script');
      s.textContent = 'document.body.dataset.inline = "ran"';
      d.head.appendChild(s);
      return { meta, inline: d.body.dataset.inline ?? 'blocked' };
    });
    expect(csp.meta).toContain("script-src 'self'");
    expect(csp.inline).toBe('blocked');
    // Permission requests are denied; new windows are denied (an allow-listed link would go to the browser).
    expect(await win.evaluate(() => (globalThis as unknown as { Notification: { requestPermission(): Promise<string> } }).Notification.requestPermission())).toBe('denied');
    await win.evaluate(() => void (globalThis as unknown as { open(u: string, t: string): unknown }).open('https://example.invalid/', '_blank'));
    await win.waitForTimeout(300);
    expect(app.windows()).toHaveLength(1);
    // Single instance: a second start hands over to this one and exits.
    const second = spawn(bin.path!, [MAIN], { stdio: 'ignore' });
    expect(await new Promise((r) => second.on('exit', (code) => r(code)))).toBe(0);
    expect(app.windows()).toHaveLength(1);
    // Secrets: safeStorage's backend is reported; basic_text comes with its warning.
    const st = await win.evaluate(() => (globalThis as unknown as { api: Record<string, (i: unknown) => Promise<{ ok: boolean; value: { backend: string; warning?: string } }>> }).api['secrets:status']!({}));
    expect(st.ok).toBe(true);
    expect(['keychain', 'basic_text', 'session']).toContain(st.value.backend);
    if (st.value.backend === 'basic_text') expect(st.value.warning).toMatch(/basic_text.*protects nothing/);
    await app.close();
  });
});
