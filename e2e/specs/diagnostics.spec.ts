import { renameSync } from 'node:fs';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { ProjectStore } from '../../electron/services/project/store';
import { CHAIN_LINKS } from '../../shared/verify';
import { chainProject, startChainLab, type ChainLabSpec } from '../lab/chain-lab';
import type { LabInfo } from '../lab/lab';
import { labOrSkipReason, screenshotDir } from '../support/lab-guard';

const lab = labOrSkipReason('diagnostics.spec.ts');
const SHOTS = screenshotDir();

async function check(page: Page, name: string) {
  await page.goto(`/#token=${process.env.BOOTCHAIN_HARNESS_TOKEN}`);
  await page.getByTestId('nav-diagnostics').click();
  await expect(page.getByTestId('view-diagnostics')).toBeVisible();
  await page.getByTestId('diag-project').selectOption(name);
  await expect(page.getByTestId('verify-station')).toContainText('pc (52:54:00:b0:11:');
  await page.getByTestId('verify-start').click();
  await expect(page.getByTestId('verify-summary')).toBeVisible({ timeout: 30_000 });
}

// Diagnostics view against live chains in the lab: a healthy one all green, two broken ones with
// the right node red and the fix shown.
test.describe('Diagnostics view', () => {
  test.skip(!lab, 'needs the lab: run npm test');

  const cases: Array<{ name: string; ip: string; mac: string; target: (L: LabInfo) => string; spec?: Partial<ChainLabSpec>; broken?: string; fix?: RegExp }> = [
    { name: 'diagok', ip: '10.77.0.85', mac: '52:54:00:b0:11:01', target: (L) => L.iscsi.targets.boot },
    { name: 'diagempty', ip: '10.77.0.86', mac: '52:54:00:b0:11:02', target: (L) => L.iscsi.targets.empty, broken: 'bootsector', fix: /Put the operating system on this disk first: the Install step/ },
    {
      name: 'diagupper',
      ip: '10.77.0.87',
      mac: '52:54:00:b0:11:03',
      target: (L) => L.iscsi.targets.boot,
      spec: { tftp: (root) => renameSync(path.join(root, '52-54-00-b0-11-03.ipxe'), path.join(root, '52-54-00-B0-11-03.ipxe')) },
      broken: 'station',
      fix: /rename 52-54-00-B0-11-03\.ipxe to 52-54-00-b0-11-03\.ipxe/,
    },
  ];
  for (const c of cases) {
    test(c.broken ? `${c.name}: ${c.broken} is red, with its fix` : `${c.name}: every link green, then a VM test boot`, async ({ page }) => {
      test.setTimeout(120_000);
      const L = lab!;
      const p = chainProject(L, { name: c.name, ip: c.ip, mac: c.mac, target: c.target(L), station: 'pc' });
      new ProjectStore(process.env.BOOTCHAIN_DATA_DIR!).save(p);
      const chain = await startChainLab(L, { name: c.name.slice(0, 6), ip: c.ip, project: p, ...(c.spec ?? {}) });
      try {
        await check(page, c.name);
        if (!c.broken) {
          for (const l of CHAIN_LINKS) await expect(page.getByTestId(`node-${l.id}`)).toHaveAttribute('data-status', 'pass');
          await expect(page.getByTestId('verify-summary')).toContainText('every link holds');
          await page.getByTestId('node-station').click();
          await expect(page.getByTestId('link-evidence')).toContainText('sanboot');
          // One click: QEMU boots the workstation (dry run: QEMU's DHCP/TFTP serve the project's files).
          await page.getByTestId('vm-start').click();
          await expect(page.getByTestId('vm-stage-sanboot')).toHaveAttribute('data-reached', 'yes', { timeout: 60_000 });
          await expect(page.getByTestId('vm-result')).toContainText("Reached: the disk's boot code runs", { timeout: 30_000 });
          await expect(page.getByTestId('vm-console')).toContainText('BOOTCHAIN-LUN-BOOTED');
          // Which iPXE ran: no build in this project, so QEMU's NIC ROM ran the scripts.
          await expect(page.getByTestId('vm-ipxe-run').first()).toHaveAttribute('data-kind', 'nic-rom');
          await expect(page.getByTestId('vm-ipxe')).toContainText("NIC's ROM");
          await expect(page.getByTestId('vm-console')).not.toContainText('\x1b');
        } else {
          await expect(page.getByTestId(`node-${c.broken}`)).toHaveAttribute('data-status', 'fail');
          const idx = CHAIN_LINKS.findIndex((l) => l.id === c.broken);
          for (const l of CHAIN_LINKS.slice(0, idx)) await expect(page.getByTestId(`node-${l.id}`)).toHaveAttribute('data-status', 'pass');
          // The broken node is selected: its summary, evidence and fix are shown.
          await expect(page.getByTestId('link-status')).toHaveText('fail');
          await expect(page.getByTestId('link-fix')).toContainText(c.fix!);
          // Re-check the selected link: the walk runs again and the same node stays selected.
          await page.getByTestId(`node-dhcp`).click();
          await page.getByTestId('link-recheck').click();
          await expect(page.getByTestId('verify-start')).toBeEnabled();
          await expect(page.getByTestId('verify-summary')).toBeVisible();
          await expect(page.getByTestId('link-details')).toContainText('DHCP: pass');
          await page.getByTestId(`node-${c.broken}`).click();
        }
        await page.screenshot({ path: `${SHOTS}/diagnostics-${c.name}.png`, fullPage: true });
      } finally {
        await chain.stop();
      }
    });
  }
});
