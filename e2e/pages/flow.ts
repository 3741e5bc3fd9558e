import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { expect, type Page } from '@playwright/test';
import { servedFiles } from '../../electron/services/bootfiles/served';
import { uploadJob } from '../../electron/services/upload/job';
import { KnownHosts } from '../../electron/services/upload/known-hosts';
import { hostKeyStatus, trustHostKey } from '../../electron/services/upload/ssh';
import type { Project } from '../../shared/model/project';
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

/**
 * The NAS as an earlier Upload left it: the project's files uploaded by Bootchain over the lab's
 * sftp-only account (its /tftp is what the lab's TFTP serves), Debian's undionly.kpxe beside them.
 */
export async function seedLabNas(L: LabInfo, p: Project, work: string): Promise<void> {
  const S = L.ssh;
  const known = new KnownHosts(path.join(work, 'known_hosts'));
  await trustHostKey(S.host, S.port, (await hostKeyStatus(S.host, S.port, known)).fingerprint, known);
  const target = { kind: 'ssh' as const, host: S.host, port: 22, user: S.sftpOnly.user, root: S.sftpOnly.root, auth: { kind: 'key' as const, path: S.sftpOnly.key, passphrase: S.root.passphrase } };
  await uploadJob({ files: servedFiles(p, {}).files, target, dryRun: false }, { knownHostsFile: known.file }, { signal: new AbortController().signal, progress: () => undefined, log: () => undefined, item: () => undefined });
  copyFileSync('/usr/lib/ipxe/undionly.kpxe', path.join(L.nas.tftpRoot, 'undionly.kpxe'));
}

/** Upload step of a reopened project (host, user and root remembered): the key, Check, the host key trusted if asked, until the plan shows. */
export async function planLabUpload(page: Page, L: LabInfo): Promise<void> {
  await page.getByTestId('upload-key').fill(L.ssh.sftpOnly.key);
  await page.getByTestId('upload-passphrase').fill(L.ssh.root.passphrase);
  await page.getByTestId('upload-check').click();
  const trust = page.getByTestId('hostkey-trust');
  await expect(trust.or(page.getByTestId('upload-plan'))).toBeVisible();
  if (await trust.isVisible()) await trust.click();
  await expect(page.getByTestId('upload-plan')).toBeVisible();
}
