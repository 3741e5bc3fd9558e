/**
 * `npm run bench`: builds the lab, runs every benchmark inside it, prints each figure beside a
 * reference tool's figure from the same run and their ratio, and tears the lab down.
 * `npm run bench -- NAME...` (or BENCH_ONLY=NAME,NAME) runs only the named benchmarks:
 * scan, iscsi, iscsi-write, upload, verify, tftp, lockstep, storm, build.
 */
import { labDown, labUp, type LabInfo } from '../e2e/lab/lab';
import { benchBuild } from './build';
import { benchIscsi } from './iscsi';
import { benchIscsiWrite } from './iscsi-write';
import { benchScan } from './scan';
import { benchLockstep, benchStorm } from './tftp-storm';
import { benchUpload } from './upload';
import { benchVerify } from './verify';
import { benchTftp } from './tftp';

/** Every benchmark by name, in the order they run; `undefined` from one means it could not run. */
const BENCHES: Array<{ name: string; title: string; run: (lab: LabInfo) => Promise<boolean | undefined> }> = [
  { name: 'scan', title: 'scan', run: benchScan },
  { name: 'iscsi', title: 'iscsi discovery', run: benchIscsi },
  { name: 'iscsi-write', title: 'iscsi write (256 MiB image)', run: benchIscsiWrite },
  { name: 'upload', title: 'upload', run: benchUpload },
  { name: 'verify', title: 'verify', run: benchVerify },
  { name: 'tftp', title: 'boot server (TFTP)', run: benchTftp },
  { name: 'lockstep', title: 'TFTP lockstep 64 MiB', run: benchLockstep },
  { name: 'storm', title: 'boot storm (200 clients)', run: benchStorm },
  { name: 'build', title: 'ipxe build', run: () => benchBuild() },
];

/** The benchmarks asked for: command-line names, else BENCH_ONLY, else all. */
function selected(): typeof BENCHES {
  const names = [...process.argv.slice(2), ...(process.env.BENCH_ONLY ?? '').split(',')].map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) return BENCHES;
  const unknown = names.filter((n) => !BENCHES.some((b) => b.name === n));
  if (unknown.length > 0) throw new Error(`no benchmark named ${unknown.join(', ')} (there are: ${BENCHES.map((b) => b.name).join(', ')})`);
  return BENCHES.filter((b) => names.includes(b.name));
}

async function main(): Promise<number> {
  const chosen = selected();
  const lab = await labUp();
  try {
    process.stdout.write(`Bootchain benchmarks (lab ${lab.subnet}, ${new Date().toISOString()})\n\n`);
    const results: Array<[string, boolean]> = [];
    for (const b of chosen) {
      const ok = await b.run(lab);
      if (ok !== undefined) results.push([b.title, ok]);
      process.stdout.write('\n');
    }
    process.stdout.write(`${results.map(([n, ok]) => `${n}: ${ok ? 'goal met' : 'GOAL MISSED'}`).join('\n')}\n`);
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
