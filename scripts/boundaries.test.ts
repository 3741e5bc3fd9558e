import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// The import boundaries of style guide §1, checked on every source file: services never import
// electron; the renderer never imports electron/ or Node modules; shared imports only shared and zod.
const ROOT = path.resolve(import.meta.dirname, '..');

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(ROOT, dir))) {
    const rel = path.join(dir, name);
    if (statSync(path.join(ROOT, rel)).isDirectory()) out.push(...files(rel));
    else if (/\.(ts|tsx)$/.test(name)) out.push(rel);
  }
  return out;
}

function imports(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const re = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g;
  return [...text.matchAll(re)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
}

const resolveFrom = (file: string, spec: string) => (spec.startsWith('.') ? path.normalize(path.join(path.dirname(file), spec)) : spec);

describe('import boundaries', () => {
  it('electron/services never imports electron', () => {
    const bad = files('electron/services').flatMap((f) => imports(f).filter((s) => s === 'electron' || s.startsWith('electron/')).map((s) => `${f}: ${s}`));
    expect(bad).toEqual([]);
  });

  it('renderer never imports electron/, electron or Node modules', () => {
    // Component tests may call the real services in-process; they are never bundled.
    const bad = files('renderer/src')
      .filter((f) => !/\.test\.tsx?$/.test(f))
      .flatMap((f) =>
      imports(f)
        .filter((s) => {
          const r = resolveFrom(f, s);
          return s === 'electron' || s.startsWith('node:') || r.startsWith('electron/') || ['fs', 'path', 'os', 'child_process', 'net'].includes(s);
        })
        .map((s) => `${f}: ${s}`),
    );
    expect(bad).toEqual([]);
  });

  it('shared imports only shared and zod', () => {
    const bad = files('shared')
      .filter((f) => !f.endsWith('.test.ts'))
      .flatMap((f) => imports(f).filter((s) => !(s === 'zod' || resolveFrom(f, s).startsWith('shared/'))).map((s) => `${f}: ${s}`));
    expect(bad).toEqual([]);
  });

  it('the VM boot, Serve and verify take the boot files from bootfiles/, not from upload/', () => {
    const bad = ['electron/services/vm', 'electron/services/bootserver', 'electron/services/verify']
      .flatMap((d) => files(d))
      .flatMap((f) => imports(f).filter((s) => resolveFrom(f, s).startsWith('electron/services/upload/')).map((s) => `${f}: ${s}`));
    expect(bad).toEqual([]);
  });

  it('the CLI starts no job of its own: it reaches the services through the handlers', () => {
    // What a verb may use besides the contract: the serve verb's server (it serves a folder as it
    // is), its guard and interface lookup, the key-file sniff before a passphrase prompt.
    const allowed = ['api/handlers', 'jobs/runner', 'workspace/workspace', 'errors', 'privileges/privileges', 'bootserver/server', 'bootserver/job', 'net/guard', 'net/interfaces', 'upload/keyfile'].map((m) => `electron/services/${m}`);
    const bad = files('electron/cli')
      .filter((f) => !/\.test\.ts$/.test(f))
      .flatMap((f) => imports(f).filter((s) => resolveFrom(f, s).startsWith('electron/services/') && !allowed.includes(resolveFrom(f, s))).map((s) => `${f}: ${s}`));
    expect(bad).toEqual([]);
  });

  it('electron never imports renderer', () => {
    const bad = files('electron').flatMap((f) => imports(f).filter((s) => resolveFrom(f, s).startsWith('renderer/')).map((s) => `${f}: ${s}`));
    expect(bad).toEqual([]);
  });
});
