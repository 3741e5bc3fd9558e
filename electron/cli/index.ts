/** The `bootchain` command (out/main/cli.js): the verbs are in verbs/, the running in main.ts. */
import { runCli } from './main';

// `bootchain discover ... | head` closes our stdout early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`bootchain: ${String(e)}\n`);
    process.exitCode = 1;
  },
);
