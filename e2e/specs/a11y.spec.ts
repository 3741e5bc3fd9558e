import { expect, test, type Page } from '@playwright/test';
import { reachBuild } from '../pages/flow';
import { ScanPage } from '../pages/scan-page';
import { axeCounts } from '../support/axe';
import { tabTo } from '../support/keyboard';
import { labOrSkipReason, screenshotDir } from '../support/lab-guard';

const lab = labOrSkipReason('a11y.spec.ts');
const SHOTS = screenshotDir();

/** axe on the page as it is: no serious or critical violation (the counts are printed). */
async function noSeriousViolations(page: Page, step: string): Promise<void> {
  const c = await axeCounts(page, step);
  expect(c.worst, `axe found serious or critical violations on ${step}`).toEqual([]);
}


test.describe('Accessibility', () => {
  test.skip(!lab, 'needs the lab: run npm test');
  test.use({ viewport: { width: 1024, height: 700 } });

  test('axe finds no serious or critical violation on any step', async ({ page }) => {
    await reachBuild(page, lab!);
    await noSeriousViolations(page, 'build');
    // Every step the list lets the user open now (the registry decides which; new steps join).
    const ids = await page.locator('nav [data-testid^="nav-"]:enabled').evaluateAll((bs) => bs.map((b) => b.getAttribute('data-testid')!.slice(4)));
    expect(ids.length).toBeGreaterThanOrEqual(5);
    for (const id of ids.filter((i) => i !== 'build')) {
      await page.getByTestId(`nav-${id}`).click();
      await expect(page.locator(`[data-testid="step-${id}"], [data-testid="view-${id}"]`)).toBeVisible();
      await noSeriousViolations(page, id);
    }
  });

  test('Scan by keyboard only: Tab to the address field, type, Enter starts the scan', async ({ page }) => {
    const scan = new ScanPage(page);
    await scan.open();
    await tabTo(page, 'scan-targets');
    await page.keyboard.type(lab!.nas.ips[0]!);
    await tabTo(page, 'scan-start');
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('scan-summary')).toBeVisible();
    await expect(scan.rows.first()).toBeVisible();
    await page.screenshot({ path: `${SHOTS}/a11y-scan-keyboard.png` });
  });
});
