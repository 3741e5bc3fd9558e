import path from 'node:path';
import { keepServing } from '../services/net/guard';
import { startHarness } from './server';

/** `npm run harness [-- --port N --host 127.0.0.1 --root DIR]`: serves the app to a browser. */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  if (args.includes('--help')) {
    process.stdout.write(
      'Usage: npm run harness -- [--host 127.0.0.1] [--port 0] [--root out/renderer]\n' +
        'Serves the Bootchain UI and its services on loopback; open the printed URL (it carries the access token).\n',
    );
    return;
  }
  // Built as CommonJS next to out/renderer.
  const root = opt('root') ?? path.resolve(__dirname, '../renderer');
  const port = Number(opt('port') ?? process.env.BOOTCHAIN_HARNESS_PORT ?? 0);
  const h = await startHarness({ root, host: opt('host') ?? '127.0.0.1', port, ...(process.env.BOOTCHAIN_HARNESS_TOKEN ? { token: process.env.BOOTCHAIN_HARNESS_TOKEN } : {}) });
  process.stdout.write(`Bootchain harness: ${h.url}\n`);
  // One bad request must not end the session of the page (and its jobs): report, keep serving.
  keepServing((line) => process.stderr.write(`bootchain harness: ${line}\n`));
  const stop = () => {
    void h.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`bootchain harness: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
