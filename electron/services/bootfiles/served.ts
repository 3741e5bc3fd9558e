/**
 * The project's served set: what a TFTP root must hold for its workstations to boot — the
 * generated iPXE scripts that are served (default.ipxe, autoexec.ipxe, one per workstation) and
 * the binaries of its build, by the build's manifest. Upload sends it, the VM test boot and Serve
 * serve it, verify compares what the servers hold with it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fail } from '../../../shared/errors';
import { generateArtifacts, type Secrets } from '../../../shared/gen/artifacts';
import { describeFieldErrors, type Project } from '../../../shared/model/project';
import { isServedScript } from '../../../shared/upload';
import { STOCK_IPXE, targetsForFirmware } from '../../../shared/build';
import { sha256 } from './hash';
import { readManifest } from './manifest';

/** The files of the served set by name, and notes on what is missing from it. */
export interface ServedSet {
  files: Record<string, Buffer>;
  notes: string[];
}

/** Where the stock binaries come from (Debian's and Ubuntu's `ipxe` package); tests point elsewhere. */
export interface StockSource {
  /** Path of each stock binary by build target (default: STOCK_IPXE). */
  paths?: Partial<Record<keyof typeof STOCK_IPXE, string>>;
}

/**
 * The stock iPXE binaries the project's workstations need, under the names the DHCP config hands
 * out (boot.biosFile for BIOS stations, boot.uefiFile for UEFI ones), read from this computer.
 * One that is not installed is a note saying how to get it, never an error.
 */
export function stockBinaries(p: Project, src: StockSource = {}): ServedSet {
  const files: Record<string, Buffer> = {};
  const notes: string[] = [];
  for (const t of targetsForFirmware(p.workstations)) {
    const from = src.paths?.[t] ?? STOCK_IPXE[t];
    const name = t === 'bios' ? p.boot.biosFile : p.boot.uefiFile;
    if (existsSync(from)) files[name] = readFileSync(from);
    else notes.push(`Stock iPXE for ${t === 'bios' ? 'BIOS' : 'UEFI'} stations is not on this computer (${from}): install Debian's or Ubuntu's ipxe package (apt install ipxe), or put ${name} into the TFTP root yourself.`);
  }
  return { files, notes };
}

/**
 * The served set of a project: its served scripts, plus the binaries of the build in `buildDir`
 * (checked against its manifest) when there is one — or, when the user chose stock iPXE
 * (`stock`), this computer's stock binaries instead. A project that cannot be generated is
 * refused with the field named.
 */
export function servedFiles(p: Project, secrets: Secrets, buildDir?: string, stock?: StockSource): ServedSet {
  const g = generateArtifacts(p, secrets);
  if (!g.ok) fail('INVALID_INPUT', `The project cannot be generated: ${describeFieldErrors(g.errors)}`, { field: g.errors[0]?.field });
  const files: Record<string, Buffer> = {};
  for (const [name, text] of Object.entries(g.files)) if (isServedScript(name)) files[name] = Buffer.from(text);
  const notes: string[] = [];
  if (stock) {
    const st = stockBinaries(p, stock);
    return { files: { ...files, ...st.files }, notes: st.notes };
  }
  const m = readManifest(buildDir);
  if (m) {
    for (const a of m.artifacts) {
      const data = readFileSync(path.join(buildDir!, path.basename(a.file)));
      if (sha256(data) !== a.sha256) fail('INVALID_INPUT', `${a.file} in ${buildDir} does not match its build manifest`, { hint: 'Build again: the file changed after the build.' });
      files[path.basename(a.file)] = data;
    }
  } else {
    notes.push('No built iPXE binary found: only the scripts are served (use stock iPXE binaries on the server, or build first).');
  }
  return { files, notes };
}

/**
 * Puts the served set into a folder of Bootchain's own (Serve's root): each changed file is
 * written beside its place and renamed over it, so a client being served never reads half a file.
 * Files no longer in the set stay (a workstation's script may still be being fetched).
 */
export function placeFiles(root: string, files: Record<string, Buffer>): { add: string[]; change: string[]; same: string[] } {
  const out = { add: [] as string[], change: [] as string[], same: [] as string[] };
  for (const [name, data] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
    if (name.includes('/') || name.startsWith('.')) fail('INTERNAL', `"${name}" is not a served file name`);
    const dest = path.join(root, name);
    const had = existsSync(dest) ? readFileSync(dest) : undefined;
    if (had && sha256(had) === sha256(data)) {
      out.same.push(name);
      continue;
    }
    const tmp = path.join(root, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      writeFileSync(tmp, data, { mode: 0o644 });
      renameSync(tmp, dest);
    } finally {
      rmSync(tmp, { force: true });
    }
    (had ? out.change : out.add).push(name);
  }
  return out;
}
