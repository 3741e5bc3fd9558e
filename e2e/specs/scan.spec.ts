import { expect, test } from '@playwright/test';
import { ScanPage } from '../pages/scan-page';
import { labOrSkipReason, screenshotDir } from '../support/lab-guard';

const lab = labOrSkipReason('scan.spec.ts');
const SHOTS = screenshotDir();

test.describe('Scan step against the lab', () => {
  test.skip(!lab, 'needs the lab: run npm test');

  test('scans the lab subnet, shows progress and finds exactly the portals', async ({ page }) => {
    const scan = new ScanPage(page);
    await scan.open();
    // The desk's own subnet is offered from its interface list.
    await page.getByTestId(`subnet-${lab!.subnet}`).click();
    await expect(scan.targets).toHaveValue(lab!.subnet);
    await page.screenshot({ path: `${SHOTS}/scan-1-ready.png`, fullPage: true });
    // Fewer connections at once make the scan last long enough to watch it.
    await scan.setConcurrency(16);
    await scan.start.click();
    await expect(scan.progress).toContainText(/connect \d+\/254/);
    await page.screenshot({ path: `${SHOTS}/scan-2-running.png`, fullPage: true });
    await expect(page.getByTestId('scan-summary')).toBeVisible({ timeout: 30000 });
    expect((await scan.portals(true)).sort()).toEqual([...lab!.iscsiPortals].sort());
    expect((await scan.portals(false)).sort()).toEqual([...lab!.nonIscsi].sort());
    await expect(page.locator('[data-testid="portal-row"][data-iscsi="false"]').first()).toContainText('Not iSCSI');
    await expect(page.locator(`[data-testid="portal-row"][data-address="${lab!.nas.ips[0]}"]`)).toContainText(lab!.names[lab!.nas.ips[0]!]!);
    await page.screenshot({ path: `${SHOTS}/scan-3-done.png`, fullPage: true });
    // Portals found: the wizard opens the next step.
    await expect(page.getByTestId('next')).toBeEnabled();
    await expect(page.getByTestId('nav-target')).toBeEnabled();
    await expect(page.getByTestId('nav-identity')).toBeDisabled();
    await page.getByTestId('next').click();
    await expect(page.getByTestId('step-target')).toBeVisible();
  });

  test('cancels a scan mid-way', async ({ page }) => {
    const scan = new ScanPage(page);
    await scan.open();
    await scan.targets.fill(lab!.subnet);
    await scan.setConcurrency(1);
    await scan.start.click();
    await expect(scan.progress).toContainText(/connect [1-9]\d*\/254/);
    await scan.cancel.click();
    await expect(page.getByTestId('scan-cancelled')).toBeVisible();
    await expect(scan.progress).toHaveCount(0);
    await expect(scan.start).toBeEnabled();
    await page.screenshot({ path: `${SHOTS}/scan-4-cancelled.png`, fullPage: true });
  });

  test('a malformed CIDR gets a clear error and starts nothing', async ({ page }) => {
    const scan = new ScanPage(page);
    await scan.open();
    await scan.targets.fill('10.77.0.0/33');
    await expect(scan.formError).toContainText('prefix length must be a number from 0 to 32');
    await scan.start.click();
    await expect(scan.progress).toHaveCount(0);
    await expect(scan.rows).toHaveCount(0);
    await page.screenshot({ path: `${SHOTS}/scan-5-bad-cidr.png`, fullPage: true });
    // A /8 asks for confirmation before anything runs.
    await scan.targets.fill('10.0.0.0/8');
    await expect(scan.formError).toContainText('larger than a /16');
    await expect(page.getByTestId('confirm-large')).toBeVisible();
    await page.getByTestId('scan-ports').fill('0');
    await scan.targets.fill(lab!.subnet);
    await expect(scan.formError).toContainText('port 0 is out of range');
  });

  test('adds a portal by hand', async ({ page }) => {
    const scan = new ScanPage(page);
    await scan.open();
    await page.getByTestId('manual-address').fill(lab!.nas.ips[1]!);
    await page.getByTestId('manual-add').click();
    await expect(page.locator(`[data-testid="portal-row"][data-address="${lab!.nas.ips[1]}"]`)).toHaveAttribute('data-iscsi', 'true');
    await page.getByTestId('manual-address').fill('10.77.0.300');
    await page.getByTestId('manual-add').click();
    await expect(page.getByTestId('manual-error')).toContainText('300 is larger than 255');
  });
});
