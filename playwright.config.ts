import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defineConfig } from '@playwright/test';

// Playwright drives Debian's Chromium against the browser harness, which runs the real
// services. `npm test` runs this inside the lab's desk namespace.
const port = Number(process.env.BOOTCHAIN_E2E_PORT ?? 47823);
process.env.BOOTCHAIN_HARNESS_TOKEN ??= randomBytes(16).toString('hex');
// Saved projects of the e2e runs go to a throwaway folder, never the user's.
process.env.BOOTCHAIN_DATA_DIR ??= mkdtempSync(path.join(os.tmpdir(), 'bootchain-e2e-data-'));

export default defineConfig({
  testDir: 'e2e/specs',
  outputDir: 'e2e/artifacts/test-results',
  timeout: 60000,
  expect: { timeout: 15000 },
  workers: 1,
  fullyParallel: false,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: {
    command: `node out/main/harness.js --port ${port}`,
    url: `http://127.0.0.1:${port}/`,
    reuseExistingServer: false,
    timeout: 30000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
