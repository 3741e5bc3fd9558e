/**
 * The data folder's layout, in one place for the handlers and the CLI alike:
 *
 *   <data>/projects/<name>.json     saved projects (ProjectStore)
 *   <data>/builds/<name>/           a project's iPXE build: binaries + manifest.json
 *   <data>/build-cache/             one writable copy of each iPXE source (fast relinks)
 *   <data>/serve/<name>/            the folder "Serve from this computer" serves
 *   <data>/secrets.json             remembered secrets, encrypted (SecretVault)
 *   <data>/known_hosts              SSH host keys Bootchain trusts
 *
 * Backup sets are not here: the upload engine keeps them on the target, beside what it replaced
 * (and so in the served folder for Serve). The window names a build by its project, never by a
 * path; only an in-process caller (the CLI's `--build`/`--out` and `--known-hosts`) may put one
 * of these somewhere else.
 */
import os from 'node:os';
import path from 'node:path';
import { fail } from '../../../shared/errors';
import { ProjectStore } from '../project/store';

/** The data folder: BOOTCHAIN_DATA_DIR, else the platform's config folder. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BOOTCHAIN_DATA_DIR) return env.BOOTCHAIN_DATA_DIR;
  const base = env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config');
  return path.join(base, 'bootchain');
}

/** Folders an in-process caller puts elsewhere (absolute paths). */
export interface WorkspaceOverrides {
  /** The build folder of whatever project is worked on (CLI `--build DIR`, `build --out DIR`). */
  buildDir?: string | undefined;
  /** The known-hosts file (CLI `--known-hosts FILE`). */
  knownHosts?: string | undefined;
}

/** A project name as a folder name: the names ProjectStore accepts, nothing that climbs out. */
function folderName(name: string): string {
  if (!/^[a-z0-9][a-z0-9._-]{0,63}$/i.test(name) || name.includes('..')) fail('INVALID_INPUT', `"${name}" is not a project name (letters, digits, ".", "_", "-")`, { field: 'name' });
  return name;
}

/** The data folder's layout; every path a service writes under it comes from here. */
export class Workspace {
  readonly dataDir: string;
  private readonly overrides: WorkspaceOverrides;

  constructor(dataDir: string = defaultDataDir(), overrides: WorkspaceOverrides = {}) {
    this.dataDir = dataDir;
    this.overrides = overrides;
  }

  /** The saved projects. */
  projects(): ProjectStore {
    return new ProjectStore(this.dataDir);
  }

  /** Where a project's build goes, and where upload, verify, the VM boot and Serve look for it. */
  buildDir(project: { name: string }): string {
    return this.overrides.buildDir ?? path.join(this.dataDir, 'builds', folderName(project.name));
  }

  /** The builds' source caches (shared by every project). */
  buildCache(): string {
    return path.join(this.dataDir, 'build-cache');
  }

  /** The folder Serve assembles a project's boot files in and serves. */
  serveRoot(project: { name: string }): string {
    return path.join(this.dataDir, 'serve', folderName(project.name));
  }

  /** The folder the secret vault keeps secrets.json in. */
  secretsDir(): string {
    return this.dataDir;
  }

  /** Bootchain's known SSH host keys. */
  knownHostsFile(): string {
    return this.overrides.knownHosts ?? path.join(this.dataDir, 'known_hosts');
  }
}
