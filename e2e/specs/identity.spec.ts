import { expect, test, type Locator } from '@playwright/test';
import { reachIdentity } from '../pages/flow';
import { labOrSkipReason, screenshotDir } from '../support/lab-guard';

const lab = labOrSkipReason('identity.spec.ts');
const SHOTS = screenshotDir();

/** Opens a workstation's Advanced disclosure (the typed target IQN, LUN and initiator IQN live there). */
async function advanced(ws: Locator): Promise<void> {
  const d = ws.getByTestId('ws-advanced');
  if ((await d.getAttribute('open')) === null) await d.locator('summary').click();
}

test.describe('Identity step', () => {
  test.skip(!lab, 'needs the lab: run npm test');

  test('an upper-case colon MAC gives the lower-case hexhyp script; a bad IQN shows why', async ({ page }) => {
    const L = lab!;
    await reachIdentity(page, L);
    await page.getByTestId('iqn-domain').fill('bootchain.test');
    await page.getByTestId('iqn-date').fill('2026-11');
    await page.getByTestId('add-workstation').click();
    const ws = page.getByTestId('workstation').first();
    // The chosen target and its LUN, and the NAS address, come from the Target step: the disk is
    // chosen from the discovered ones, never typed.
    await expect(ws.getByTestId('ws-disk')).toHaveValue(L.iscsi.targets.empty);
    await expect(ws.getByTestId('ws-target')).toHaveValue(L.iscsi.targets.empty);
    await expect(ws.getByTestId('ws-lun')).toHaveValue('1');
    await expect(page.getByTestId('nas-address')).toHaveValue(L.nas.ips[0]!);
    await ws.getByTestId('ws-mac').fill('52:54:00:AB:CD:EF');
    await expect(ws.getByTestId('ws-script-name')).toHaveText('boot script: 52-54-00-ab-cd-ef.ipxe');
    await expect(ws.getByTestId('ws-iqn')).toHaveValue('iqn.2026-11.test.bootchain:ws1-525400abcdef');
    // The preview holds the per-MAC file with the sanboot line for LUN 1.
    await page.getByRole('button', { name: '52-54-00-ab-cd-ef.ipxe' }).click();
    await expect(page.getByTestId('file-text')).toContainText(`sanboot iscsi:${L.nas.ips[0]}:::1:${L.iscsi.targets.empty}`);
    await page.screenshot({ path: `${SHOTS}/identity-1-preview.png`, fullPage: true });
    await expect(page.getByTestId('next')).toBeEnabled();

    // A bad IQN (typed under Advanced): the reason, no files, no Next.
    await advanced(ws);
    await ws.getByTestId('ws-iqn').fill('iqn.2026-13.test.bootchain:ws1');
    await expect(page.getByTestId('error-workstations[0].initiatorIqn')).toContainText('month 13 is not 01 to 12');
    await ws.getByTestId('ws-iqn').fill('iqn.2026-11.test.bootchain:ws1 ${17}');
    await expect(page.getByTestId('error-workstations[0].initiatorIqn')).toContainText('spaces');
    await expect(page.getByTestId('preview-blocked')).toBeVisible();
    await expect(page.getByTestId('next')).toBeDisabled();
    await page.screenshot({ path: `${SHOTS}/identity-2-bad-iqn.png`, fullPage: true });
    // Clearing it brings the generated one back.
    await ws.getByTestId('ws-iqn').fill('');
    await expect(ws.getByTestId('ws-iqn')).toHaveValue('iqn.2026-11.test.bootchain:ws1-525400abcdef');

    // CHAP: a generated 16-character secret goes into the script; a hostile one is refused.
    await ws.getByTestId('ws-chap').check();
    const secret = await ws.getByTestId('ws-chap-secret').inputValue();
    expect(secret).toMatch(/^[A-Za-z0-9]{16}$/);
    await expect(ws.getByTestId('ws-chap-secret')).toHaveAttribute('type', 'password');
    await expect(ws.getByTestId('ws-chap-secret-check')).toHaveAttribute('data-level', 'ok');
    await page.getByRole('button', { name: '52-54-00-ab-cd-ef.ipxe' }).click();
    await expect(page.getByTestId('file-text')).toContainText(`set password ${secret}`);
    await ws.getByTestId('ws-chap-secret').fill('x${17}||shell');
    await expect(page.getByTestId('error-workstations[0].chap.secretRef')).toBeVisible();
    await expect(ws.getByTestId('ws-chap-secret-check')).toHaveAttribute('data-level', 'error');
    await expect(page.getByTestId('preview-blocked')).toBeVisible();

    // Save the project, spoil a value, open the saved one: the value is back (secrets are not saved).
    await page.getByTestId('project-name').fill('e2e-lab');
    await page.getByTestId('project-save').click();
    await expect(page.getByTestId('project-message')).toContainText('Saved as e2e-lab');
    await page.getByTestId('nas-address').fill('nas.local');
    await expect(page.getByTestId('error-nas.address')).toContainText('IPv4 address');
    await page.getByTestId('project-open').selectOption('e2e-lab');
    await expect(page.getByTestId('nas-address')).toHaveValue(L.nas.ips[0]!);
    await expect(page.getByTestId('project-message')).toContainText('Opened e2e-lab');

    // Reconfigure: after opening, every generated file that changes is listed with a line diff.
    const first = page.getByTestId('workstation').first();
    await first.getByTestId('ws-chap-secret').fill('Abcdefgh2345');
    await expect(page.getByTestId('changes-none')).toBeVisible();
    const oldTarget = await first.getByTestId('ws-target').inputValue();
    // Another discovered disk, chosen from the list: its IQN and LUN follow.
    await first.getByTestId('ws-disk').selectOption(L.iscsi.targets.mbr);
    await expect(first.getByTestId('ws-target')).toHaveValue(L.iscsi.targets.mbr);
    const change = page.getByTestId('change').filter({ hasText: '52-54-00-ab-cd-ef.ipxe' });
    await expect(change).toContainText('changed');
    await expect(change.locator('.del').filter({ hasText: 'sanboot' })).toContainText(oldTarget);
    await expect(change.locator('.add').filter({ hasText: 'sanboot' })).toContainText(L.iscsi.targets.mbr);
    await expect(page.getByTestId('change').filter({ hasText: 'kernel/' }).first()).toBeVisible();
    await page.screenshot({ path: `${SHOTS}/identity-reconfigure-diff.png`, fullPage: true });
  });
});
