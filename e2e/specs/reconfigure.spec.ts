import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { ProjectStore } from '../../electron/services/project/store';
import { sampleProject } from '../../shared/gen/fixtures';
import { loadProject } from '../../shared/model/project';
import { CHAIN_LINKS } from '../../shared/verify';
import { startChainLab } from '../lab/chain-lab';
import { planLabUpload, seedLabNas } from '../pages/flow';
import { axeCounts } from '../support/axe';
import { labOrSkipReason, screenshotDir } from '../support/lab-guard';

const lab = labOrSkipReason('reconfigure.spec.ts');
const SHOTS = screenshotDir();

// "Reconfigure a workstation", end to end against the lab: a workstation already set up (its
// files on the NAS's TFTP root, the router's DHCP from the generated config) is opened from a
// saved project, moved to another target, the diff shown, uploaded over SFTP, verified green
// against the live servers, and rolled back.
test.describe('Reconfigure a workstation', () => {
  test.skip(!lab, 'needs the lab: run npm test');

  test('change the target, see the diff, upload, verify green, roll back', async ({ page }) => {
    test.setTimeout(120_000);
    const L = lab!;
    const S = L.ssh;
    const mac = '52:54:00:b0:13:01';
    const perMac = '52-54-00-b0-13-01.ipxe';
    const input = sampleProject({
      name: 'reconf',
      nas: { address: L.nas.ips[0]!, iscsiPort: 3260, tftpRoot: S.sftpOnly.root, ssh: { host: S.host, port: 22, user: S.sftpOnly.user } },
      router: { kind: 'dnsmasq', rootPath: '', subnet: { cidr: L.subnet, rangeStart: '10.77.0.180', rangeEnd: '10.77.0.199', interface: 'eth0' } },
      workstations: [{ name: 'pc', mac, firmware: 'bios', target: L.iscsi.targets.mbr, lun: 1, initiatorIqn: 'iqn.2026-11.test.bootchain:reconf', initramfs: 'genkernel' }],
    });
    const p = loadProject(input);
    if (!p.ok) throw new Error(JSON.stringify(p.errors));
    new ProjectStore(process.env.BOOTCHAIN_DATA_DIR!).save(input);
    // As set up before: the files on the NAS (uploaded by Bootchain), iPXE beside them, and the
    // router's DHCP (the generated config, on a lab host; TFTP stays the NAS's).
    await seedLabNas(L, p.value, mkdtempSync(path.join(os.tmpdir(), 'bc-reconf-')));
    const before = readFileSync(path.join(L.nas.tftpRoot, perMac), 'utf8');
    expect(before).toContain(L.iscsi.targets.mbr);
    const router = await startChainLab(L, { name: 'rcf', ip: '10.77.0.48', project: input, noTftp: true });
    try {
      // The start screen lists the saved project: Reconfigure opens it at the Identity step.
      await page.goto(`/#token=${process.env.BOOTCHAIN_HARNESS_TOKEN}`);
      await page.locator('[data-testid="recent-project"][data-name="reconf"]').getByTestId('recent-reconfigure').click();
      await expect(page.getByTestId('step-identity')).toBeVisible();
      await expect(page.getByTestId('changes-none')).toBeVisible();
      // The typed target IQN lives under the workstation's Advanced disclosure.
      const ws = page.getByTestId('workstation').first();
      if ((await ws.getByTestId('ws-advanced').getAttribute('open')) === null) await ws.getByTestId('ws-advanced').locator('summary').click();
      await ws.getByTestId('ws-target').fill(L.iscsi.targets.boot);
      const change = page.getByTestId('change').filter({ hasText: perMac });
      await expect(change.locator('.add').filter({ hasText: 'sanboot' })).toContainText(L.iscsi.targets.boot);
      await page.getByTestId('next').click();
      await expect(page.getByTestId('step-router')).toBeVisible();
      await page.getByTestId('next').click();
      await page.getByTestId('build-skip').check();
      await page.getByTestId('next').click();

      // Upload: the plan says exactly the per-MAC script changes.
      await planLabUpload(page, L);
      // (Rows start with the file name; other tests' files in the same root are listed as extra.)
      await expect(page.getByTestId('plan-row').filter({ hasText: new RegExp(`^${perMac.replace(/\./g, '\\.')}`) })).toHaveAttribute('data-action', 'changed');
      await expect(page.getByTestId('plan-row').filter({ hasText: /^default\.ipxe/ })).toHaveAttribute('data-action', 'unchanged');
      await page.getByTestId('upload-start').click();
      await expect(page.getByTestId('uploaded-file').filter({ hasText: perMac })).toContainText('served by TFTP');
      expect(readFileSync(path.join(L.nas.tftpRoot, perMac), 'utf8')).toContain(L.iscsi.targets.boot);
      await page.screenshot({ path: `${SHOTS}/reconfigure-1-uploaded.png`, fullPage: true });

      // Verify against the live servers: every link green, the login now to the new target.
      await page.getByTestId('next').click();
      await page.getByTestId('verify-start').click();
      await expect(page.getByTestId('verify-summary')).toContainText('every link holds', { timeout: 30_000 });
      for (const l of CHAIN_LINKS) await expect(page.getByTestId(`node-${l.id}`)).toHaveAttribute('data-status', 'pass');
      await page.getByTestId('node-target').click();
      await expect(page.getByTestId('link-summary')).toContainText(L.iscsi.targets.boot);
      await page.screenshot({ path: `${SHOTS}/reconfigure-2-verified.png`, fullPage: true });

      // Green: Done says what was set up and what comes next.
      await page.getByTestId('next').click();
      await expect(page.getByTestId('step-done')).toBeVisible();
      await expect(page.getByTestId('done-station')).toContainText(`pc (${mac}, BIOS) boots ${L.iscsi.targets.boot} LUN 1 — verified`);
      await expect(page.getByTestId('done-next')).toContainText('Power on the PC');
      await page.screenshot({ path: `${SHOTS}/reconfigure-3-done.png`, fullPage: true });
      expect((await axeCounts(page, 'done')).worst).toEqual([]);

      // Roll back: the NAS serves the old script again, byte for byte.
      await page.getByTestId('nav-upload').click();
      await page.getByTestId('upload-rollback').click();
      await expect(page.getByTestId('upload-rolled-back')).toContainText(`restored ${perMac}`);
      expect(readFileSync(path.join(L.nas.tftpRoot, perMac), 'utf8')).toBe(before);

      // The project remembered the Upload settings (the key path, never its passphrase) and the
      // stock-binaries choice; the rolled-back upload is no longer "done".
      const saved = path.join(process.env.BOOTCHAIN_DATA_DIR!, 'projects', 'reconf.json');
      const remembered = () => JSON.parse(readFileSync(saved, 'utf8')).remembered;
      await expect.poll(() => [remembered()?.upload?.keyPath, remembered()?.build?.noBuild, remembered()?.lastUpload]).toEqual([S.sftpOnly.key, true, undefined]);
      expect(readFileSync(saved, 'utf8')).not.toContain(S.root.passphrase);
      // Reopened in a new window: nothing to build, so Reconfigure goes straight to Upload, filled in.
      await page.reload();
      await page.locator('[data-testid="recent-project"][data-name="reconf"]').getByTestId('recent-reconfigure').click();
      await expect(page.getByTestId('step-upload')).toBeVisible();
      await expect(page.getByTestId('upload-key')).toHaveValue(S.sftpOnly.key);
      await expect(page.getByTestId('upload-passphrase')).toHaveValue('');
      // The harness has no file dialog: Choose… says to type the path.
      await page.getByTestId('upload-key-choose').click();
      await expect(page.getByTestId('upload-key-note')).toHaveText('Type the path: the browser harness has no file dialog.');
      await page.screenshot({ path: `${SHOTS}/reconfigure-4-reopened.png`, fullPage: true });
    } finally {
      await router.stop();
    }
  });
});
