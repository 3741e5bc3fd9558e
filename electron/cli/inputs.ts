/**
 * What the CLI gathers before it calls the contract, and the window gathers in its forms: files
 * named by flags, secrets from files, the environment or a prompt on the terminal (never echoed),
 * the upload target, portals typed as `address[:port]`. Checking the values is the handlers' job.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BootchainError } from '../../shared/errors';
import type { Project } from '../../shared/model/project';
import { ISCSI_PORT } from '../../shared/scan';
import { chapRefs, secretEnvName } from '../../shared/secrets';
import type { SshAuth, UploadTargetInput } from '../../shared/upload';
import { validProject } from '../services/api/handlers';
import { keyNeedsPassphrase } from '../services/upload/keyfile';
import { usage, type Flag, type FlagReader } from './options';
import { promptSecret } from './prompt';
import type { Session } from './session';

/** Reads a text file the command line names; one that cannot be read is a usage error naming it (`label`: "--project FILE" …). */
export function readTextFile(label: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw usage(`${label}: ${(e as Error).message}`);
  }
}

/** Reads the JSON file of --project (or --secrets); a bad file is a usage error naming it. */
export function readJsonFile(flag: string, file: string): unknown {
  const text = readTextFile(`--${flag} ${file}`, file);
  try {
    return JSON.parse(text);
  } catch (e) {
    // The parser's message quotes the text around the fault: of a secrets file, secrets.
    throw usage(`--${flag} ${file}: ${flag === 'secrets' ? 'not valid JSON; it must hold one object {"ref": "secret"} (what the parser found is not shown: it would quote the secrets)' : (e as Error).message}`);
  }
}

export const PROJECT_FLAG = { name: 'project', value: 'FILE', help: 'the project (JSON, as the app exports it)', field: 'project' } as const satisfies Flag;
export const SECRETS_FLAG = {
  name: 'secrets',
  value: 'FILE',
  help: 'CHAP secrets by reference, a JSON object {"ref": "secret"}; else `BOOTCHAIN_SECRET_<REF>` (upper case, other characters as `_`), else asked for on the terminal',
  field: 'secrets',
} as const satisfies Flag;

/** The --project file: as read (what goes to the handlers) and as the handlers read it (for the CLI's defaults). */
export function projectFrom(a: FlagReader<readonly [typeof PROJECT_FLAG]>, verb: string): { raw: unknown; project: Project } {
  const file = a.str('project');
  if (!file) throw usage(`${verb} needs --project FILE`);
  const raw = readJsonFile('project', file);
  return { raw, project: validProject(raw) };
}

/** CHAP secrets by reference: the --secrets file, then BOOTCHAIN_SECRET_<REF>, then a prompt on the terminal. */
export async function secretsFrom(a: FlagReader<readonly [typeof SECRETS_FLAG]>, refs: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const file = a.str('secrets');
  if (file) {
    const parsed = readJsonFile('secrets', file);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw usage('--secrets holds one JSON object {"ref": "secret"}');
    for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') out[k] = v;
  }
  for (const ref of refs) {
    const v = process.env[secretEnvName(ref)] || (out[ref] === undefined ? await promptSecret(`CHAP secret "${ref}" (or set ${secretEnvName(ref)}): `) : undefined);
    if (v !== undefined && out[ref] === undefined) out[ref] = v;
  }
  return out;
}

/** The secrets of every CHAP reference of the project. */
export const projectSecrets = (a: FlagReader<readonly [typeof SECRETS_FLAG]>, p: Project) => secretsFrom(a, chapRefs(p.workstations));

export const CHAP_FLAGS = [
  { name: 'chap-user', value: 'U', help: 'CHAP user; the secret comes from BOOTCHAIN_CHAP_SECRET, is asked for on the terminal (not echoed), or --chap-secret', field: 'chap.username' },
  { name: 'chap-secret', value: 'S', help: 'the CHAP secret (visible to other users of this machine in the process list)', field: 'chap.secret' },
  { name: 'mutual-user', value: 'U', help: "mutual CHAP: the target's user (optional); its secret from BOOTCHAIN_MUTUAL_SECRET, the prompt or --mutual-secret", field: 'chap.mutual.username' },
  { name: 'mutual-secret', value: 'S', help: "mutual CHAP: the target's secret (visible in the process list)", field: 'chap.mutual.secret' },
] as const satisfies readonly Flag[];

type ChapInput = { username: string; secret: string; mutual?: { username?: string; secret: string } };

/** CHAP from flags, the environment or a prompt on the terminal; secrets never echoed. */
export async function chapFrom(a: FlagReader<typeof CHAP_FLAGS>): Promise<ChapInput | undefined> {
  const user = a.str('chap-user');
  if (!user) {
    if (a.has('chap-secret') || a.has('mutual-secret')) throw usage('--chap-user is needed with a CHAP secret');
    return undefined;
  }
  const secret = a.str('chap-secret') ?? (process.env.BOOTCHAIN_CHAP_SECRET || (await promptSecret(`CHAP secret for ${user}: `)));
  if (!secret) throw usage('--chap-user needs a secret: set BOOTCHAIN_CHAP_SECRET (or --chap-secret), or run on a terminal to be asked');
  const chap: ChapInput = { username: user, secret };
  const mUser = a.str('mutual-user');
  const mSecret = a.str('mutual-secret') ?? (process.env.BOOTCHAIN_MUTUAL_SECRET || (mUser ? await promptSecret(`Mutual CHAP secret (the target's, user ${mUser}): `) : undefined));
  if (mSecret) chap.mutual = mUser ? { username: mUser, secret: mSecret } : { secret: mSecret };
  else if (mUser) throw usage('--mutual-user needs a secret: set BOOTCHAIN_MUTUAL_SECRET (or --mutual-secret), or run on a terminal to be asked');
  return chap;
}

