/**
 * Lab control: `tsx e2e/lab/cli.ts up | down | status | run -- <command...>`.
 * `run` builds the lab, runs the command inside the desk namespace, and always tears it down;
 * `status` says whether the lab of BOOTCHAIN_LAB_PREFIX is up (exit 0) or not (exit 1).
 */
import { spawn } from 'node:child_process';
import { labStatus, labUpReport } from './control';
import { inDesk, labDown, labPrefix, labUp } from './lab';

async function main(): Promise<number> {
  const [verb, ...rest] = process.argv.slice(2);
  switch (verb) {
    case 'up': {
      process.stdout.write(labUpReport(await labUp()));
      return 0;
    }
    case 'status': {
      const s = labStatus({ prefix: labPrefix() });
      process.stdout.write(s.text);
      return s.code;
    }
    case 'down':
      await labDown();
      process.stdout.write(`lab ${labPrefix()} down\n`);
      return 0;
    case 'run': {
      const cmd = rest[0] === '--' ? rest.slice(1) : rest;
      if (cmd.length === 0) throw new Error('run needs a command after --');
      const info = await labUp();
      const stop = () => void labDown().then(() => process.exit(130));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        return await new Promise<number>((resolve) => {
          const child = spawn('ip', inDesk(info, cmd), { stdio: 'inherit' });
          child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : 1)));
        });
      } finally {
        await labDown();
      }
    }
    default:
      process.stdout.write('usage: tsx e2e/lab/cli.ts up | down | status | run -- <command...>\n');
      return verb === undefined || verb === 'help' ? 0 : 2;
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`lab: ${e instanceof Error ? e.message : String(e)}\n`);
    void labDown().finally(() => process.exit(1));
  },
);
