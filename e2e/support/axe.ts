import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';

/** Violations of one page state, by axe's impact. */
export interface AxeCounts {
  step: string;
  critical: number;
  serious: number;
  moderate: number;
  minor: number;
  /** "rule: target" for each serious or critical node (what to fix). */
  worst: string[];
}

const RECORD = path.join('e2e', 'artifacts', 'axe.ndjson');

/**
 * Runs axe-core (WCAG 2.0/2.1 A and AA rules) on the page as it is now, prints one line with the
 * counts (`axe <step>: 0 critical, 0 serious, 2 moderate, 0 minor`), appends them to
 * e2e/artifacts/axe.ndjson, and returns them; the caller asserts on them.
 */
export async function axeCounts(page: Page, step: string): Promise<AxeCounts> {
  const r = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const c: AxeCounts = { step, critical: 0, serious: 0, moderate: 0, minor: 0, worst: [] };
  for (const v of r.violations) {
    const impact = (v.impact ?? 'minor') as 'critical' | 'serious' | 'moderate' | 'minor';
    c[impact] += v.nodes.length;
    if (impact === 'critical' || impact === 'serious') for (const n of v.nodes) c.worst.push(`${v.id}: ${n.target.join(' ')}`);
  }
  process.stdout.write(`axe ${step}: ${c.critical} critical, ${c.serious} serious, ${c.moderate} moderate, ${c.minor} minor${c.worst.length ? ` — ${c.worst.join('; ')}` : ''}\n`);
  mkdirSync(path.dirname(RECORD), { recursive: true });
  appendFileSync(RECORD, `${JSON.stringify(c)}\n`);
  return c;
}
