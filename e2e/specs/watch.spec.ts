import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { ProjectStore } from '../../electron/services/project/store';
import { axeCounts } from '../support/axe';
import { labOrSkipReason, screenshotDir } from '../support/lab-guard';
import { haveQemu } from '../support/qemu';
import { startWatchLab, watchProject, type WatchLabSpec } from '../watch/watch-lab';

const lab = labOrSkipReason('watch.spec.ts');
const noQemu = haveQemu() ? undefined : 'QEMU is not installed';
if (lab && noQemu) process.stdout.write(`SKIP watch.spec.ts: ${noQemu}\n`);
const SHOTS = screenshotDir();

// Diagnostics' "Watch a boot" during a real boot in the lab: a chain lab (dnsmasq with the
// generated DHCP config and scripts, the lab NAS's tgtd) whose scripts send their stage markers to
// the desk, where the harness runs the watch (markers on the desk's address, DHCP broadcasts on
// UDP 67 of the desk); a QEMU workstation (SeaBIOS + its NIC's iPXE ROM) on the lab bridge is the
// "real PC" the test powers on once the watch listens. The disk is the lab's empty LUN: the picture
// lights up to the per-MAC script, then the watch stops at the boot sector with Verify's fix.
test.describe('Diagnostics: watch a boot', () => {
  test.skip(!lab || !!noQemu, 'needs the lab and QEMU (see the SKIP line above)');

  test('a BIOS boot of an empty LUN: the stages light up, then the stop point at the boot sector with its fix; the report saved as Markdown', async ({ page }) => {
    test.setTimeout(240_000);
    const L = lab!;
    const spec: WatchLabSpec = { name: 'uiemp', ip: '10.77.0.151', mac: '52:54:00:b0:1a:01', firmware: 'bios', target: L.iscsi.targets.empty, markersPort: 18201 };
    const input = watchProject(L, spec);
    new ProjectStore(process.env.BOOTCHAIN_DATA_DIR!).save(input);
    const wl = await startWatchLab(L, spec);
    const vmStop = new AbortController();
    let vm: Promise<{ console: string }> | undefined;
    try {
      await page.goto(`/#token=${process.env.BOOTCHAIN_HARNESS_TOKEN}`);
      await page.getByTestId('nav-diagnostics').click();
      await page.getByTestId('diag-project').selectOption(input.name!);
      await expect(page.getByTestId('watch-panel')).toBeVisible();
      // The saved project already sends markers to the desk: the toggle shows it, with the note.
      await expect(page.getByTestId('watch-markers-toggle')).toBeChecked();
      await expect(page.getByTestId('watch-markers-note')).toContainText(`http://${L.desk.ip}:18201`);
      await expect(page.getByTestId('watch-markers-note')).toContainText('Upload again so the scripts carry it');
      await expect(page.getByTestId('watch-nas-note')).toHaveText('NAS sessions: not polled (no SSH login in the Upload step)');

      await page.getByTestId('watch-start').click();
      // Every source says its state before the workstation is powered on.
      await expect(page.getByTestId('watch-source-marker')).toHaveAttribute('data-state', 'listening');
      await expect(page.getByTestId('watch-source-marker')).toContainText(`http://${L.desk.ip}:18201/watch/`);
      await expect(page.getByTestId('watch-source-dhcp')).toHaveAttribute('data-state', 'listening');
      await expect(page.getByTestId('watch-source-syslog')).toHaveAttribute('data-state', 'off');
      await expect(page.getByTestId('watch-source-nas')).toHaveAttribute('data-state', 'off');
      await expect(page.getByTestId('watch-status')).toContainText('power the workstation on');
      for (const s of ['dhcp', 'ipxe-dhcp', 'default', 'station', 'san-boot']) await expect(page.getByTestId(`watch-stage-pc-${s}`)).toHaveAttribute('data-state', 'idle');
      await page.screenshot({ path: `${SHOTS}/watch-listening.png`, fullPage: true });

      vm = wl.boot({ timeoutMs: 150_000, signal: vmStop.signal }).catch((e: unknown) => ({ console: `(the VM failed: ${String(e)})` }));
      // Stage by stage, as the firmware's DHCP, iPXE's DHCP and the scripts' markers arrive.
      for (const s of ['dhcp', 'ipxe-dhcp', 'default', 'station']) {
        await expect(page.getByTestId(`watch-stage-pc-${s}`)).toHaveAttribute('data-state', 'reached', { timeout: 120_000 });
        process.stdout.write(`watch.spec: reached ${s}: ${await page.getByTestId(`watch-stage-pc-${s}`).innerText()}\n`);
        // Mid-boot (iPXE has its address, the scripts come next): the picture as it lights up.
        if (s === 'ipxe-dhcp') await page.screenshot({ path: `${SHOTS}/watch-live.png`, fullPage: true });
      }
      for (const l of ['dhcp', 'embedded', 'default', 'station']) await expect(page.getByTestId(`watch-node-pc-${l}`)).toHaveAttribute('data-status', 'pass');

      // The stop point: red at the boot sector, why, and Verify's check of that link with its fix.
      const stopped = page.getByTestId('watch-stopped-pc');
      await expect(stopped).toBeVisible({ timeout: 120_000 });
      await expect(stopped).toContainText(/Stopped at Boot sector: .*sanboot failed/);
      await expect(page.getByTestId('watch-node-pc-bootsector')).toHaveAttribute('data-status', 'fail');
      await expect(page.getByTestId('watch-stage-pc-san-boot')).toHaveAttribute('data-state', 'stopped');
      await expect(page.getByTestId('watch-fix-pc')).toContainText('Put the operating system on this disk first', { timeout: 60_000 });
      process.stdout.write(`watch.spec: ${(await stopped.innerText()).replace(/\n+/g, ' | ')}\n`);
      await expect(page.getByTestId('watch-verdict-pc')).toHaveText('stopped');
      // Every station stopped or booted: the watch ends by itself with its report.
      await expect(page.getByTestId('watch-export-md')).toBeVisible({ timeout: 60_000 });
      await expect(page.getByTestId('watch-status')).toContainText('every workstation finished');
      await page.getByTestId('watch-node-pc-station').click();
      await expect(page.getByTestId('watch-selected-pc')).toContainText('the per-MAC script fetched: seen at');
      await page.screenshot({ path: `${SHOTS}/watch-stopped.png`, fullPage: true });

      const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('watch-export-md').click()]);
      expect(dl.suggestedFilename()).toBe(`bootchain-watch-${input.name}.md`);
      const md = readFileSync((await dl.path())!, 'utf8');
      process.stdout.write(`watch.spec: the Markdown export:\n${md.split('\n').filter((l) => !l.startsWith('```') && l.trim()).slice(0, 24).join('\n')}\n`);
      expect(md).toContain(`# Boot watch: ${input.name}`);
      expect(md).toContain('## pc (52:54:00:b0:1a:01): stopped at bootsector');
      expect(md).toMatch(/\| [\d.]+ s \| the per-MAC script fetched \| marker \|/);
      expect(md).toContain('Fix: Put the operating system on this disk first');
      const [dj] = await Promise.all([page.waitForEvent('download'), page.getByTestId('watch-export-json').click()]);
      const json = JSON.parse(readFileSync((await dj.path())!, 'utf8')) as { ended: string; stations: Array<{ stopped?: { link: string } }> };
      expect(json.ended).toBe('all-done');
      expect(json.stations[0]?.stopped?.link).toBe('bootsector');

      const a = await axeCounts(page, 'diagnostics-watch');
      expect(a.worst, 'axe found serious or critical violations on the watch').toEqual([]);
    } finally {
      vmStop.abort();
      await vm;
      await wl.stop();
    }
  });
});
