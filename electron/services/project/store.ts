import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { appError, BootchainError, fail } from '../../../shared/errors';
import { describeFieldErrors, loadProject, type ProjectInput } from '../../../shared/model/project';

/** A saved project as listed. */
export interface SavedProject {
  name: string;
  modified: string;
}

/**
 * Saved projects: one JSON file each under <dataDir>/projects (the layout: workspace/), written
 * atomically (temp file, then rename) so a crash never leaves half a project. Only the model is
 * stored: secrets are references (the JSON holds no secret by construction of the schema).
 */
export class ProjectStore {
  readonly dir: string;
  constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'projects');
  }

  private file(name: string): string {
    if (!/^[a-z0-9][a-z0-9._-]{0,63}$/i.test(name) || name.includes('..')) fail('INVALID_INPUT', `"${name}" is not a project name (letters, digits, ".", "_", "-")`, { field: 'name' });
    return path.join(this.dir, `${name}.json`);
  }

  list(): SavedProject[] {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((f) => f.endsWith('.json'));
    } catch {
      return [];
    }
    return names
      .map((f) => ({ name: f.slice(0, -5), modified: statSync(path.join(this.dir, f)).mtime.toISOString() }))
      .sort((a, b) => b.modified.localeCompare(a.modified));
  }

  /** Loads, migrates and validates a saved project. */
  load(name: string): ProjectInput {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.file(name), 'utf8'));
    } catch (e) {
      if (e instanceof BootchainError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      fail(code === 'ENOENT' ? 'NOT_FOUND' : 'INVALID_INPUT', code === 'ENOENT' ? `No saved project "${name}"` : `Project "${name}" is not valid JSON`);
    }
    const p = loadProject(raw);
    if (!p.ok) {
      throw new BootchainError(
        appError('INVALID_INPUT', `Project "${name}" has invalid values: ${describeFieldErrors(p.errors)}`, { field: p.errors[0]?.field, hint: 'Fix the named fields in the file, or import it again.' }),
      );
    }
    return p.value as ProjectInput;
  }

  /** Saves a valid project under its name; an invalid one is refused and nothing changes. */
  save(project: unknown): { name: string; path: string } {
    const p = loadProject(project);
    if (!p.ok) throw new BootchainError(appError('INVALID_INPUT', `Not saved: ${describeFieldErrors(p.errors)}`, { field: p.errors[0]?.field }));
    const file = this.file(p.value.name);
    mkdirSync(this.dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(p.value, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, file);
    return { name: p.value.name, path: file };
  }
}
