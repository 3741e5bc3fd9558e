import { expect, type Locator, type Page } from '@playwright/test';

/** Page object of the Scan step. */
export class ScanPage {
  readonly targets: Locator;
  readonly start: Locator;
  readonly cancel: Locator;
  readonly progress: Locator;
  readonly rows: Locator;
  readonly formError: Locator;

  constructor(readonly page: Page) {
    this.targets = page.getByTestId('scan-targets');
    this.start = page.getByTestId('scan-start');
    this.cancel = page.getByTestId('scan-cancel');
    this.progress = page.getByTestId('progress-text');
    this.rows = page.getByTestId('portal-row');
    this.formError = page.getByTestId('scan-form-error');
  }

  /** Opens the app with the harness token and starts a new setup (the Start screen's primary action). */
  async open(): Promise<void> {
    await this.page.goto(`/#token=${process.env.BOOTCHAIN_HARNESS_TOKEN}`);
    await expect(this.page.getByTestId('app-info')).toContainText('harness');
    await this.page.getByTestId('start-new').click();
    await expect(this.page.getByTestId('step-scan')).toBeVisible();
  }

  /** Sets connections-at-once in the advanced section. */
  async setConcurrency(n: number): Promise<void> {
    await this.page.locator('details.advanced summary').click();
    await this.page.getByTestId('scan-concurrency').fill(String(n));
  }

  /** address:port of the rows whose check says iSCSI (true) or not (false). */
  async portals(iscsi: boolean): Promise<string[]> {
    const rows = this.page.locator(`[data-testid="portal-row"][data-iscsi="${iscsi}"]`);
    const n = await rows.count();
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = rows.nth(i);
      out.push(`${await r.getAttribute('data-address')}:${await r.getAttribute('data-port')}`);
    }
    return out;
  }
}
