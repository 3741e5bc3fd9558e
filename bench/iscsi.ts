/**
 * iSCSI benchmarks in the lab: SendTargets discovery with our CLI beside open-iscsi's
 * `iscsiadm -m discovery -t st` on the same tgtd in the same run, and the probe of a target.
 *
 * Here iscsiadm has no iscsid (no iSCSI kernel modules): it sleeps 1 s per record trying to
 * start one. Its wall time is printed as measured, and also less those sleeps (counted from its
 * log) as an estimate of its own protocol time, beside our in-process discovery time.
 */
import path from 'node:path';
import { inDesk, type LabInfo } from '../e2e/lab/lab';
import { median, report, timed } from './lib';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const INI = 'iqn.2024-01.io.bootchain:bench';

export async function benchIscsi(lab: LabInfo): Promise<boolean> {
  const root = path.resolve(__dirname, '..');
  const cli = path.join(root, 'out/main/cli.js');
  const script = path.join(root, 'e2e/lab/iscsiadm-discovery.sh');
  const c = lab.iscsi.chap.discovery;
  const ours: number[] = [];
  const theirs: number[] = [];
  const theirsNet: number[] = [];
  let same = true;
  const lines = (s: string) => s.split('\n').filter((l) => /^\S+:\d+,\d+ \S+$/.test(l)).sort();
  for (let i = 0; i < RUNS; i++) {
    const a = await timed('ip', inDesk(lab, ['env', `BOOTCHAIN_CHAP_SECRET=${c.secret}`, process.execPath, cli, 'discover', lab.iscsi.portalB, '--initiator', INI, '--chap-user', c.username]));
    if (a.code !== 0) throw new Error(`bootchain discover exited ${a.code}`);
    ours.push(a.ms);
    const b = await timed('ip', inDesk(lab, ['unshare', '-m', 'env', `ISCSI_CHAP_USER=${c.username}`, `ISCSI_CHAP_SECRET=${c.secret}`, 'sh', script, lab.iscsi.portalB, INI, '1']));
    if (b.code !== 0) throw new Error(`iscsiadm discovery exited ${b.code}`);
    const m = /# ms (\d+) iscsid-sleeps (\d+)/.exec(b.stdout);
    theirs.push(Number(m?.[1] ?? b.ms));
    theirsNet.push(Number(m?.[1] ?? 0) - 1000 * Number(m?.[2] ?? 0));
    same &&= JSON.stringify(lines(a.stdout)) === JSON.stringify(lines(b.stdout));
  }
  const { ratio } = report(`discovery with CHAP on ${lab.iscsi.portalB} (whole CLI command vs iscsiadm's own run time)`, ours, 'iscsiadm -m discoverydb --discover', theirs, '<= 0.5x');
  process.stdout.write(`  iscsiadm less its iscsid-start sleeps (estimate of its protocol time): median ${median(theirsNet).toFixed(0)} ms\n`);
  process.stdout.write(`  same targets listed: ${same ? 'yes' : 'NO'}\n`);

  // In-process figures (no Node start-up): discovery of the 49-target portal, and a probe.
  const inproc = await timed('ip', inDesk(lab, [process.execPath, path.join(root, 'node_modules/tsx/dist/cli.mjs'), path.join(__dirname, 'iscsi-inproc.ts'), lab.iscsi.portalsA[0]!, lab.iscsi.targets.mbr, String(RUNS)]));
  process.stdout.write(inproc.stdout);
  return same && ratio <= 0.5;
}
