import path from 'node:path';
import { KNOWN_HOSTS_FLAG, PROJECT_FLAG, projectFrom, projectSecrets, SECRETS_FLAG, TARGET_FLAGS, targetFrom, trustFirst, withTrustHint } from '../inputs';
import { usage, verb, type FlagReader } from '../options';
import { print, printJson } from '../render';
import { Session } from '../session';

const BUILD_FLAG = { name: 'build', value: 'DIR', help: "a build folder with manifest.json to use instead of the project's (`<data dir>/builds/<project>`)" } as const;
/** Flags of upload alone. */
const UPLOAD_FLAGS = [SECRETS_FLAG, BUILD_FLAG, { name: 'dry-run', help: 'only print the plan', field: 'dryRun' }, { name: 'no-tftp-check', help: 'skip fetching the files back over TFTP' }] as const;
/** backups and rollback take upload's command line as it is (scripts swap the verb): its own flags are accepted there and do nothing. */
const AS_UPLOAD = UPLOAD_FLAGS.map((f) => ({ ...f, help: "as for upload (accepted, so an upload's command line works here too; no effect)" }));

/** The session of a verb that reaches the server: its known-hosts file, and --trust applied first. */
async function onTarget(a: FlagReader<typeof TARGET_FLAGS>, p: Parameters<typeof targetFrom>[1], more: { buildDir?: string | undefined; secrets?: Record<string, string> } = {}) {
  const knownHosts = a.str('known-hosts');
  const s = new Session({ knownHosts: knownHosts ? path.resolve(knownHosts) : undefined, buildDir: more.buildDir ? path.resolve(more.buildDir) : undefined, secrets: more.secrets });
  const target = await targetFrom(a, p);
  await trustFirst(s, a, target).catch(withTrustHint);
  return { s, target };
}

export const upload = verb({
  name: 'upload',
  usage: ['upload --project FILE'],
  summary: 'put the boot files into the NAS\'s TFTP root over SSH/SFTP, or into a folder (see "Uploading to the NAS").',
  about:
    "The served scripts (default.ipxe, autoexec.ipxe, one per workstation) and the built binaries. Shows the plan (+ new, ~ changed, = unchanged, ? ours but no longer in the project), keeps a backup set of every replaced file, writes each file atomically, checks the server's copy (sha256sum, or read back) and fetches every file over TFTP.",
  flags: [PROJECT_FLAG, ...TARGET_FLAGS, ...UPLOAD_FLAGS],
  async run(a) {
    const { raw, project } = projectFrom(a, 'upload');
    const secrets = await projectSecrets(a, project);
    const { s, target } = await onTarget(a, project, { buildDir: a.str('build'), secrets });
    const input = { project: raw, target, dryRun: a.has('dry-run'), verifyTftp: target.kind === 'ssh' && !a.has('no-tftp-check') };
    const r = await s.job('upload:start', input, { out: a, logs: 'warn' }).catch(withTrustHint);
    if (a.json) {
      printJson(r);
      return r.tftp && !r.tftp.ok ? 1 : 0;
    }
    const mark = (sym: string, list: string[]) => list.forEach((f) => print(`${sym} ${f}`));
    mark('+', r.plan.add);
    mark('~', r.plan.change);
    mark('=', r.plan.same);
    mark('?', r.plan.extra);
    if (r.dryRun) print(`plan for ${r.target}: ${r.plan.add.length} new, ${r.plan.change.length} changed, ${r.plan.same.length} unchanged, ${r.plan.bytes} bytes to write (nothing written)`);
    else {
      print(`uploaded ${r.bytes} bytes to ${r.target} in ${(r.durationMs / 1000).toFixed(1)} s; verified by ${r.files.find((f) => f.action !== 'same')?.verified ?? 'nothing written'}${r.backup ? `; backup set ${r.backup} (bootchain rollback restores it)` : ''}`);
      if (r.tftp) print(r.tftp.ok ? `TFTP: ${r.tftp.host} serves all ${r.tftp.checked} files as uploaded` : `TFTP: ${r.tftp.problems.join('\nTFTP: ')}`);
    }
    return r.tftp && !r.tftp.ok ? 1 : 0;
  },
});

export const backups = verb({
  name: 'backups',
  usage: ['backups --project FILE'],
  summary: 'the backup sets on the server, newest first',
  flags: [PROJECT_FLAG, ...TARGET_FLAGS, ...AS_UPLOAD],
  async run(a) {
    const { s, target } = await onTarget(a, projectFrom(a, 'backups').project);
    const sets = await s.call('upload:backups', { target }).catch(withTrustHint);
    if (a.json) printJson(sets);
    else for (const x of sets) print(`${x.id}\t${x.created}\treplaced ${x.replaced.length}, added ${x.added.length}`);
    return 0;
  },
});

export const rollback = verb({
  name: 'rollback',
  usage: ['rollback --project FILE'],
  summary: 'restore what the newest upload (or set ID) replaced, remove what it added',
  flags: [PROJECT_FLAG, { name: 'id', value: 'ID', help: 'the backup set to restore (default: the newest)', field: 'id' }, ...TARGET_FLAGS, ...AS_UPLOAD],
  async run(a) {
    const { s, target } = await onTarget(a, projectFrom(a, 'rollback').project);
    const id = a.str('id');
    const r = await s.call('upload:rollback', { target, ...(id ? { id } : {}) }).catch(withTrustHint);
    if (a.json) printJson(r);
    else print(`rolled back ${r.id}: restored ${r.restored.join(', ') || 'nothing'}; removed ${r.removed.join(', ') || 'nothing'}`);
    return 0;
  },
});

export const hostkey = verb({
  name: 'hostkey',
  usage: ['hostkey HOST[:PORT]'],
  summary: "the server's host key fingerprint and whether Bootchain trusts it (exit 1 when it changed)",
  flags: [KNOWN_HOSTS_FLAG],
  async run(a) {
    const arg = a.pos[0];
    if (!arg) throw usage('hostkey takes HOST[:PORT]');
    const [host, portText] = arg.split(':') as [string, string | undefined];
    const knownHosts = a.str('known-hosts');
    const st = await new Session({ knownHosts: knownHosts ? path.resolve(knownHosts) : undefined }).call('ssh:hostkey', { host, port: portText ? Number(portText) : 22 });
    if (a.json) printJson(st);
    else print(`${st.host}:${st.port} ${st.keyType} ${st.fingerprint} ${st.status}${st.knownFingerprint ? ` (trusted before: ${st.knownFingerprint})` : ''}`);
    return st.status === 'changed' ? 1 : 0;
  },
});
