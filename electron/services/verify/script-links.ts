/**
 * The links iPXE walks through its scripts: the embedded script (or, for stock iPXE, its own DHCP
 * and the file it is given) and default.ipxe. The scripts run once (walk.run); the per-MAC script
 * and the iSCSI side read the same run.
 */
import { readEmbeddedScript } from '../build/readback';
import { ipxeDhcp } from './dhcp-probe';
import { fetchUrl } from './fetch';
import { runScript, type ScriptEvent, type ScriptRun } from './script';
import type { Walk } from './walk';

/** A `chain` that could not load its target. */
export type FailedChain = Extract<ScriptEvent, { kind: 'chain-failed' }>;

/** The chains of the run that failed. */
export const failedChains = (r: ScriptRun) => r.events.filter((e): e is FailedChain => e.kind === 'chain-failed');
const echoes = (r: ScriptRun) => r.events.filter((e) => e.kind === 'echo').map((e) => `echo: ${(e as { text: string }).text}`);

/** What iPXE's DHCP answered, the scripts that ran, the chains that failed and what the scripts said. */
export function scriptEvidence(walk: Walk, r: ScriptRun): string[] {
  return [...walk.ipxeOffers, ...r.scripts.map((s) => `ran ${s.url}`), ...failedChains(r).map((c) => `chain ${c.target}: ${c.error}`), ...echoes(r)];
}

/** The run of the walk; a link after the scripts needs it. */
export function runOf(walk: Walk): ScriptRun {
  if (!walk.run) throw new Error('the scripts have not run (embeddedLink comes first)');
  return walk.run;
}

/**
 * 3. iPXE runs: its embedded script, or (stock iPXE) its own DHCP and the file it is given. Sets
 * walk.embeddedScript and walk.run. A walk without a binary (a test's) runs as stock iPXE.
 */
