/**
 * Remembered settings (issue 17 item 6): the project file keeps the Upload step's server, the
 * Build step's settings and the last build and upload (shared/model/remembered.ts, no secret).
 * They are saved into the project's file when they change (once the project has a file), restored
 * into the slices when a project is opened, and a result whose inputs still match comes back as
 * done: reopening an unchanged project goes straight to Upload, or to Verify when the upload is
 * known done.
 */
import type { StoreApi } from 'zustand';
import { loadProject, type ProjectInput } from '../../../shared/model/project';
import { fingerprintOf, type LastBuild, type LastUpload, type Remembered } from '../../../shared/model/remembered';
import type { UploadResult } from '../../../shared/upload';
import { api } from '../api/client';
import type { StepId } from '../steps/registry';
import { identityOutput } from './identity-slice';
import type { AppState } from './index';
import { buildTargets } from './build-slice';
import { idleJob } from './job';

/** When each result was made (a result's first sight, or the time remembered with it). */
const stamps = new WeakMap<object, string>();
function stampOf(r: object): string {
  let t = stamps.get(r);
  if (!t) stamps.set(r, (t = new Date().toISOString()));
  return t;
}

/** What a build was made from: the embedded script and the build options (undefined while the project does not generate). */
export function buildInputs(s: AppState): string | undefined {
  const embed = identityOutput(s.identity).files?.['embed.ipxe'];
  if (embed === undefined) return undefined;
  const b = s.build;
  return fingerprintOf(JSON.stringify([embed, b.engine, b.base.trim(), b.sourceKind, b.sourceKind === 'release' ? '' : b.sourcePath.trim(), [...buildTargets(s)].sort(), b.serialConsole, b.https]));
}

/** The checked project without its remembered block, once per project draft (the store calls this on every change). */
const models = new WeakMap<object, Record<string, unknown> | null>();
function projectModel(draft: ProjectInput): Record<string, unknown> | undefined {
  const key = draft as object;
  if (!models.has(key)) {
    const p = loadProject(draft);
    if (p.ok) {
      const { remembered: _r, ...model } = p.value;
      models.set(key, model);
    } else models.set(key, null);
  }
  return models.get(key) ?? undefined;
}

/**
 * What an upload sent, from the project (its scripts follow from it; CHAP secrets stay in the
 * vault and are not part of it), the built binaries and the target.
 */
export function uploadInputs(s: AppState): string | undefined {
  const model = projectModel(s.identity.project);
  if (!model || !identityOutput(s.identity).files) return undefined;
  const binaries = s.build.noBuild ? 'stock' : (s.build.result?.artifacts ?? []).map((a) => [a.file, a.sha256]).sort();
  const u = s.upload.server;
  const target = u.kind === 'folder' ? ['folder', u.folder.trim()] : ['ssh', u.host.trim(), u.port.trim(), u.user.trim(), u.root.trim()];
  return fingerprintOf(JSON.stringify([model, binaries, target]));
}

/** The remembered block of the current state: settings always, results when they are done. */
export function rememberedOf(s: AppState): Remembered {
  const u = s.upload.server;
  const b = s.build;
  const out: Remembered = {
    // No password or passphrase: they live in the secrets store.
    upload: { kind: u.kind, host: u.host.trim(), port: u.port.trim(), user: u.user.trim(), root: u.root.trim(), auth: u.auth, keyPath: u.keyPath.trim(), folder: u.folder.trim() },
    build: { engine: b.engine, sourceKind: b.sourceKind, sourcePath: b.sourcePath.trim(), targets: [...buildTargets(s)], targetsTouched: b.targetsTouched, base: b.base.trim(), serialConsole: b.serialConsole, https: b.https, noBuild: b.noBuild },
  };
  const bi = buildInputs(s);
  if (!b.noBuild && b.status === 'succeeded' && b.result && bi) {
    const r = b.result;
    out.lastBuild = {
      inputs: bi,
      at: stampOf(r),
      artifacts: r.artifacts.map((a) => ({ target: a.target, file: a.file, size: a.size, sha256: a.sha256, embeddedVerified: a.embeddedVerified })),
      kind: r.kind,
      compiled: r.compiled,
      durationMs: r.durationMs,
      manifest: r.manifest,
      engine: r.engine,
      version: r.version,
      outDir: r.outDir,
    };
  }
  const ui = uploadInputs(s);
  const ur = s.upload.result;
  if (s.upload.status === 'succeeded' && ur && !ur.dryRun && ui) {
    out.lastUpload = { inputs: ui, at: stampOf(ur), target: ur.target, files: ur.files.map((f) => ({ file: f.file, bytes: f.bytes, sha256: f.sha256 })), ...(ur.tftp ? { tftpOk: ur.tftp.ok } : {}) };
  }
  return out;
}

