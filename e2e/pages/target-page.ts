import { expect, type Locator, type Page } from '@playwright/test';

/** Page object of the Target step. */
export class TargetPage {
  readonly discover: Locator;
  readonly rows: Locator;

  constructor(readonly page: Page) {
    this.discover = page.getByTestId('discover-start');
    this.rows = page.getByTestId('target-row');
  }

  row(target: string): Locator {
    return this.page.locator(`[data-testid="target-row"][data-target="${target}"]`);
  }

  /** Waits until the target's probe has finished, whatever its outcome. */
  async settled(target: string): Promise<Locator> {
    const r = this.row(target);
    await expect(r).toHaveAttribute('data-status', /succeeded|failed/);
    return r;
  }

  async setTargetChap(user: string, secret: string): Promise<void> {
    const enabled = this.page.getByTestId('target-chap-enabled');
    if (!(await enabled.isChecked())) await enabled.check();
    await this.page.getByTestId('target-chap-user').fill(user);
    await this.page.getByTestId('target-chap-secret').fill(secret);
  }
}
