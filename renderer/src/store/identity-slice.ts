import type { StateCreator } from 'zustand';
import { generateArtifacts, type Artifacts } from '../../../shared/gen/artifacts';
import { checkChapSecret, generateChapSecret } from '../../../shared/model/chap';
import { DEFAULT_IQN_TEMPLATE, generateIqn } from '../../../shared/model/iqn';
import { parseMac } from '../../../shared/model/mac';
import { describeFieldErrors, loadProject, PROJECT_VERSION, type FieldError, type ProjectInput } from '../../../shared/model/project';
import { api } from '../api/client';
import { chapKey, chapRefs } from '../../../shared/secrets';
import type { AppState } from './index';

type WorkstationDraft = NonNullable<ProjectInput['workstations']>[number];

/** Identity step: the project being edited, secrets in memory only, and what it generates. */
export interface IdentitySlice {
  identity: {
    project: ProjectInput;
    /** CHAP secrets by reference; never saved with the project. */
    secrets: Record<string, string>;
    /** Initiator IQNs the user typed (not regenerated from the template). */
    iqnEdited: Record<number, boolean>;
    selectedFile?: string | undefined;
    saved: Array<{ name: string; modified: string }>;
    /** The project as it was opened (reconfiguring: every generated file is compared with it). */
    /** With the secrets it had then (a changed CHAP secret is a change too). */
    opened?: { name: string; project: ProjectInput; secrets: Record<string, string> } | undefined;
    projectMessage?: { ok: boolean; text: string } | undefined;
  };
  listProjects(): Promise<void>;
  saveProject(): Promise<void>;
  openProject(name: string): Promise<void>;
  importProject(text: string): void;
  setProjectField(patch: Partial<ProjectInput>): void;
  addWorkstation(): void;
  updateWorkstation(i: number, patch: Partial<WorkstationDraft>): void;
  removeWorkstation(i: number): void;
  setInitiatorIqn(i: number, v: string): void;
  enableChap(i: number, on: boolean, mutual?: boolean): void;
  setSecret(ref: string, value: string): void;
  newSecret(ref: string): void;
  selectFile(name: string): void;
  resetIdentity(): void;
}

type IdentityOutput = { errors: FieldError[]; files?: Artifacts | undefined; warnings: string[] };
/** The store replaces the identity object on every change, so it keys a cache of outputs. */
const outputs = new WeakMap<AppState['identity'], IdentityOutput>();

/**
 * Validation and generation, derived from the draft (never stored). The step list asks for it
 * on every render, so each draft is generated once.
 */
export function identityOutput(s: AppState['identity']): IdentityOutput {
  let out = outputs.get(s);
  if (!out) {
    out = computeOutput(s);
    outputs.set(s, out);
  }
  return out;
}

function computeOutput(s: AppState['identity']): IdentityOutput {
  const p = loadProject(s.project);
  if (!p.ok) return { errors: p.errors, warnings: [] };
  if (p.value.workstations.length === 0) return { errors: [{ field: 'workstations', message: 'add at least one workstation' }], warnings: [] };
  const g = generateArtifacts(p.value, s.secrets);
  if (!g.ok) return { errors: g.errors, warnings: [] };
  return { errors: [], files: g.files, warnings: g.warnings };
}

const now = new Date();
const thisMonth = `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`;

const initialProject = (): ProjectInput => ({
  version: PROJECT_VERSION,
  name: 'homelab',
  nas: { address: '', iscsiPort: 3260, tftpRoot: '/srv/tftp' },
  router: { kind: 'dnsmasq', rootPath: '' },
  iqn: { domain: 'example.org', date: thisMonth, template: DEFAULT_IQN_TEMPLATE },
  boot: { biosFile: 'undionly.kpxe', uefiFile: 'snponly.efi', userClass: 'bootchain' },
  workstations: [],
});