/** An upload result standing for the remembered upload (every file in place, as it was). */
function uploadResultOf(l: LastUpload): UploadResult {
  return {
    target: l.target,
    dryRun: false,
    plan: { add: [], change: [], same: l.files.map((f) => f.file), extra: [], bytes: 0 },
    planId: '',
    files: l.files.map((f) => ({ file: f.file, action: 'same', bytes: f.bytes, sha256: f.sha256, verified: 'unchanged' })),
    ...(l.tftpOk !== undefined ? { tftp: { host: '', checked: l.files.length, ok: l.tftpOk, problems: [] } } : {}),
    durationMs: 0,
    bytes: 0,
  };
}

/** Puts a project's remembered settings into the slices, and its results when their inputs still match. */
export function restoreRemembered(store: StoreApi<AppState>, project: ProjectInput): void {
  const r = project.remembered;
  if (!r) return;
  const st = store.getState();
  if (r.upload) st.setServer({ ...r.upload, passphrase: '', password: '' });
  if (r.build) {
    // Targets not ticked by the user follow the workstations' firmware again (buildTargets).
    const { targetsTouched = true, base = '', ...rest } = r.build;
    store.setState((s) => ({ build: { ...s.build, ...rest, base, targetsTouched } }));
  }
  const lb: LastBuild | undefined = r.lastBuild;
  let built = store.getState().build.noBuild;
  if (lb && !built && buildInputs(store.getState()) === lb.inputs) {
    const { inputs: _i, at, ...result } = lb;
    stamps.set(result, at);
    built = true;
    store.setState((s) => ({ build: { ...s.build, ...idleJob, status: 'succeeded', result } }));
  }
  // After the build (whose new result drops an upload made before it): the upload, if it matches.
  const lu = r.lastUpload;
  if (lu && built && uploadInputs(store.getState()) === lu.inputs) {
    const result = uploadResultOf(lu);
    stamps.set(result, lu.at);
    store.setState((s) => ({ upload: { ...s.upload, ...idleJob, status: 'succeeded', result, mode: 'upload' } }));
  }
}

/**
 * Where reopening a project goes: Verify when its upload is known done, Upload when its build is
 * (or stock binaries were chosen), else Identity. The caller still goes through goTo, which opens
 * a step only when every step before it is complete.
 */
export function resumeStep(s: AppState): StepId {
  if (identityOutput(s.identity).files === undefined) return 'identity';
  const u = s.upload;
  if (u.status === 'succeeded' && u.result && !u.result.dryRun && u.result.tftp?.ok !== false) return 'verify';
  if (s.build.noBuild || (s.build.status === 'succeeded' && s.build.result)) return 'upload';
  return 'identity';
}

/** Saves the remembered block into the project's file (the file's model as saved: drafts stay drafts). */
async function saveRemembered(name: string, remembered: Remembered): Promise<boolean> {
  const loaded = await api().invoke('project:load', { name });
  if (!loaded.ok) return false;
  const saved = await api().invoke('project:save', { project: { ...loaded.value, remembered } });
  return saved.ok;
}

/**
 * Watches the store: an opened project's remembered settings are restored; a change to them is
 * saved into the project's file (debounced) once the project has one. Returns unsubscribe.
 */
export function rememberOnChange(store: StoreApi<AppState>, opts: { delayMs?: number } = {}): () => void {
  const delay = opts.delayMs ?? 400;
  let last: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let pending: Promise<unknown> = Promise.resolve();
  /** The projects saved by hand in this window. */
  const ours = new Set<string>();
  const unsub = store.subscribe((s, prev) => {
    const o = s.identity.opened;
    if (o && o !== prev.identity.opened) {
      restoreRemembered(store, o.project);
      last = JSON.stringify(rememberedOf(store.getState()));
      return;
    }
    // A project saved by hand (its list refreshed after "Saved as …") wrote the block it held: save ours again.
    if (s.identity.saved !== prev.identity.saved && s.identity.projectMessage?.ok && s.identity.projectMessage.text.startsWith('Saved as ')) {
      ours.add(s.identity.project.name);
      last = undefined;
    }
    const cur = store.getState();
    const name = cur.identity.project.name;
    // Only the project opened or saved here: another saved project of the same name is not touched.
    const onDisk = cur.identity.opened?.name === name || ours.has(name);
    if (!onDisk || typeof name !== 'string') return;
    const now = JSON.stringify(rememberedOf(cur));
    if (now === last) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      const st = store.getState();
      const value = rememberedOf(st);
      const text = JSON.stringify(value);
      if (text === last || st.identity.project.name !== name) return;
      pending = pending.then(async () => {
        if (await saveRemembered(name, value)) last = text;
      });
    }, delay);
  });
  return () => {
    unsub();
    if (timer) clearTimeout(timer);
  };
}

/** For tests: waits for the pending saves (after the debounce). */
export async function flushRemembered(delayMs = 400): Promise<void> {
  await new Promise((r) => setTimeout(r, delayMs + 50));
}
