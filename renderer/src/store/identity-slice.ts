import type { StateCreator } from 'zustand';
import { generateArtifacts, type Artifacts } from '../../../shared/gen/artifacts';
import { CHAP_MIN, checkChapSecret, generateChapSecret } from '../../../shared/model/chap';
import { DEFAULT_IQN_TEMPLATE, generateIqn } from '../../../shared/model/iqn';
import { parseMac } from '../../../shared/model/mac';
import { describeFieldErrors, loadProject, PROJECT_VERSION, type FieldError, type ProjectInput } from '../../../shared/model/project';
import { api } from '../api/client';
import { chapKey, chapRefs } from '../../../shared/secrets';
import type { AppState } from './index';
import { diskFields, diskOptions, type ChapForm, type ChosenTarget } from './disks';

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
  /** The workstation's disk, chosen from the discovered targets: its IQN, LUN and CHAP follow. */
  pickDisk(i: number, target: string): void;
  /** The NAS address from the chosen portal, when none is set yet. */
  prefillNas(): void;
  enableChap(i: number, on: boolean, mutual?: boolean): void;
  setSecret(ref: string, value: string): void;
  newSecret(ref: string): void;
  selectFile(name: string): void;
  resetIdentity(): void;
}

/** How a CHAP secret fares as it is typed: refused (no file is made), a warning, or fine. */
export function secretCheck(secret: string): { level: 'error' | 'warn' | 'ok'; text: string } {
  if (secret === '') return { level: 'error', text: 'Enter a CHAP secret, or press New secret' };
  // The scripts take 1 to 255 of iPXE's safe characters; padding checks the characters alone.
  const accepted = checkChapSecret(secret.padEnd(CHAP_MIN, 'a'), { wide: false });
  if (!accepted.ok) return { level: 'error', text: `Not usable: ${accepted.reason}` };
  const every = checkChapSecret(secret);
  if (!every.ok) return { level: 'warn', text: `Usable, but ${every.reason}` };
  return { level: 'ok', text: `${secret.length} characters: every initiator accepts it` };
}

/** What a field of the project is, in words, for messages. */
export function fieldWords(field: string, p: ProjectInput): string {
  const top: Record<string, string> = {
    'nas.address': 'the NAS address',
    'iqn.domain': 'your domain',
    'iqn.date': 'the month you owned the domain since',
    'router.rootPath': 'DHCP option 17',
    'boot.userClass': 'the user-class',
    workstations: 'a workstation',
    name: 'the project name',
  };
  if (top[field]) return top[field]!;
  const m = /^workstations\[(\d+)\]\.(.+)$/.exec(field);
  if (!m) return field.split('.').pop()!.replace(/([A-Z])/g, ' $1').toLowerCase();
  const w = p.workstations?.[Number(m[1])];
  const who = w?.name ? `${w.name}’s` : `workstation ${Number(m[1]) + 1}’s`;
  const what: Record<string, string> = {
    name: 'name',
    mac: 'MAC address',
    target: 'disk (target IQN)',
    lun: 'LUN',
    initiatorIqn: 'initiator IQN',
    'chap.username': 'CHAP user',
    'chap.secretRef': 'CHAP secret',
    'chap.mutual.username': 'mutual CHAP user',
    'chap.mutual.secretRef': 'mutual CHAP secret',
    root: 'root= of the installed system',
    uefiFilename: 'UEFI file',
    initramfs: 'initramfs',
  };
  return `${who} ${what[m[2]!] ?? m[2]!}`;
}

/** Why Identity's Next is closed, in words: what is missing or wrong. */
export function identityBlockedWhy(s: AppState['identity']): string | undefined {
  const out = identityOutput(s);
  if (out.files) return undefined;
  const ws = s.project.workstations ?? [];
  if (ws.length === 0) return 'Add a workstation: its MAC address and its disk.';
  // A generated initiator IQN is wrong only because its name or MAC is: name those alone.
  const own = (e: FieldError) => {
    const m = /^workstations\[(\d+)\]\.initiatorIqn$/.exec(e.field);
    return !m || s.iqnEdited[Number(m[1])] || !out.errors.some((x) => x !== e && x.field.startsWith(`workstations[${m[1]}].`));
  };
  const names = [...new Set(out.errors.filter(own).map((e) => fieldWords(e.field, s.project)))];
  const shown = names.slice(0, 3).join(', ') + (names.length > 3 ? ` and ${names.length - 3} more` : '');
  return `Missing or wrong: ${shown}.`;
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
  const updateWs = (i: number, p: Partial<WorkstationDraft>) => setProject({ ...get().identity.project, workstations: wss().map((w, j) => (j === i ? { ...w, ...p } : w)) });
  /** The disk's CHAP (the target's, from the Target step) becomes the workstation's. */
  const withDisk = (i: number, d: ChosenTarget) => {
    const w = wss()[i];
    const c: ChapForm | undefined = d.chap;
    if (!w || !c?.enabled || !c.username.trim() || !c.secret) return;
    const ref = `${w.name}.chap`;
    const mref = `${w.name}.chap-mutual`;
    const mutual = c.mutual && c.mutualSecret ? { username: c.mutualUsername.trim() || 'nas', secretRef: mref } : undefined;
    patch({ secrets: { ...get().identity.secrets, [ref]: c.secret, ...(mutual ? { [mref]: c.mutualSecret } : {}) } });
    updateWs(i, { chap: { username: c.username.trim(), secretRef: ref, ...(mutual ? { mutual } : {}) } });
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
      const names = new Set(wss().map((w) => w.name));
      let n = wss().length + 1;
      while (names.has(`ws${n}`)) n++;
      const w: WorkstationDraft = {
        name: `ws${n}`,
        mac: '',
        firmware: 'bios',
        ...(chosen ? diskFields(chosen) : { target: '', lun: 0 }),
        initiatorIqn: '',
        initramfs: 'genkernel',
      };
      const project = get().identity.project;
      setProject({
        ...project,
        nas: { ...project.nas, address: project.nas.address || chosen?.portal.address || '' },
        workstations: [...wss(), w],
      });
      if (chosen) withDisk(wss().length - 1, chosen);
    },
    pickDisk: (i, target) => {
      const d = diskOptions(get()).find((x) => x.target === target);
      if (!d) return;
      updateWs(i, diskFields(d));
      withDisk(i, d);
      get().prefillNas();
    },
    prefillNas: () => {
      const project = get().identity.project;
      const chosen = get().target.chosen;
      if (project.nas.address || !chosen) return;
      setProject({ ...project, nas: { ...project.nas, address: chosen.portal.address } });
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

/** The workstation a step works on: `chosen` while the project still has it, else the first (or '' with none). */
export function stationOrFirst(project: AppState['identity']['project'], chosen: string): string {
  const names = ((project as { workstations?: Array<{ name: string }> }).workstations ?? []).map((w) => w.name);
  return chosen && names.includes(chosen) ? chosen : (names[0] ?? '');
}

/** A workstation's kernel parameters on one line, its CHAP secrets masked (the full line is kernel/NAME.txt among the generated files). */
export function maskedKernelLine(id: IdentitySlice['identity'], name: string): string | undefined {
  const text = identityOutput(id).files?.[`kernel/${name}.txt`];
  if (!text) return undefined;
  let line = text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .join(' ');
  for (const v of Object.values(id.secrets)) if (v) line = line.split(v).join('********');
  return line;
}
