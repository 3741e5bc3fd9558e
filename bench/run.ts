/**
 * `npm run bench`: builds the lab, runs every benchmark inside it, prints each figure beside a
 * reference tool's figure from the same run and their ratio, and tears the lab down.
 */
import { labDown, labUp } from '../e2e/lab/lab';
import { benchBuild } from './build';
import { benchIscsi } from './iscsi';
import { benchScan } from './scan';
import { benchUpload } from './upload';
import { benchVerify } from './verify';
import { benchTftp } from './tftp';

async function main(): Promise<number> {
  const lab = await labUp();
  try {
    process.stdout.write(`Bootchain benchmarks (lab ${lab.subnet}, ${new Date().toISOString()})\n\n`);
    const results: Array<[string, boolean]> = [];
    results.push(['scan', await benchScan(lab)]);
    process.stdout.write('\n');
    results.push(['iscsi discovery', await benchIscsi(lab)]);
    process.stdout.write('\n');
    results.push(['upload', await benchUpload(lab)]);
    process.stdout.write('\n');
    results.push(['verify', await benchVerify(lab)]);
    process.stdout.write('\n');
    results.push(['boot server (TFTP)', await benchTftp(lab)]);
    process.stdout.write('\n');
    const build = await benchBuild();
    if (build !== undefined) results.push(['ipxe build', build]);
    process.stdout.write(`\n${results.map(([n, ok]) => `${n}: ${ok ? 'goal met' : 'GOAL MISSED'}`).join('\n')}\n`);
    return 0;
  } finally {
    await labDown();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: ${String(e)}\n`);
    void labDown().finally(() => process.exit(1));
  },
);