export async function embeddedLink(walk: Walk): Promise<boolean> {
  const { p, own, manifest, nextServer, bootFile } = walk;
  // The project's script and the build's are compared byte for byte where iPXE embeds them; the
  // build's own binary carries the manifest's script even when no read-back finds it.
  const knownScripts = [walk.generated['embed.ipxe'], manifest?.embed].filter((x): x is string => x !== undefined);
  const rb = readEmbeddedScript(walk.bin ?? Buffer.alloc(0), knownScripts);
  const embeddedScript = (walk.embeddedScript = rb.matched !== undefined || !own ? rb.script : manifest!.embed);
  const baseUrl = `tftp://${nextServer}${walk.tftpPort !== 69 ? `:${walk.tftpPort}` : ''}/${bootFile}`;
  const host = { fetch: (u: string) => fetchUrl(u, walk.o.signal), dhcp: (uc: string | undefined) => ipxeDhcp(walk, uc) };
  let r: ScriptRun;
  if (embeddedScript !== undefined) {
    r = await runScript(embeddedScript, baseUrl, host, { mac: walk.mac, settings: { 'next-server': nextServer } });
  } else {
    // Stock iPXE: it asks DHCP as "iPXE" and boots the file it gets.
    const s = await ipxeDhcp(walk, 'iPXE');
    const file = s?.filename ?? '';
    if (!s || file === '' || file === bootFile || /\.(kpxe|pxe|efi)$/.test(file)) {
      walk.set(
        'embedded',
        'fail',
        !s ? 'iPXE gets no DHCP answer' : `The DHCP loop: this iPXE has no embedded script and DHCP gives it ${file || 'no file'}${file === bootFile ? ', iPXE itself again' : ''}`,
        [`${bootFile} has no embedded script`, ...walk.ipxeOffers],
        `Either build iPXE with Bootchain's embedded script (Build step) and upload it, or add the generated DHCP rule that gives clients with user-class "iPXE" (option 175) the file default.ipxe instead of ${bootFile}.`,
      );
      walk.skipRest('default', 'not reached: iPXE loops or stops before the scripts');
      return false;
    }
    const script = `#!ipxe\nchain ${s['17'] ? `${s['17']}/` : ''}${file}\n`;
    r = await runScript(script, baseUrl, host, { mac: walk.mac, settings: s });
  }
  walk.run = r;
  // The secrets the served scripts set (an older upload may hold others than the project).
  for (const s of [r.settings, ...r.events.flatMap((e) => (e.kind === 'sanboot' ? [e.settings] : []))]) for (const k of ['password', 'reverse-password']) if (s[k]) walk.secretValues.add(s[k]);
  const ev = scriptEvidence(walk, r);
  if (embeddedScript === undefined) {
    walk.set('embedded', 'pass', 'Stock iPXE: DHCP gives iPXE a script instead of iPXE again (no loop)', ev);
    return true;
  }
  const want = walk.generated['embed.ipxe'];
  const same = want === undefined || embeddedScript === want;
  const defaultRun = r.scripts.find((s) => s.url.endsWith('/default.ipxe'));
  if (!r.events.some((e) => e.kind === 'dhcp' && e.ok)) {
    walk.set('embedded', 'fail', 'iPXE gets no DHCP answer as itself', ev, 'Check the DHCP server answers iPXE (user-class "' + p.boot.userClass + '"); see the DHCP link.');
  } else if (!defaultRun && r.end === 'shell') {
    const why = echoes(r).find((x) => /option 17/.test(x));
    walk.set('embedded', 'fail', why ? why.replace(/^echo: Bootchain: /, '') : 'The embedded script stopped before default.ipxe', ev, why ? `Option 17 (root-path) for user-class "${p.boot.userClass}" must be ${p.router.rootPath || 'empty'}: fix it on the router (the generated DHCP config has it right).` : 'Read the evidence: the script says why it stopped.');
  } else {
    walk.set('embedded', same ? 'pass' : 'warn', same ? 'The embedded script is the project\'s and gets past DHCP' : 'The embedded script differs from the project\'s', ev, same ? undefined : 'Build again (Build step) and upload, so the binary carries the current script.');
  }
  return true;
}

/** 4. default.ipxe: loaded, and chaining the next script rather than a binary (a boot loop). */
export function defaultLink(walk: Walk): boolean {
  const { p } = walk;
  const r = runOf(walk);
  const ev = scriptEvidence(walk, r);
  const defFail = failedChains(r).find((c) => c.target.endsWith('/default.ipxe'));
  if (defFail) {
    const rp = r.settings['17'];
    walk.set(
      'default',
      'fail',
      `default.ipxe could not be loaded from ${defFail.target}: ${defFail.error}`,
      ev,
      rp ? `Option 17 (root-path) is "${rp}": it must be the place that holds default.ipxe (${p.router.rootPath ? p.router.rootPath : 'empty, meaning the TFTP server itself'}). Fix option 17 on the router, or upload the files there.` : 'Upload default.ipxe into the TFTP root (Upload step).',
    );
    walk.skipRest('station', 'not reached: default.ipxe is missing');
    return false;
  }
  if (r.end === 'chain-binary') {
    const b = r.events.find((e) => e.kind === 'chain-binary') as { target: string } | undefined;
    walk.set('default', 'fail', `A script chains a binary (${b?.target}) instead of the next script: the boot loops`, ev, 'Make default.ipxe chain ${17}/${mac:hexhyp}.ipxe (upload the generated one).');
    walk.skipRest('station', 'not reached');
    return false;
  }
  const defaultRun = r.scripts.find((s) => s.url.endsWith('/default.ipxe'));
  if (defaultRun) walk.set('default', 'pass', `${defaultRun.url} ran and looked for ${walk.stationFile}`, [`ran ${defaultRun.url}`]);
  else if (!walk.links.has('default')) walk.set('default', 'skip', 'default.ipxe was not used by this chain', []);
  return true;
}
