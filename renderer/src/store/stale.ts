/**
 * Changing an earlier choice invalidates later steps (style.md §4; Etcher's habit: the upstream
 * action drops the downstream results). The store is watched for what each later step was made
 * from, not every component: embed.ipxe (built into iPXE) for Build, the served files for Upload
 * and Verify. Each is compared with the last project that generated, so a value typed over
 * (briefly invalid) and back drops nothing, and a change that reaches no such file keeps all.
 */
import type { StoreApi } from 'zustand';
import { loadProject } from '../../../shared/model/project';
import { isServedScript } from '../../../shared/upload';
import { identityOutput } from './identity-slice';
import type { AppState } from './index';

/** The embedded script Build builds in, or undefined while the project does not generate. */
const embedOf = (s: AppState): string | undefined => identityOutput(s.identity).files?.['embed.ipxe'];

/**
 * What Upload sends and Verify checks, from the project: every served script and the boot file
 * names DHCP hands out (and the built-in server serves), or undefined while it does not generate.
 */
function scriptsOf(s: AppState): string | undefined {
  const files = identityOutput(s.identity).files;
  const p = loadProject(s.identity.project);
  if (!files || !p.ok) return undefined;
  const served = Object.keys(files).filter(isServedScript).sort();
  return JSON.stringify([p.value.boot.biosFile, p.value.boot.uefiFile, ...served.map((name) => [name, files[name]])]);
}

/** The built binaries Upload sends with them, or undefined while there is no build result. */
function binariesOf(s: AppState): string | undefined {
  const r = s.build.result;
  return r ? JSON.stringify(r.artifacts.map((a) => [a.file, a.sha256]).sort()) : undefined;
}

/** Watches the store and drops the results a change made stale. Returns unsubscribe. */
export function invalidateOnChange(store: StoreApi<AppState>): () => void {
  const first = store.getState();
  let embed = embedOf(first);
  let scripts = scriptsOf(first);
  // Before any build the served boot files are whatever was on the server: a build changes them.
  let binaries = binariesOf(first) ?? 'none';
  return store.subscribe((s, prev) => {
    if (s.identity === prev.identity && s.build.result === prev.build.result) return;
    const e = embedOf(s);
    const sc = scriptsOf(s);
    const b = binariesOf(s);
    // A project that does not generate (being typed) and a build being redone say nothing yet.
    const embedChanged = e !== undefined && embed !== undefined && e !== embed;
    const servedChanged = (sc !== undefined && scripts !== undefined && sc !== scripts) || (b !== undefined && b !== binaries);
    embed = e ?? embed;
    scripts = sc ?? scripts;
    binaries = b ?? binaries;
    if (embedChanged) store.getState().invalidateAfter('identity');
    else if (servedChanged) store.getState().invalidateAfter('build');
  });
}
