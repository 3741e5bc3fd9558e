import { execFileSync } from 'node:child_process';
import { expect, test } from '@playwright/test';
import { ProjectStore } from '../../electron/services/project/store';
import { chainProject } from '../lab/chain-lab';
import { labOrSkipReason, screenshotDir } from '../support/lab-guard';

const lab = labOrSkipReason('privileges.spec.ts');
const SHOTS = screenshotDir();
const TAP = 'bcuitap0';

// The rights panel and the secrets notice, against the real services: the harness runs as root
// in the lab's desk namespace, so the grant runs the bootchain-grant helper directly (an ordinary
// user's app asks through pkexec) and really makes the tap device there.
test.describe('Rights and secrets in the window', () => {
  test.skip(!lab, 'needs the lab: run npm test');
  test.afterAll(() => {
    try {
      execFileSync('ip', ['link', 'delete', TAP], { stdio: 'ignore' });
    } catch {
      /* not made */
    }
  });

  test('a missing tap device is granted from the Rights panel; secrets stay in the session here', async ({ page }) => {
    const L = lab!;
    const p = chainProject(L, { name: 'rights', ip: '10.77.0.88', mac: '52:54:00:b0:18:01', target: L.iscsi.targets.boot, station: 'pc', ws: { chap: { username: 'pc', secretRef: 'pc.chap' } } });
    new ProjectStore(process.env.BOOTCHAIN_DATA_DIR!).save(p);
    await page.goto(`/#token=${process.env.BOOTCHAIN_HARNESS_TOKEN}`);
    // Reconfigure from the start screen: the CHAP secret is not remembered in the harness.
    await page.locator('[data-testid="recent-project"][data-name="rights"]').getByTestId('recent-reconfigure').click();
    await expect(page.getByTestId('step-identity')).toBeVisible();
    await expect(page.getByTestId('secrets-notice')).toHaveAttribute('data-backend', 'session');
    await expect(page.getByTestId('secrets-where')).toContainText('stay in this session only');
    await expect(page.getByTestId('project-message')).toContainText('one CHAP secret is not remembered: type it again');

    await page.getByTestId('nav-diagnostics').click();
    await page.getByTestId('diag-project').selectOption('rights');
    await page.getByTestId('vm-network').selectOption('tap');
    await page.getByTestId('vm-tap').fill(TAP);
    const rights = page.getByTestId('rights');
    await expect(page.getByTestId('right-low-ports')).toHaveAttribute('data-granted', 'yes');
    await expect(page.getByTestId('right-low-ports-evidence')).toHaveText('running as root');
    await expect(page.getByTestId('right-tap')).toHaveAttribute('data-granted', 'no');
    await expect(page.getByTestId('right-tap-evidence')).toHaveText(`there is no device ${TAP}`);
    // The tap is for the caller: the helper takes the user from pkexec/sudo, never from its arguments.
    await expect(page.getByTestId('right-tap-commands')).toContainText(`bootchain-grant tap ${TAP}`);
    await expect(page.getByTestId('right-tap-commands')).not.toContainText(`bootchain-grant tap ${TAP} root`);
    await expect(page.getByTestId('rights-summary')).toHaveText('1 of 2 granted');
    await rights.screenshot({ path: `${SHOTS}/rights-missing.png` });
    await page.getByTestId('right-tap-grant').click();
    await expect(page.getByTestId('right-tap')).toHaveAttribute('data-granted', 'yes');
    await expect(page.getByTestId('right-tap-evidence')).toHaveText(`${TAP} is a tap device for uid 0, in no bridge`);
    await expect(page.getByTestId('rights-summary')).toHaveText('2 of 2 granted');
    // The device is really there, a tap device, up.
    const link = execFileSync('ip', ['-d', 'link', 'show', TAP], { encoding: 'utf8' });
    expect(link).toMatch(/tun type tap/);
    expect(link).toMatch(/[<,]UP[,>]/);
    // A bridge that does not exist: the helper refuses, the panel shows why, nothing changes.
    await page.getByTestId('vm-tap').fill('bcuitap1');
    await page.getByTestId('rights-bridge').fill('nosuchbr0');
    await page.getByTestId('right-tap-grant').click();
    await expect(page.getByTestId('rights-error')).toContainText('nosuchbr0 is not a bridge');
    await expect(page.getByTestId('right-tap')).toHaveAttribute('data-granted', 'no');
  });
});