/** Parses `address[:port]` or `[v6]:port`. */
export function parsePortal(t: string): { address: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+|[A-Za-z0-9.-]+))(?::(\d{1,5}))?$/.exec(t);
  if (!m) throw usage(`"${t}" is not a portal (address[:port])`);
  const port = m[3] ? Number(m[3]) : ISCSI_PORT;
  if (port < 1 || port > 65535) throw usage(`port ${port} is out of range: ports are 1 to 65535`);
  return { address: (m[1] ?? m[2])!, port };
}

export const KNOWN_HOSTS_FLAG = { name: 'known-hosts', value: 'FILE', help: "Bootchain's known hosts (default: `<data dir>/known_hosts`)" } as const satisfies Flag;

/** Where upload, backups and rollback go, and how they log in. */
export const TARGET_FLAGS = [
  { name: 'folder', value: 'DIR', help: 'export into this folder instead of SSH', field: 'target.path' },
  { name: 'host', value: 'H', help: "SSH server (default: the project's nas.ssh.host)", field: 'target.host' },
  { name: 'port', value: 'P', help: "SSH port (default: the project's nas.ssh.port, else 22)", field: 'target.port' },
  { name: 'user', value: 'U', help: "SSH user (default: the project's nas.ssh.user)", field: 'target.user' },
  { name: 'root', value: 'PATH', help: "TFTP root on the server (default: the project's nas.tftpRoot)", field: 'target.root' },
  { name: 'key', value: 'FILE', help: 'log in with this private key (passphrase from BOOTCHAIN_SSH_PASSPHRASE, else asked for on the terminal when the key is encrypted)', field: 'target.auth' },
  { name: 'agent', help: 'log in with the SSH agent (SSH_AUTH_SOCK)' },
  { name: 'password', help: 'log in with a password: BOOTCHAIN_SSH_PASSWORD, else asked for (default: --key if given, else the agent if running, else the password)' },
  { name: 'trust', value: 'SHA256:...', help: "trust the server's host key on first use if it has this fingerprint (compare with ssh-keygen -lf on the NAS); a changed key is always refused", field: 'fingerprint' },
  KNOWN_HOSTS_FLAG,
] as const satisfies readonly Flag[];

/** Whether a private key file needs a passphrase (unreadable files are left to the login to report). */
function keyIsEncrypted(file: string): boolean {
  try {
    return keyNeedsPassphrase(readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
}

/** The upload target from flags and the project's nas settings; secrets from the environment or a prompt. */
export async function targetFrom(a: FlagReader<typeof TARGET_FLAGS>, p: Project): Promise<UploadTargetInput> {
  const folder = a.str('folder');
  if (folder) return { kind: 'folder', path: path.resolve(folder) };
  const host = a.str('host') ?? p.nas.ssh?.host;
  const user = a.str('user') ?? p.nas.ssh?.user;
  if (!host || !user) throw usage('no SSH server: set nas.ssh in the project, or give --host and --user (or --folder DIR)');
  const key = a.str('key');
  let auth: SshAuth;
  if (key) {
    const passphrase = process.env.BOOTCHAIN_SSH_PASSPHRASE || (keyIsEncrypted(path.resolve(key)) ? await promptSecret(`Passphrase for ${key}: `) : undefined);
    auth = { kind: 'key', path: path.resolve(key), ...(passphrase ? { passphrase } : {}) };
  } else if (a.has('agent') || (!a.has('password') && process.env.SSH_AUTH_SOCK)) auth = { kind: 'agent' };
  else {
    const password = process.env.BOOTCHAIN_SSH_PASSWORD || (a.has('password') ? await promptSecret(`Password for ${user}@${host}: `) : undefined);
    if (!password) throw usage('no way to log in: give --key FILE, run an SSH agent, or use --password (asked on the terminal, or set BOOTCHAIN_SSH_PASSWORD)');
    auth = { kind: 'password', password };
  }
  return { kind: 'ssh', host, port: a.int('port') ?? p.nas.ssh?.port ?? 22, user, root: a.str('root') ?? p.nas.tftpRoot, auth };
}

/** Applies --trust (first use) before anything connects. */
export async function trustFirst(s: Session, a: FlagReader<typeof TARGET_FLAGS>, target: UploadTargetInput): Promise<void> {
  const fingerprint = a.str('trust');
  if (fingerprint && target.kind === 'ssh') await s.call('ssh:trust', { host: target.host, port: target.port ?? 22, fingerprint });
}

/** A host-key refusal from the CLI says how to go on with the CLI. */
export function withTrustHint(e: unknown): never {
  if (e instanceof BootchainError && e.appError.code === 'HOST_UNTRUSTED') {
    throw new BootchainError({ ...e.appError, hint: `Compare it with the NAS's own key (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the NAS); if they match, run again with --trust ${e.appError.detail}` });
  }
  throw e;
}
