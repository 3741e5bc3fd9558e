import type { Page } from '@playwright/test';

/** Presses Tab until the element with this test id has the focus (at most `max` presses). */
export async function tabTo(page: Page, testId: string, max = 80): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if ((await page.locator(':focus').getAttribute('data-testid', { timeout: 1000 }).catch(() => null)) === testId) return;
  }
  throw new Error(`Tab never reached ${testId}`);
}
