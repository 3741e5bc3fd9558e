/**
 * Runs inside the lab's desk namespace (bench/tftp.ts starts it). Two lab hosts serve the same
 * 64 MiB file: Bootchain's server (`bootchain serve`, TFTP + HTTP) on .51 and tftpd-hpa on .52.
 * Clients from desk, alternating: curl over TFTP (blksize 1432) against both; Bootchain's own
 * client with windowsize 16 against ours and without against tftpd-hpa (which has no windowsize);
 * curl over HTTP against ours. Prints JSON.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CLI } from '../electron/cli/run-cli';
import { tftpGet } from '../electron/services/tftp/client';
import { addLabHost, currentLab } from '../e2e/lab/lab';

const pexec = promisify(execFile);

async function main(): Promise<void> {
  const L = currentLab();
  if (!L) throw new Error('run inside the lab (bench/tftp.ts does)');
  const runs = Number(process.argv[2] ?? 3);
  const mib = Number(process.env.BENCH_TFTP_MIB ?? 64);
  const dir = path.join(L.dir, 'tftp-bench');
  mkdirSync(dir, { recursive: true });
  const data = randomBytes(mib << 20);
  const want = createHash('sha256').update(data).digest('hex');
  writeFileSync(path.join(dir, 'big.bin'), data);
  const ours = await addLabHost(L, 'tsrv', ['10.77.0.51']);
  const hpa = await addLabHost(L, 'thpa', ['10.77.0.52']);
  const out: Record<string, number[]> = { oursCurl: [], hpaCurl: [], oursWin16: [], hpaNoWin: [], oursNoWin: [], http: [] };
  try {
    ours.daemon('serve', process.execPath, [CLI, 'serve', '--root', dir, '--address', '10.77.0.51', '--http', '8080', '--quiet']);
    hpa.daemon('tftpd', '/usr/sbin/in.tftpd', ['-L', '-s', '-a', '10.77.0.52:69', dir]);
    await new Promise((r) => setTimeout(r, 1500));
    const curl = async (url: string, extra: string[] = []) => {
      const t0 = performance.now();
      const r = await pexec('curl', ['-sf', ...extra, url], { encoding: 'buffer', maxBuffer: (mib + 1) << 20 });
      const ms = performance.now() - t0;
      if (createHash('sha256').update(r.stdout).digest('hex') !== want) throw new Error(`${url}: wrong bytes`);
      return ms;
    };
    const ownClient = async (host: string, windowsize: number) => {
      const t0 = performance.now();
      const r = await tftpGet(host, 'big.bin', { blksize: 1432, windowsize, timeoutMs: 1000, retries: 5, maxBytes: (mib + 1) << 20 });
      const ms = performance.now() - t0;
      if (createHash('sha256').update(r.data).digest('hex') !== want) throw new Error(`${host}: wrong bytes`);
      return ms;
    };
    for (let i = 0; i < runs; i++) {
      const pair = async (a: () => Promise<number>, ka: string, b: () => Promise<number>, kb: string) => {
        if (i % 2 === 0) {
          out[ka]!.push(await a());
          out[kb]!.push(await b());
        } else {
          out[kb]!.push(await b());
          out[ka]!.push(await a());
        }
      };
      await pair(() => curl('tftp://10.77.0.51/big.bin', ['--tftp-blksize', '1432']), 'oursCurl', () => curl('tftp://10.77.0.52/big.bin', ['--tftp-blksize', '1432']), 'hpaCurl');
      await pair(() => ownClient('10.77.0.51', 16), 'oursWin16', () => ownClient('10.77.0.52', 0), 'hpaNoWin');
      out.oursNoWin!.push(await ownClient('10.77.0.51', 0));
      out.http!.push(await curl('http://10.77.0.51:8080/big.bin'));
    }
  } finally {
    await ours.remove();
    await hpa.remove();
  }
  process.stdout.write(`${JSON.stringify({ mib, ...out })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`tftp bench: ${String(e)}\n`);
  process.exit(1);
});
