import { currentLab, type LabInfo } from '../lab/lab';

/**
 * The running lab, or undefined with the reason printed: integration tests skip (never pass
 * silently) when they are not run inside the lab (`npm test` runs them there).
 */
export function labOrSkipReason(file: string): LabInfo | undefined {
  const lab = currentLab();
  if (!lab) {
    process.stdout.write(
      `SKIP ${file}: no lab (BOOTCHAIN_LAB unset). Run \`npm test\`, or \`npx tsx e2e/lab/cli.ts run -- npx vitest run --project integration\`.\n`,
    );
  }
  return lab;
}
