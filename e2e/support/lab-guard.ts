import { mkdirSync } from 'node:fs';
import { currentLab, type LabInfo } from '../lab/lab';

/** Where e2e specs keep their screenshots (git-ignored); made on first use. */
export function screenshotDir(): string {
  const dir = 'e2e/artifacts';
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * The running lab, or undefined with the reason printed: integration tests skip (never pass
 * silently) when they are not run inside the lab (`npm test` runs them there).
 */
export function labOrSkipReason(file: string): LabInfo | undefined {
  const lab = currentLab();
  if (!lab) {
    process.stdout.write(
      `SKIP ${file}: no lab (BOOTCHAIN_LAB unset). Run \`npm test\`, or the command inside the lab: \`npm run lab -- run -- <command>\`.\n`,
    );
  }
  return lab;
}
