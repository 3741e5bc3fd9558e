import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { CHAIN_LINKS } from '../../shared/verify';
import { applyDnsmasqSnippet } from '../lab/router-apply';
import { checkLabSftp } from '../pages/flow';
import { TargetPage } from '../pages/target-page';
import { axeCounts } from '../support/axe';
import { tabTo } from '../support/keyboard';
import { labOrSkipReason, screenshotDir } from '../support/lab-guard';

const lab = labOrSkipReason('first-timer.spec.ts');
const SHOTS = screenshotDir();
// Not 52:54:00:b0:* (the lab router leaves those to the boot tests' own DHCP servers).
const MAC = '52:54:00:c7:01:01';
const PER_MAC = '52-54-00-c7-01-01.ipxe';

/** axe on the step as it is: counts printed, a screenshot kept, no serious or critical violation. */
async function checkStep(page: Page, step: string): Promise<void> {
  await page.screenshot({ path: `${SHOTS}/first-timer-${step}.png`, fullPage: true });
  const c = await axeCounts(page, `first-timer ${step}`);
  expect(c.worst, `axe: serious or critical violations on ${step}`).toEqual([]);
}


// A first-time user, at a small laptop's window size, from the start screen to an all-green
// Verify against the lab, with only what the screen shows: no IQN typed (the disk is chosen from
// the discovered targets), the router's snippet applied to the lab router the way the Router
// step says, "Check my router" green, stock iPXE binaries uploaded over SFTP.
test.describe('First-timer', () => {
  test.skip(!lab, 'needs the lab: run npm test');
  test.use({ viewport: { width: 1024, height: 700 } });

  test('start screen to a green Verify using only visible controls', async ({ page }) => {
    test.setTimeout(240_000);
    const L = lab!;
    rmSync(path.join(process.env.BOOTCHAIN_DATA_DIR!, 'known_hosts'), { force: true });
    rmSync(path.join(L.nas.tftpRoot, PER_MAC), { force: true });
    const bootFile = path.join(L.nas.tftpRoot, 'undionly.kpxe');
    const hadBootFile = existsSync(bootFile);

    await page.goto(`/#token=${process.env.BOOTCHAIN_HARNESS_TOKEN}`);
    await expect(page.getByTestId('step-start')).toBeVisible();
    await checkStep(page, '0-start');
    await page.getByTestId('start-new').click();

    // Scan: the NAS's address, Scan, Next.
    await expect(page.getByTestId('step-scan')).toBeVisible();
    await page.getByTestId('scan-targets').fill(L.nas.ips[0]!);
    await page.getByTestId('scan-start').click();
    await expect(page.getByTestId('scan-summary')).toBeVisible();
    await checkStep(page, '1-scan');
    await page.getByTestId('next').click();

    // Target: discover, choose the disk that boots.
    const tp = new TargetPage(page);
    await tp.discover.click();
    const row = await tp.settled(L.iscsi.targets.boot);
    await checkStep(page, '2-target');
    await row.getByTestId('choose-target').click();
    // The boot disk already holds a system: the step asks before using it.
    await expect(page.getByTestId('confirm-dialog')).toContainText('not empty');
    await page.getByTestId('confirm-yes').click();
    await expect(page.getByTestId('chosen-target')).toBeVisible();
    await page.getByTestId('next').click();

    // Identity: the NAS address comes from the chosen portal; the disk is picked, not typed.
    await expect(page.getByTestId('step-identity')).toBeVisible();
    await expect(page.getByTestId('nas-address')).toHaveValue(L.nas.ips[0]!);
    await page.getByTestId('add-workstation').click();
    const ws = page.getByTestId('workstation').first();
    await ws.getByTestId('ws-mac').fill(MAC);
    // The list names each disk by the last part of its IQN, its size, LUN and what it holds.
    await ws.getByTestId('ws-disk').selectOption(L.iscsi.targets.boot);
    await expect(ws.getByTestId('ws-target')).toHaveValue(L.iscsi.targets.boot);
    await expect(ws.getByTestId('ws-lun')).toHaveValue('1'); // tgt: LUN 0 is the controller
    await expect(ws.getByTestId('ws-script-name')).toContainText(PER_MAC);
    await checkStep(page, '3-identity');
    await page.getByTestId('next').click();

    // Router: dnsmasq; its one snippet, applied as the step says; Check my router green.
    await expect(page.getByTestId('step-router')).toBeVisible();
    await page.getByTestId('router-kind').selectOption('dnsmasq');
    await expect(page.getByTestId('router-where')).toContainText('dnsmasq');
    const snippet = await page.getByTestId('router-text').textContent();
    expect(snippet).toContain('dhcp-userclass=set:ipxe,iPXE');
    const applied = await applyDnsmasqSnippet(L, snippet!);
    try {
      await page.getByTestId('router-check').click();
      for (const fw of ['bios', 'uefi']) await expect(page.getByTestId(`router-check-${fw}`)).toHaveAttribute('data-status', 'pass', { timeout: 60_000 });
      await checkStep(page, '4-router');
      await page.getByTestId('next').click();

      // Build: stock iPXE binaries (CI cannot compile iPXE); the step says what Upload sends.
      await expect(page.getByTestId('step-build')).toBeVisible();
      await page.getByTestId('build-skip').check();
      await checkStep(page, '5-build');
      await page.getByTestId('next').click();

      // Upload over SFTP to the NAS (the lab's chrooted account), the host key trusted on sight.
      await expect(page.getByTestId('step-upload')).toBeVisible();
      // An empty host is the project's NAS, and the field says which.
      await expect(page.getByTestId('upload-host')).toHaveAttribute('placeholder', `${L.nas.ips[0]} (the project's NAS)`);
      await checkLabSftp(page, L);
      await page.getByTestId('hostkey-trust').click();
      await expect(page.getByTestId('upload-plan')).toBeVisible();
      // Stock iPXE was chosen: Upload sends Debian's undionly.kpxe too, not only the scripts.
      await expect(page.getByTestId('plan-row').filter({ hasText: /^undionly\.kpxe/ })).toBeVisible();
      await page.getByTestId('upload-start').click();
      await expect(page.getByTestId('uploaded-file').filter({ hasText: PER_MAC })).toContainText('served by TFTP', { timeout: 60_000 });
      expect(readFileSync(bootFile)).toEqual(readFileSync('/usr/lib/ipxe/undionly.kpxe'));
      await checkStep(page, '6-upload');
      await page.getByTestId('next').click();

      // Verify: every link of the chain green against the live servers.
      await page.getByTestId('verify-start').click();
      await expect(page.getByTestId('verify-summary')).toContainText('every link holds', { timeout: 60_000 });
      for (const l of CHAIN_LINKS) await expect(page.getByTestId(`node-${l.id}`)).toHaveAttribute('data-status', 'pass');
      await checkStep(page, '7-verify');
      await page.getByTestId('next').click();
      await expect(page.getByTestId('step-done')).toBeVisible();
      await checkStep(page, '8-done');
    } finally {
      await applied.restore();
      rmSync(path.join(L.nas.tftpRoot, PER_MAC), { force: true });
      if (!hadBootFile) rmSync(bootFile, { force: true });
    }
  });

  test('Identity by keyboard only: add a workstation, type its MAC, pick its disk', async ({ page }) => {
    const L = lab!;
    await page.goto(`/#token=${process.env.BOOTCHAIN_HARNESS_TOKEN}`);
    await page.getByTestId('start-new').click();
    await page.getByTestId('scan-targets').fill(L.nas.ips[0]!);
    await page.getByTestId('scan-start').click();
    await expect(page.getByTestId('scan-summary')).toBeVisible();
    await page.getByTestId('next').click();
    const tp = new TargetPage(page);
    await tp.discover.click();
    await (await tp.settled(L.iscsi.targets.boot)).getByTestId('choose-target').click();
    await page.getByTestId('confirm-yes').click();
    await page.getByTestId('next').click();
    await expect(page.getByTestId('step-identity')).toBeVisible();
    // From here on only the keyboard.
    await page.getByTestId('step-identity').focus().catch(() => undefined);
    await tabTo(page, 'add-workstation');
    await page.keyboard.press('Enter');
    await tabTo(page, 'ws-mac');
    await page.keyboard.type(MAC);
    await tabTo(page, 'ws-disk');
    // Arrow keys move through a select's options without opening it.
    for (let i = 0; i < 20 && (await page.getByTestId('ws-target').inputValue()) !== L.iscsi.targets.boot; i++) await page.keyboard.press('ArrowDown');
    await expect(page.getByTestId('ws-target')).toHaveValue(L.iscsi.targets.boot);
    await expect(page.getByTestId('ws-script-name')).toContainText(PER_MAC);
    await expect(page.getByTestId('next')).toBeEnabled();
    await page.screenshot({ path: `${SHOTS}/first-timer-identity-keyboard.png`, fullPage: true });
  });
});
