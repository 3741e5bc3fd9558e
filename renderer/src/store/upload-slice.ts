import type { StateCreator } from 'zustand';
import type { BackupSetInfo, HostKeyStatus, RollbackResult, UploadedFile, UploadResult, UploadTargetInput } from '../../../shared/upload';
import { api } from '../api/client';
import { sshKey } from '../../../shared/secrets';
import type { AppState } from './index';
import { cancelJob, idleJob, runJob, type JobSlot, type JobState } from './job';

/** The server form; secrets live here in memory only (never saved with the project). */
export interface UploadServer {
  kind: 'ssh' | 'folder';
  host: string;
  port: string;
  user: string;
  root: string;
  auth: 'key' | 'agent' | 'password';
  keyPath: string;
  passphrase: string;
  password: string;
  folder: string;
}

/** Upload step: server, host key, plan (dry run), the upload, its result, rollback. */
export interface UploadSlice {
  /** The job (`result`: the upload's; a dry run's goes to `plan`) beside the server and its state. */
  upload: JobState<'upload'> & {
    server: UploadServer;
    hostKey?: HostKeyStatus | undefined;
    checking: boolean;
    /** What the job running now is: a dry run (plan) or the upload. */
    mode?: 'plan' | 'upload' | undefined;
    plan?: UploadResult | undefined;
    files: UploadedFile[];
    backups: BackupSetInfo[];
    rolledBack?: RollbackResult | undefined;
  };
  setServer(patch: Partial<UploadServer>): void;
  /** Fetches the host key (SSH) and, when it is trusted, computes the plan. */
  checkServer(): Promise<void>;
  trustServer(): Promise<void>;
  startUpload(dryRun: boolean): Promise<void>;
  cancelUpload(): Promise<void>;
  rollbackUpload(): Promise<void>;
  /** Drops the plan, the upload and its result (the files changed since); a running one is cancelled. */
  resetUploadRun(): void;
}

/** The vault key of the form's password or passphrase, when the form uses one. */
function loginSecretKey(s: UploadServer): string | undefined {
  if (s.kind !== 'ssh' || !s.host.trim() || !s.user.trim() || s.auth === 'agent') return undefined;
  return sshKey(s.user.trim(), s.host.trim(), Number(s.port) || 22, s.auth === 'password' ? 'password' : 'passphrase');
}

/** The target as the contract wants it, from the form. */
export function uploadTarget(s: UploadServer): UploadTargetInput {
  if (s.kind === 'folder') return { kind: 'folder', path: s.folder.trim() };
  const auth =
    s.auth === 'key'
      ? { kind: 'key' as const, path: s.keyPath.trim(), ...(s.passphrase ? { passphrase: s.passphrase } : {}) }
      : s.auth === 'agent'
        ? { kind: 'agent' as const }
        : { kind: 'password' as const, password: s.password };
  return { kind: 'ssh', host: s.host.trim(), port: Number(s.port) || 22, user: s.user.trim(), root: s.root.trim(), auth };
}

/** The project's NAS settings that empty server fields take (the draft project may lack any of them). */
const nasOf = (st: AppState) => (st.identity.project as { nas?: { address?: string; tftpRoot?: string; ssh?: { host?: string; port?: number; user?: string } } }).nas;

/** The host an empty Host field stands for: the project's SSH host, else its NAS address. */
export const projectUploadHost = (st: AppState): string => nasOf(st)?.ssh?.host || nasOf(st)?.address || '';

