/**
 * The per-MAC script link: default.ipxe finds the workstation's own script by its MAC, and that
 * script ends in sanboot with the workstation's identity. When the script is missing, the
 * spellings people (and other tools) use are looked for beside it: TFTP servers are case-sensitive.
 */
import { macHexhyp } from '../../../shared/model/mac';
import { fetchUrl } from './fetch';
import { failedChains, runOf, scriptEvidence } from './script-links';
import type { Sanboot, Walk } from './walk';

/** 5. The per-MAC script: sets walk.sanboot for the iSCSI links. */
export async function stationLink(walk: Walk): Promise<boolean> {
  const { mac, stationFile } = walk;
  const r = runOf(walk);
  const ev = scriptEvidence(walk, r);
  const stFail = failedChains(r).find((c) => c.target.toLowerCase().endsWith(`/${stationFile}`));
  if (stFail) {
    const dir = stFail.target.slice(0, stFail.target.lastIndexOf('/') + 1);
    const hex = macHexhyp(mac);
    const spellings = [hex.toUpperCase(), hex.replace(/-/g, ''), hex.replace(/-/g, '').toUpperCase(), `01-${hex}`, hex.replace(/-/g, ':')].map((s) => `${s}.ipxe`);
    const present: string[] = [];
    for (const sp of spellings) if ((await fetchUrl(`${dir}${sp}`, walk.o.signal)).ok) present.push(sp);
    walk.set(
      'station',
      'fail',
      present.length > 0 ? `${stationFile} is missing, but ${present.join(', ')} is there` : `There is no ${stationFile} for MAC ${mac}`,
      [...ev, `looked for other spellings in ${dir}: ${present.length > 0 ? present.join(', ') : 'none found'}`],
      present.length > 0 ? `iPXE asks for the lower-case, hyphenated name: rename ${present[0]} to ${stationFile} (or upload from Bootchain, which names it right). TFTP servers are case-sensitive.` : `Upload ${stationFile} (Upload step), or check the workstation's MAC in the project (${mac}).`,
    );
    walk.skipRest('portal', 'not reached: no per-MAC script');
    return false;
  }
  const sb = r.events.find((e): e is Sanboot => e.kind === 'sanboot');
  if (!sb) {
    walk.set('station', 'fail', `The scripts end without sanboot (${r.end})`, ev, 'Upload the generated per-MAC script; it ends with sanboot.');
    walk.skipRest('portal', 'not reached');
    return false;
  }
  walk.sanboot = sb;
  const stationRun = r.scripts.find((s) => s.url.toLowerCase().endsWith(`/${stationFile}`));
  const stationEv = [`${sb.url} line ${sb.line}: sanboot ${sb.keep ? '--keep ' : ''}${sb.filename ? `--filename ${sb.filename} ` : ''}${sb.uris.join(' ')}`, `initiator-iqn ${sb.settings['initiator-iqn'] ?? '(not set: iPXE makes one up)'}`, `CHAP user ${sb.settings.username ?? '(none)'}`];
  walk.set('station', 'pass', `${stationRun?.url ?? sb.url} boots ${sb.uris[0] ?? '(no URI)'}`, stationEv);
  return true;
}
