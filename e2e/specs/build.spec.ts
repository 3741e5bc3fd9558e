import { expect, test } from '@playwright/test';
import { reachBuild } from '../pages/flow';
import { standInTree } from '../support/standin';
import { labOrSkipReason, screenshotDir } from '../support/lab-guard';

const lab = labOrSkipReason('build.spec.ts');
const SHOTS = screenshotDir();

// The build runs for real (make, the builder, read-back) on a STAND-IN source tree: iPXE's own
// source cannot be had on CI machines (ipxe.real.test.ts compiles real iPXE with IPXE_SRC).
test.describe('Build step', () => {
  test.skip(!lab, 'needs the lab: run npm test');

  test('builds with the local toolchain from a source folder and shows the verified script', async ({ page }) => {
    await reachBuild(page, lab!);
    await expect(page.getByTestId('engine-local')).toContainText('ready');
    await page.getByTestId('build-engine').selectOption('local');
    await page.getByTestId('build-source-kind').selectOption('dir');
    await page.getByTestId('build-source-path').fill(standInTree({ objects: 6 }));
    await page.getByTestId('build-target-uefi').check();
    await expect(page.getByTestId('next')).toBeDisabled();
    await page.getByTestId('build-start').click();
    await expect(page.getByTestId('build-result')).toContainText('Built with local');
    await expect(page.getByTestId('artifact')).toHaveCount(2);
    for (const row of await page.getByTestId('artifact').all()) await expect(row).toContainText('embedded script verified');
    await page.screenshot({ path: `${SHOTS}/build-1-done.png`, fullPage: true });
    await expect(page.getByTestId('next')).toBeEnabled();
    // Again with the same source: only the link runs.
    await page.getByTestId('build-start').click();
    await expect(page.getByTestId('build-result')).toContainText('Relinked');
  });

  test('a folder that is not iPXE gets a clear error; stock iPXE skips the build', async ({ page }) => {
    await reachBuild(page, lab!);
    await page.getByTestId('build-engine').selectOption('local');
    await page.getByTestId('build-source-kind').selectOption('dir');
    await page.getByTestId('build-source-path').fill('/tmp');
    await page.getByTestId('build-start').click();
    await expect(page.getByTestId('build-error')).toContainText('not an iPXE source tree');
    await page.getByTestId('build-skip').check();
    await expect(page.getByTestId('next')).toBeEnabled();
  });
});