export const createUploadSlice: StateCreator<AppState, [], [], UploadSlice> = (set, get) => {
  const patch = (p: Partial<UploadSlice['upload']>) => set((st) => ({ upload: { ...st.upload, ...p } }));
  const server = () => {
    // Empty fields take the project's NAS settings.
    const s = get().upload.server;
    const nas = nasOf(get());
    return {
      ...s,
      host: s.host || projectUploadHost(get()),
      port: s.port || String(nas?.ssh?.port ?? 22),
      user: s.user || nas?.ssh?.user || '',
      root: s.root || nas?.tftpRoot || '/srv/tftp',
    };
  };
  /** The upload job: each file sent is an item; a dry run's result is the plan, not an upload. */
  const job: JobSlot<'upload', UploadSlice['upload']> = {
    read: () => get().upload,
    write: patch,
    item: (u, f) => ({ files: [...u.files, f] }),
    end: (u, e) => {
      if (e.type !== 'succeeded') return {};
      if (e.result.dryRun) return { status: 'idle', plan: e.result, result: u.result };
      // The login worked: hand its password or passphrase to the vault (remembered if asked).
      const key = loginSecretKey(u.server);
      const value = u.server.auth === 'password' ? u.server.password : u.server.passphrase;
      if (key && value) void get().keepSecrets({ [key]: value });
      return { plan: undefined };
    },
  };
  return {
    upload: {
      server: { kind: 'ssh', host: '', port: '', user: '', root: '', auth: 'key', keyPath: '', passphrase: '', password: '', folder: '' },
      checking: false,
      ...idleJob,
      files: [],
      backups: [],
    },
    setServer: (p) => patch({ server: { ...get().upload.server, ...p }, hostKey: p.host !== undefined || p.port !== undefined ? undefined : get().upload.hostKey, plan: undefined }),
    checkServer: async () => {
      let s = server();
      // An empty password or passphrase field takes the one remembered for this login.
      const key = loginSecretKey(s);
      const field = s.auth === 'password' ? 'password' : 'passphrase';
      if (key && !s[field]) {
        const found = (await get().recallSecrets([key]))[key];
        if (found) s = { ...s, [field]: found };
      }
      patch({ server: s, error: undefined, plan: undefined, result: undefined, rolledBack: undefined });
      if (s.kind === 'ssh') {
        patch({ checking: true, hostKey: undefined });
        const r = await api().invoke('ssh:hostkey', { host: s.host.trim(), port: Number(s.port) || 22 });
        patch({ checking: false });
        if (!r.ok) return patch({ error: r.error });
        patch({ hostKey: r.value });
        if (r.value.status !== 'trusted') return;
      }
      await get().startUpload(true);
    },
    trustServer: async () => {
      const k = get().upload.hostKey;
      if (!k) return;
      const r = await api().invoke('ssh:trust', { host: k.host, port: k.port, fingerprint: k.fingerprint });
      if (!r.ok) return patch({ error: r.error });
      patch({ hostKey: r.value });
      await get().startUpload(true);
    },
    startUpload: async (dryRun) => {
      const u = get().upload;
      if (u.status === 'running') return;
      const input = { project: get().identity.project, secrets: get().identity.secrets, target: uploadTarget(u.server), dryRun, stockBinaries: get().build.noBuild, ...(!dryRun && u.plan ? { planId: u.plan.planId } : {}) };
      // A dry run keeps the last upload's result (and its rollback) in view; an upload drops both.
      await runJob('upload:start', input, job, { mode: dryRun ? 'plan' : 'upload', files: [], progress: { phase: 'starting' }, ...(dryRun ? { plan: undefined, result: u.result } : { rolledBack: undefined }) });
    },
    cancelUpload: () => cancelJob(get().upload),
    rollbackUpload: async () => {
      const u = get().upload;
      const id = u.result?.backup;
      const r = await api().invoke('upload:rollback', { target: uploadTarget(u.server), ...(id ? { id } : {}) });
      if (!r.ok) return patch({ error: r.error });
      patch({ rolledBack: r.value, result: undefined, plan: undefined, status: 'idle' });
    },
    resetUploadRun: () => {
      if (get().upload.status === 'running') void get().cancelUpload();
      // The server, its host key and its backup sets stay: they do not depend on the files.
      patch({ ...idleJob, mode: undefined, plan: undefined, files: [], rolledBack: undefined });
    },
  };
};
