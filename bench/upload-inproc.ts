/**
 * Runs inside the lab's desk namespace (bench/upload.ts starts it): for each run, Bootchain's
 * upload (connect, host-key check, plan, backup set, atomic writes, sha256 check on the server)
 * and OpenSSH's `sftp -b` putting the same bytes to the same sshd, alternating. Prints JSON.
 * Each run changes every file so both sides really write all of it.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { currentLab } from '../e2e/lab/lab';
import { uploadJob } from '../electron/services/upload/job';
import { KnownHosts } from '../electron/services/upload/known-hosts';
import { trustHostKey, hostKeyStatus } from '../electron/services/upload/ssh';

const pexec = promisify(execFile);

async function main(): Promise<void> {
  const lab = currentLab();
  if (!lab) throw new Error('run inside the lab (bench/upload.ts does)');
  const runs = Number(process.argv[2] ?? 5);
  const S = lab.ssh;
  const work = mkdtempSync(path.join(os.tmpdir(), 'bc-bench-upload-'));
  const known = new KnownHosts(path.join(work, 'known_hosts'));
  await trustHostKey(S.host, S.port, (await hostKeyStatus(S.host, S.port, known)).fingerprint, known);
  // OpenSSH gets the same key (unencrypted copy for batch mode) and the same trust.
  const key = S.root.agentKey;
  const sshOpts = ['-i', key, '-o', `UserKnownHostsFile=${known.file}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes'];
  const big = randomBytes(10 << 20);
  const small = Array.from({ length: 50 }, (_, i) => randomBytes(1024 + ((i * 997) % 3072)));
  const out: Record<string, { ours: number[]; sftp: number[] }> = { big: { ours: [], sftp: [] }, small: { ours: [], sftp: [] } };
  for (const kind of ["big", "small"] as const) {
    const ourRoot = path.join(lab.nas.tftpRoot, `bench-ours-${kind}`);
    const theirRoot = path.join(lab.nas.tftpRoot, `bench-sftp-${kind}`);
    mkdirSync(ourRoot, { recursive: true });
    mkdirSync(theirRoot, { recursive: true });
    for (let run = 0; run < runs; run++) {
      const stamp = Buffer.from(`run-${run}-${Date.now()}`);
      const files: Record<string, Buffer> = {};
      if (kind === 'big') files['big.bin'] = Buffer.concat([stamp, big.subarray(stamp.length)]);
      else small.forEach((b, i) => (files[`s${String(i).padStart(2, '0')}.ipxe`] = Buffer.concat([stamp, b])));
      // The same bytes, from files on disk, for sftp.
      const local = mkdtempSync(path.join(work, 'put-'));
      const batch = [`cd ${theirRoot}`, ...Object.keys(files).map((f) => `put ${path.join(local, f)} ${f}`), ''].join('\n');
      for (const [f, b] of Object.entries(files)) writeFileSync(path.join(local, f), b);
      writeFileSync(path.join(local, 'batch'), batch);
      const doOurs = async () => {
        const t0 = performance.now();
        const r = await uploadJob(
          { files, target: { kind: 'ssh', host: S.host, port: S.port, user: 'root', root: ourRoot, auth: { kind: 'key', path: key } }, dryRun: false },
          { knownHostsFile: known.file },
          { signal: new AbortController().signal, progress: () => undefined, log: () => undefined, item: () => undefined },
        );
        if (r.plan.add.length + r.plan.change.length !== Object.keys(files).length) throw new Error('bench: not every file was written');
        out[kind]!.ours.push(performance.now() - t0);
      };
      const doSftp = async () => {
        const t0 = performance.now();
        await pexec('sftp', [...sshOpts, '-b', path.join(local, 'batch'), `root@${S.host}`]);
        out[kind]!.sftp.push(performance.now() - t0);
      };
      if (run % 2 === 0) {
        await doOurs();
        await doSftp();
      } else {
        await doSftp();
        await doOurs();
      }
    }
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`upload bench: ${String(e)}\n`);
  process.exit(1);
});
