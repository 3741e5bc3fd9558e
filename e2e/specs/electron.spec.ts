import { existsSync } from 'node:fs';
import path from 'node:path';
import { _electron as electron, expect, test } from '@playwright/test';

// Electron-only tests: they need the Electron binary, which cannot be downloaded on machines
// without GitHub access (ELECTRON_SKIP_BINARY_DOWNLOAD=1). There they skip with this reason.
function electronBinary(): { path?: string; reason?: string } {
  try {
    // The electron package's main export is the binary's path; it throws when none was installed.
    const p = require('electron') as unknown as string;
    if (typeof p === 'string' && existsSync(p)) return { path: p };
    return { reason: `the Electron binary is not installed (${String(p)})` };
  } catch (e) {
    return { reason: `the Electron binary is not installed: ${(e as Error).message.split('\n')[0]}` };
  }
}
const bin = electronBinary();
if (!bin.path) process.stdout.write(`SKIP electron.spec.ts: ${bin.reason}\n`);

test.describe('Electron app', () => {
  test.skip(!bin.path, bin.reason ?? '');

  test('launches locked down and shows the Scan step', async () => {
    const app = await electron.launch({ executablePath: bin.path!, args: [path.resolve('out/main/index.js')] });
    const win = await app.firstWindow();
    await expect(win.getByTestId('step-scan')).toBeVisible();
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
    await expect(win.getByTestId('step-scan')).toBeVisible();
    await app.close();
  });
});
