import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { checkLabSftp, reachBuild } from '../pages/flow';
import { labOrSkipReason, screenshotDir } from '../support/lab-guard';

const lab = labOrSkipReason('upload.spec.ts');
const SHOTS = screenshotDir();
const fingerprintOf = (pub: string) => execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pub], { encoding: 'utf8' }).split(' ')[1]!;

// The Upload step against the lab NAS's real sshd (the sftp-only, chrooted account: its /tftp is
// what the lab's tftpd-hpa serves), through the browser harness running the real services.
test.describe('Upload step', () => {
  test.skip(!lab, 'needs the lab: run npm test');

  test('fingerprint prompt, plan, progress, verified upload served by TFTP, rollback; a changed key is refused', async ({ page }) => {
    const L = lab!;
    const S = L.ssh;
    // First contact for this app: forget what other specs of this run trusted.
    rmSync(path.join(process.env.BOOTCHAIN_DATA_DIR!, 'known_hosts'), { force: true });
    const progress: string[] = [];
    page.on('websocket', (ws) =>
      ws.on('framereceived', (f) => {
        const text = typeof f.payload === 'string' ? f.payload : f.payload.toString();
        if (text.includes('"kind":"upload"') && text.includes('"type":"progress"')) progress.push(text);
      }),
    );
    await reachBuild(page, L);
    await page.getByTestId('build-skip').check();
    await page.getByTestId('next').click();
    await expect(page.getByTestId('step-upload')).toBeVisible();
    await checkLabSftp(page, L);

    await expect(page.getByTestId('hostkey-prompt')).toBeVisible();
    await expect(page.getByTestId('hostkey-fingerprint')).toHaveText(fingerprintOf(S.hostKeyPub));
    await page.screenshot({ path: `${SHOTS}/upload-1-fingerprint.png`, fullPage: true });
    await page.getByTestId('hostkey-trust').click();
    await expect(page.getByTestId('hostkey-trusted')).toBeVisible();

    await expect(page.getByTestId('upload-plan')).toBeVisible();
    const perMac = '52-54-00-12-34-56.ipxe';
    await expect(page.getByTestId('plan-row').filter({ hasText: perMac })).toContainText('new');
    await page.screenshot({ path: `${SHOTS}/upload-2-plan.png`, fullPage: true });
    await page.getByTestId('upload-start').click();

    await expect(page.getByTestId('upload-result')).toBeVisible();
    const row = page.getByTestId('uploaded-file').filter({ hasText: perMac });
    await expect(row).toContainText('read back and checked');
    await expect(row).toContainText('served by TFTP');
    // Progress reached the page (throttled to ~10/s, so a fast upload may show only some phases).
    expect(progress.length).toBeGreaterThan(0);
    await expect(page.getByTestId('upload-log')).toContainText(`added ${perMac}`);
    const served = readFileSync(path.join(L.nas.tftpRoot, perMac), 'utf8');
    expect(served).toContain('sanboot');
    expect(served).toContain('52:54:00:12:34:56');
    await page.screenshot({ path: `${SHOTS}/upload-3-done.png`, fullPage: true });
    await expect(page.getByTestId('next')).toBeEnabled();

    await page.getByTestId('upload-rollback').click();
    await expect(page.getByTestId('upload-rolled-back')).toContainText(`removed ${perMac}`);
    expect(existsSync(path.join(L.nas.tftpRoot, perMac))).toBe(false);

    // The key's passphrase went to the session's vault after the upload (no keychain in the
    // harness): an empty field takes it again, and the encrypted key logs in.
    await expect(page.getByTestId('secrets-notice')).toHaveAttribute('data-backend', 'session');
    await page.getByTestId('upload-passphrase').fill('');
    await page.getByTestId('upload-check').click();
    await expect(page.getByTestId('upload-plan')).toBeVisible();
    await expect(page.getByTestId('upload-passphrase')).not.toHaveValue('');

    // Someone swaps the server's key: the step refuses loudly, with both fingerprints.
    const known = path.join(process.env.BOOTCHAIN_DATA_DIR!, 'known_hosts');
    const trusted = readFileSync(known, 'utf8');
    const other = path.join(mkdtempSync(path.join(os.tmpdir(), 'bc-e2e-key-')), 'k');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const pub = readFileSync(`${other}.pub`, 'utf8').split(' ');
    writeFileSync(known, `${S.host} ${pub[0]} ${pub[1]}\n`);
    try {
      await page.getByTestId('upload-check').click();
      await expect(page.getByTestId('hostkey-changed')).toContainText(fingerprintOf(`${other}.pub`));
      await expect(page.getByTestId('hostkey-changed')).toContainText(fingerprintOf(S.hostKeyPub));
      await expect(page.getByTestId('upload-plan')).toHaveCount(0);
      await page.screenshot({ path: `${SHOTS}/upload-4-key-changed.png`, fullPage: true });
    } finally {
      writeFileSync(known, trusted);
    }
  });

  test('serve from this computer: TFTP and HTTP of the project files, live panel, refusals counted, timeline in Diagnostics', async ({ page }) => {
    const L = lab!;
    await reachBuild(page, L);
    await page.getByTestId('build-skip').check();
    await page.getByTestId('next').click();
    await expect(page.getByTestId('serve-address')).toHaveValue(L.desk.ip);
    await page.getByTestId('serve-switch').check();
    await expect(page.getByTestId('serve-events')).toContainText('listening');
    const tftp = execFileSync('curl', ['-sf', '--tftp-blksize', '1432', `tftp://${L.desk.ip}/default.ipxe`], { encoding: 'utf8' });
    expect(tftp).toContain('#!ipxe');
    const http = execFileSync('curl', ['-sf', `http://${L.desk.ip}:8080/52-54-00-12-34-56.ipxe`], { encoding: 'utf8' });
    expect(http).toContain('sanboot');
    // Stock iPXE was chosen: the server serves Debian's undionly.kpxe (byte for byte), not only the scripts.
    const kpxe = execFileSync('curl', ['-sf', '--tftp-blksize', '1432', `tftp://${L.desk.ip}/undionly.kpxe`]);
    expect(kpxe.equals(readFileSync('/usr/lib/ipxe/undionly.kpxe'))).toBe(true);
    let refused = '';
    try {
      execFileSync('curl', ['-sf', '--path-as-is', `http://${L.desk.ip}:8080/../../etc/passwd`], { encoding: 'utf8' });
    } catch (e) {
      refused = String((e as { status?: number }).status);
    }
    expect(refused).not.toBe('');
    await expect(page.getByTestId('serve-files')).toHaveText('3');
    await expect(page.getByTestId('serve-errors')).toHaveText('1');
    await expect(page.getByTestId('serve-events')).toContainText('/52-54-00-12-34-56.ipxe');
    await page.screenshot({ path: `${SHOTS}/upload-5-serving.png`, fullPage: true });
    await page.getByTestId('nav-diagnostics').click();
    await expect(page.getByTestId('diag-timeline')).toContainText('default.ipxe');
    await page.getByTestId('nav-upload').click();
    await page.getByTestId('serve-switch').uncheck();
    await expect(page.getByTestId('serve-switch')).not.toBeChecked();
    await expect
      .poll(() => {
        try {
          execFileSync('curl', ['-sf', '-m', '2', `http://${L.desk.ip}:8080/default.ipxe`]);
          return 'still serving';
        } catch {
          return 'stopped';
        }
      })
      .toBe('stopped');
  });
});