export const createIdentitySlice: StateCreator<AppState, [], [], IdentitySlice> = (set, get) => {
  const patch = (p: Partial<IdentitySlice['identity']>) => set((st) => ({ identity: { ...st.identity, ...p } }));
  const setProject = (project: ProjectInput) => patch({ project });
  const wss = () => get().identity.project.workstations ?? [];
  /** The template IQN of a workstation, or '' when its parts are not valid yet. */
  const autoIqn = (w: WorkstationDraft): string => {
    const a = get().identity.project.iqn;
    const mac = parseMac(w.mac);
    const r = generateIqn({ domain: a.domain, date: a.date, hostname: w.name, mac: mac.ok ? mac.value : undefined }, a.template ?? DEFAULT_IQN_TEMPLATE);
    return r.ok ? r.value : '';
  };
  const refreshIqns = () => {
    const edited = get().identity.iqnEdited;
    setProject({ ...get().identity.project, workstations: wss().map((w, i) => (edited[i] ? w : { ...w, initiatorIqn: autoIqn(w) || w.initiatorIqn })) });
  };
  return {
    identity: { project: initialProject(), secrets: {}, iqnEdited: {}, saved: [] },
    listProjects: async () => {
      const r = await api().invoke('project:list', {});
      if (r.ok) patch({ saved: r.value });
    },
    saveProject: async () => {
      const r = await api().invoke('project:save', { project: get().identity.project });
      if (!r.ok) return patch({ projectMessage: { ok: false, text: r.error.message } });
      // The project file holds references only; the secrets go to the main process's vault.
      const { secrets } = get().identity;
      const entries: Record<string, string> = {};
      // Only secrets that pass the CHAP checks are kept: a refused one must be corrected first.
      for (const ref of chapRefs(get().identity.project.workstations)) if (secrets[ref] && checkChapSecret(secrets[ref], { wide: false }).ok) entries[chapKey(r.value.name, ref)] = secrets[ref];
      const kept = await get().keepSecrets(entries);
      patch({ projectMessage: { ok: true, text: `Saved as ${r.value.name}${kept ? `; ${kept}` : ''} (the project file holds no secret)` } });
      await get().listProjects();
    },
    openProject: async (name) => {
      const r = await api().invoke('project:load', { name });
      if (!r.ok) return patch({ projectMessage: { ok: false, text: r.error.message } });
      // Loaded IQNs are the user's: do not regenerate them.
      const edited: Record<number, boolean> = {};
      (r.value.workstations ?? []).forEach((_, i) => (edited[i] = true));
      // Its CHAP secrets come back from the vault (keychain, this session, or the environment).
      const refs = chapRefs(r.value.workstations);
      const found = await get().recallSecrets(refs.map((ref) => chapKey(name, ref)));
      const secrets: Record<string, string> = {};
      for (const ref of refs) if (found[chapKey(name, ref)] !== undefined) secrets[ref] = found[chapKey(name, ref)]!;
      const missing = refs.length - Object.keys(secrets).length;
      const text = `Opened ${name}${missing > 0 ? `; ${missing === 1 ? 'one CHAP secret is' : `${missing} CHAP secrets are`} not remembered: type ${missing === 1 ? 'it' : 'them'} again` : ''}`;
      patch({ project: r.value, secrets, iqnEdited: edited, opened: { name, project: r.value, secrets }, projectMessage: { ok: true, text } });
    },
    importProject: (text) => {
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        return patch({ projectMessage: { ok: false, text: 'That file is not JSON: nothing was imported' } });
      }
      const r = loadProject(raw);
      if (!r.ok) return patch({ projectMessage: { ok: false, text: `Not imported: ${describeFieldErrors(r.errors)}` } });
      const edited: Record<number, boolean> = {};
      r.value.workstations.forEach((_, i) => (edited[i] = true));
      patch({ project: r.value as ProjectInput, iqnEdited: edited, projectMessage: { ok: true, text: `Imported ${r.value.name}` } });
    },
    setProjectField: (p) => {
      setProject({ ...get().identity.project, ...p });
      if (p.iqn) refreshIqns();
    },
    addWorkstation: () => {
      const chosen = get().target.chosen;
      const n = wss().length + 1;
      const w: WorkstationDraft = {
        name: `ws${n}`,
        mac: '',
        firmware: 'bios',
        target: chosen?.target ?? '',
        lun: chosen?.lun ?? 0,
        initiatorIqn: '',
        initramfs: 'genkernel',
      };
      const project = get().identity.project;
      setProject({
        ...project,
        nas: { ...project.nas, address: project.nas.address || chosen?.portal.address || '' },
        workstations: [...wss(), w],
      });
    },
    updateWorkstation: (i, p) => {
      setProject({ ...get().identity.project, workstations: wss().map((w, j) => (j === i ? { ...w, ...p } : w)) });
      if ('name' in p || 'mac' in p) refreshIqns();
    },
    removeWorkstation: (i) => {
      const edited: Record<number, boolean> = {};
      for (const [k, v] of Object.entries(get().identity.iqnEdited)) if (Number(k) < i) edited[Number(k)] = v;
      else if (Number(k) > i) edited[Number(k) - 1] = v;
      patch({ iqnEdited: edited });
      setProject({ ...get().identity.project, workstations: wss().filter((_, j) => j !== i) });
    },
    setInitiatorIqn: (i, v) => {
      patch({ iqnEdited: { ...get().identity.iqnEdited, [i]: v !== '' } });
      setProject({ ...get().identity.project, workstations: wss().map((w, j) => (j === i ? { ...w, initiatorIqn: v === '' ? autoIqn(w) : v } : w)) });
    },
    enableChap: (i, on, mutual) => {
      const w = wss()[i];
      if (!w) return;
      const ref = `${w.name}.chap`;
      const mref = `${w.name}.chap-mutual`;
      const secrets = { ...get().identity.secrets };
      if (on && secrets[ref] === undefined) secrets[ref] = generateChapSecret();
      if (on && mutual && secrets[mref] === undefined) secrets[mref] = generateChapSecret();
      patch({ secrets });
      const chap = on ? { username: w.chap?.username ?? w.name, secretRef: ref, ...(mutual ? { mutual: { username: w.chap?.mutual?.username ?? 'nas', secretRef: mref } } : {}) } : undefined;
      setProject({ ...get().identity.project, workstations: wss().map((x, j) => (j === i ? { ...x, chap } : x)) });
    },
    setSecret: (ref, value) => patch({ secrets: { ...get().identity.secrets, [ref]: value } }),
    newSecret: (ref) => patch({ secrets: { ...get().identity.secrets, [ref]: generateChapSecret() } }),
    selectFile: (name) => patch({ selectedFile: name }),
    resetIdentity: () => set({ identity: { project: initialProject(), secrets: {}, iqnEdited: {}, saved: [] } }),
  };
};

/** The opened project's files, by opened project (see openedFiles). */
const openedCache = new WeakMap<NonNullable<AppState['identity']['opened']>, { secrets: Record<string, string>; files: Artifacts | undefined }>();

/**
 * The files the opened project generated, to compare with: with the secrets it had when opened
 * (those that were not remembered then count as the ones typed since).
 */
export function openedFiles(s: AppState['identity']): Artifacts | undefined {
  if (!s.opened) return undefined;
  // Generated once per opened project and set of session secrets, not on every keystroke.
  const hit = openedCache.get(s.opened);
  if (hit && hit.secrets === s.secrets) return hit.files;
  const p = loadProject(s.opened.project);
  const g = p.ok ? generateArtifacts(p.value, { ...s.secrets, ...s.opened.secrets }) : undefined;
  const files = g?.ok ? g.files : undefined;
  openedCache.set(s.opened, { secrets: s.secrets, files });
  return files;
}
