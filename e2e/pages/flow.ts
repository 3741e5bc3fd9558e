import { expect, type Page } from '@playwright/test';
import type { LabInfo } from '../lab/lab';
import { ScanPage } from './scan-page';
import { TargetPage } from './target-page';

/** Scan the NAS's first address and go on to the Target step. */
export async function reachTarget(page: Page, L: LabInfo): Promise<TargetPage> {
  const scan = new ScanPage(page);
  await scan.open();
  await scan.targets.fill(L.nas.ips[0]!);
  await scan.start.click();
  await expect(page.getByTestId('scan-summary')).toBeVisible();
  await page.getByTestId('next').click();
  return new TargetPage(page);
}

/** Scan the NAS, choose its empty disk, reach the Identity step. */
export async function reachIdentity(page: Page, L: LabInfo): Promise<void> {
  const tp = await reachTarget(page, L);
  await tp.discover.click();
  await (await tp.settled(L.iscsi.targets.empty)).getByTestId('choose-target').click();
  await expect(page.getByTestId('chosen-target')).toBeVisible();
  await page.getByTestId('next').click();
  await expect(page.getByTestId('step-identity')).toBeVisible();
}

/** From Identity: one valid workstation, then through the Router step on to Build. */
export async function reachBuild(page: Page, L: LabInfo): Promise<void> {
  await reachIdentity(page, L);
  await page.getByTestId('iqn-domain').fill('bootchain.test');
  await page.getByTestId('iqn-date').fill('2026-11');
  await page.getByTestId('add-workstation').click();
  await page.getByTestId('workstation').first().getByTestId('ws-mac').fill('52:54:00:12:34:56');
  await expect(page.getByTestId('next')).toBeEnabled();
  await page.getByTestId('next').click();
  await expect(page.getByTestId('step-router')).toBeVisible();
  await page.getByTestId('next').click();
  await expect(page.getByTestId('step-build')).toBeVisible();
}

/** Upload step: the lab NAS's sftp-only account (its /tftp is what the lab's TFTP serves), then Check. */
export async function checkLabSftp(page: Page, L: LabInfo): Promise<void> {
  const S = L.ssh;
  await page.getByTestId('upload-host').fill(S.host);
  await page.getByTestId('upload-user').fill(S.sftpOnly.user);
  await page.getByTestId('upload-root').fill(S.sftpOnly.root);
  await page.getByTestId('upload-key').fill(S.sftpOnly.key);
  await page.getByTestId('upload-passphrase').fill(S.root.passphrase);
  await page.getByTestId('upload-check').click();
}
