import { expect, test } from '@playwright/test';
import { reachTarget } from '../pages/flow';
import { labOrSkipReason, screenshotDir } from '../support/lab-guard';

const lab = labOrSkipReason('target.spec.ts');
const SHOTS = screenshotDir();

test.describe('Target step against the lab tgtd', () => {
  test.skip(!lab, 'needs the lab: run npm test');

  test('discovers, shows sizes, CHAP wrong then right, confirms a non-empty disk', async ({ page }) => {
    const L = lab!;
    const T = L.iscsi.targets;
    const tp = await reachTarget(page, L);
    await expect(page.getByTestId('target-portals')).toHaveText(`${L.nas.ips[0]}:3260`);
    await tp.discover.click();
    await expect(page.getByTestId('discover-summary')).toContainText(/\d+ target\(s\) on 1 portal/);
    expect(await tp.rows.count()).toBeGreaterThanOrEqual(40);
    // Sizes and what each disk holds.
    await expect((await tp.settled(T.mbr)).getByTestId('probe-summary')).toContainText(`${L.iscsi.sizesMiB.mbr} MiB`);
    await expect(tp.row(T.mbr)).toContainText('MBR, 1 partition(s)');
    await expect((await tp.settled(T.gpt)).getByTestId('probe-summary')).toContainText('EFI system partition');
    await expect((await tp.settled(T.empty)).getByTestId('probe-summary')).toContainText(`${L.iscsi.sizesMiB.empty} MiB`);
    // A CHAP target without credentials says what to do.
    await expect((await tp.settled(T.chapOneWay)).getByTestId('error-hint')).toContainText('requires CHAP');
    await page.screenshot({ path: `${SHOTS}/target-1-discovered.png`, fullPage: true });

    // Wrong secret: the hint; right secret: the disk.
    await tp.setTargetChap(L.iscsi.chap.oneWay.username, 'definitely-wrong');
    await tp.row(T.chapOneWay).getByTestId('probe-target').click();
    await expect(tp.row(T.chapOneWay).getByTestId('error-hint')).toContainText('CHAP secret or user wrong');
    await page.screenshot({ path: `${SHOTS}/target-2-wrong-chap.png`, fullPage: true });
    await tp.setTargetChap(L.iscsi.chap.oneWay.username, L.iscsi.chap.oneWay.secret);
    await tp.row(T.chapOneWay).getByTestId('probe-target').click();
    await expect(tp.row(T.chapOneWay).getByTestId('probe-summary')).toContainText(`${L.iscsi.sizesMiB.chapOneWay} MiB`);
    // A target with CHAP of its own (mutual here): its own fields in its row, apart from the rest.
    const mutual = tp.row(T.chapMutual);
    await mutual.getByTestId('row-chap-enabled').check();
    await mutual.getByTestId('row-chap-user').fill(L.iscsi.chap.mutual.username);
    await mutual.getByTestId('row-chap-secret').fill(L.iscsi.chap.mutual.secret);
    await mutual.getByTestId('row-chap-mutual').check();
    await mutual.getByTestId('row-chap-mutual-user').fill(L.iscsi.chap.mutual.targetUsername);
    await mutual.getByTestId('row-chap-mutual-secret').fill(L.iscsi.chap.mutual.targetSecret);
    await mutual.getByTestId('probe-target').click();
    await expect(mutual.getByTestId('probe-summary')).toContainText(`${L.iscsi.sizesMiB.chapMutual} MiB`);
    // The 44 targets without a disk are folded under their count.
    await expect(page.getByTestId('no-disk-count')).toHaveText(`${T.bulk.length} targets without a disk`);

    // A disk with a partition table needs a confirmation; cancel keeps nothing chosen.
    await tp.row(T.mbr).getByTestId('choose-target').click();
    await expect(page.getByTestId('confirm-dialog')).toContainText('not empty');
    await page.screenshot({ path: `${SHOTS}/target-3-confirm.png`, fullPage: true });
    await page.getByTestId('confirm-no').click();
    await expect(page.getByTestId('chosen-target')).toHaveCount(0);
    await expect(page.getByTestId('next')).toBeDisabled();

    // The empty CHAP disk is chosen at once.
    await tp.row(T.chapOneWay).getByTestId('choose-target').click();
    await expect(page.getByTestId('chosen-target')).toContainText(T.chapOneWay);
    await expect(page.getByTestId('chosen-target')).toContainText('LUN 1');
    await expect(page.getByTestId('next')).toBeEnabled();
    await page.screenshot({ path: `${SHOTS}/target-4-chosen.png`, fullPage: true });

    // Identity: the chosen disk comes with its CHAP; the other disk brings its own (mutual) CHAP.
    await page.getByTestId('next').click();
    await expect(page.getByTestId('step-identity')).toBeVisible();
    await page.getByTestId('add-workstation').click();
    const ws = page.getByTestId('workstation').first();
    await expect(ws.getByTestId('ws-disk')).toHaveValue(T.chapOneWay);
    await expect(ws.getByTestId('ws-chap')).toBeChecked();
    await expect(ws.getByTestId('ws-chap-user')).toHaveValue(L.iscsi.chap.oneWay.username);
    await ws.getByTestId('ws-disk').selectOption(T.chapMutual);
    await expect(ws.getByTestId('ws-chap-user')).toHaveValue(L.iscsi.chap.mutual.username);
    await expect(ws.getByTestId('ws-chap-mutual-secret')).toHaveAttribute('type', 'password');
    await expect(ws.getByTestId('ws-chap-secret-check')).toHaveAttribute('data-level', 'ok');
  });
});
