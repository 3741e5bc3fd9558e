import { expect, test } from '@playwright/test';
import { applyDnsmasqSnippet } from '../lab/router-apply';
import { reachIdentity } from '../pages/flow';
import { axeCounts } from '../support/axe';
import { labOrSkipReason, screenshotDir } from '../support/lab-guard';

const lab = labOrSkipReason('router.spec.ts');
const SHOTS = screenshotDir();

test.describe('Start screen and Router step', () => {
  test.skip(!lab, 'needs the lab: run npm test');
  test.use({ viewport: { width: 1024, height: 700 } });

  test("the start screen, then the Router step: one router's snippet, where it goes, and Check my router against the lab router", async ({ page }) => {
    const L = lab!;
    await page.goto(`/#token=${process.env.BOOTCHAIN_HARNESS_TOKEN}`);
    await expect(page.getByTestId('step-start')).toBeVisible();
    await page.screenshot({ path: `${SHOTS}/router-0-start.png`, fullPage: true });

    await reachIdentity(page, L);
    await page.getByTestId('iqn-domain').fill('bootchain.test');
    await page.getByTestId('iqn-date').fill('2026-11');
    await page.getByTestId('add-workstation').click();
    await page.getByTestId('workstation').first().getByTestId('ws-mac').fill('52:54:00:12:34:56');
    await page.getByTestId('next').click();
    await expect(page.getByTestId('step-router')).toBeVisible();

    // The lab router runs dnsmasq: its snippet alone, and where it goes.
    await page.getByTestId('router-kind').selectOption('dnsmasq');
    await expect(page.getByTestId('router-file')).toHaveText('dnsmasq.conf');
    await expect(page.getByTestId('router-where')).toContainText('/etc/dnsmasq.d/');
    await expect(page.getByTestId('router-text')).toContainText('dhcp-userclass=set:ipxe,iPXE');
    await expect(page.getByTestId('router-text')).not.toContainText('/ip dhcp-server');
    await expect(page.getByTestId('router-subnet-message')).toContainText('does not know your network yet');
    await page.screenshot({ path: `${SHOTS}/router-1-snippet.png`, fullPage: true });

    // Check my router: the lab router (not yet given the snippet) hands iPXE undionly.kpxe again: red, with the fix.
    await page.getByTestId('router-check').click();
    await expect(page.getByTestId('router-check-bios')).toHaveAttribute('data-status', /pass|fail/, { timeout: 30_000 });
    await expect(page.getByTestId('router-check-uefi')).toHaveAttribute('data-status', /pass|fail/, { timeout: 30_000 });
    await expect(page.getByTestId('router-check-bios')).toHaveAttribute('data-status', 'fail');
    await expect(page.getByTestId('router-fix-bios')).toContainText('Fix:');
    await page.getByTestId('router-check').scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${SHOTS}/router-2-checked.png`, fullPage: true });
    expect((await axeCounts(page, 'router, red check')).worst).toEqual([]);

    // The snippet as the step shows it, put where the step says (dnsmasq.d, checked, dnsmasq restarted): both firmwares green.
    const applied = await applyDnsmasqSnippet(L, (await page.getByTestId('router-text').textContent())!);
    try {
      await page.getByTestId('router-check').click();
      await expect(page.getByTestId('router-check').getByText('Check my router')).toBeVisible({ timeout: 30_000 });
      await expect(page.getByTestId('router-check-bios')).toHaveAttribute('data-status', 'pass', { timeout: 30_000 });
      await expect(page.getByTestId('router-check-uefi')).toHaveAttribute('data-status', 'pass', { timeout: 30_000 });
      await expect(page.getByTestId('router-check-uefi')).toContainText('snponly.efi');
      await page.screenshot({ path: `${SHOTS}/router-3-green.png`, fullPage: true });
      expect((await axeCounts(page, 'router, green check')).worst).toEqual([]);
    } finally {
      await applied.restore();
    }
  });
});
