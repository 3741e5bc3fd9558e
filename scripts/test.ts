/**
 * `npm test`: typecheck, build, unit and component tests, the packaging check, the Electronegativity
 * scan, then the lab
 * (network namespaces with real tgtd, dnsmasq, sshd, tftpd) with the integration tests and the
 * Playwright e2e run inside its desk namespace. Ends with one line: "tests: N passed, N failed, N skipped".
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { inDesk, labDown, labUp, type LabInfo } from '../e2e/lab/lab';

const root = path.resolve(__dirname, '..');
const reports = path.join(root, 'e2e/artifacts/reports');
const totals = { passed: 0, failed: 0, skipped: 0 };
const failures: string[] = [];

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  process.stdout.write(`\n$ ${cmd} ${args.join(' ')}\n`);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
    child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : 1)));
  });
}

/** A step that is one check (typecheck, build, packaging). */
async function step(name: string, cmd: string, args: string[]): Promise<boolean> {
  const code = await run(cmd, args);
  if (code === 0) totals.passed++;
  else {
    totals.failed++;
    failures.push(`${name} (exit ${code})`);
  }
  return code === 0;
}

/** Runs vitest projects and adds their counts. */
async function vitest(name: string, projects: string[], wrap?: (args: string[]) => [string, string[]]): Promise<void> {
  const out = path.join(reports, `${name}.json`);
  rmSync(out, { force: true });
  const args = [path.join(root, 'node_modules/vitest/vitest.mjs'), 'run', ...projects.flatMap((p) => ['--project', p]), '--reporter=default', '--reporter=json', `--outputFile.json=${out}`];
  const [cmd, full] = wrap ? wrap([process.execPath, ...args]) : [process.execPath, args];
  const code = await run(cmd, full);
  if (!existsSync(out)) {
    totals.failed++;
    failures.push(`${name}: vitest wrote no report (exit ${code})`);
    return;
  }
  const r = JSON.parse(readFileSync(out, 'utf8')) as { numPassedTests: number; numFailedTests: number; numPendingTests: number; numTodoTests: number };
  totals.passed += r.numPassedTests;
  totals.failed += r.numFailedTests;
  totals.skipped += r.numPendingTests + r.numTodoTests;
  if (r.numFailedTests > 0 || code !== 0) failures.push(`${name}: ${r.numFailedTests} failed (exit ${code})`);
  if (r.numFailedTests === 0 && code !== 0) totals.failed++;
}

/** Runs Playwright and adds its counts. */
async function playwright(wrap: (args: string[]) => [string, string[]]): Promise<void> {
  const out = path.join(reports, 'e2e.json');
  rmSync(out, { force: true });
  const [cmd, args] = wrap([
    'env',
    `PLAYWRIGHT_JSON_OUTPUT_NAME=${out}`,
    process.execPath,
    path.join(root, 'node_modules/@playwright/test/cli.js'),
    'test',
    '--reporter=list,json',
  ]);
  const code = await run(cmd, args);
  if (!existsSync(out)) {
    totals.failed++;
    failures.push(`e2e: Playwright wrote no report (exit ${code})`);
    return;
  }
  const r = JSON.parse(readFileSync(out, 'utf8')) as { stats: { expected: number; unexpected: number; skipped: number; flaky: number } };
  totals.passed += r.stats.expected + r.stats.flaky;
  totals.failed += r.stats.unexpected;
  totals.skipped += r.stats.skipped;
  if (r.stats.unexpected > 0 || code !== 0) failures.push(`e2e: ${r.stats.unexpected} failed (exit ${code})`);
  if (r.stats.unexpected === 0 && code !== 0) totals.failed++;
}

function canRunLab(): string | undefined {
  if (process.getuid?.() !== 0) return 'the lab needs root (network namespaces)';
  for (const t of ['/usr/sbin/tgtd', '/usr/sbin/dnsmasq', '/usr/sbin/sshd', '/usr/sbin/in.tftpd', '/usr/bin/chromium']) {
    if (!existsSync(t)) return `${t} is missing (see .ci/run for the packages)`;
  }
  return undefined;
}

async function main(): Promise<number> {
  mkdirSync(reports, { recursive: true });
  const started = Date.now();
  await step('typecheck', 'npm', ['run', '--silent', 'typecheck']);
  const built = await step('build', 'npm', ['run', '--silent', 'build']);
  await vitest('unit', ['unit', 'dom']);
  if (built) await step('packaging', process.execPath, [path.join(root, 'scripts/check-packaging.mjs')]);
  if (built) await step('electronegativity', process.execPath, [path.join(root, 'scripts/check-electronegativity.mjs')]);
  const why = canRunLab();
  if (why || !built) {
    process.stdout.write(`\nSKIP integration and e2e tests: ${why ?? 'the build failed'}\n`);
    await vitest('integration', ['integration']);
    totals.skipped += 1;
  } else {
    let lab: LabInfo | undefined;
    try {
      lab = await labUp();
      const desk = (args: string[]): [string, string[]] => ['ip', inDesk(lab!, args)];
      await vitest('integration', ['integration'], desk);
      await playwright(desk);
    } catch (e) {
      totals.failed++;
      failures.push(`lab: ${(e as Error).message}`);
    } finally {
      await labDown();
    }
  }
  process.stdout.write(`\n${failures.length ? `Failures:\n  ${failures.join('\n  ')}\n` : ''}Took ${Math.round((Date.now() - started) / 1000)} s\n`);
  process.stdout.write(`tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`);
  return totals.failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`test runner: ${String(e)}\n`);
    process.exit(1);
  },
);
