/**
 * The one disk Bootchain may write for a workstation: the target and LUN the project gives it,
 * reached as the workstation (its initiator IQN and CHAP). A disk the project also gives another
 * workstation, or one other than the disk the user confirmed, is refused before any login.
 */
import { fail } from '../../../shared/errors';
import type { Secrets } from '../../../shared/gen/artifacts';
import { sameIqn } from '../../../shared/model/iqn';
import type { Project, Workstation } from '../../../shared/model/project';
import type { ChapCredentials } from '../iscsi/session';

export interface StationDisk {
  w: Workstation;
  portal: { address: string; port: number };
  target: string;
  lun: number;
  initiator: string;
  chap?: ChapCredentials | undefined;
}

/** The workstation's CHAP credentials, from the secrets given by reference. */
export function stationChap(w: Workstation, secrets: Secrets): ChapCredentials | undefined {
  if (!w.chap) return undefined;
  const secret = secrets[w.chap.secretRef];
  if (secret === undefined) fail('INVALID_INPUT', `No CHAP secret for workstation ${w.name} (reference "${w.chap.secretRef}")`, { hint: 'Enter the CHAP secret in the Identity step (or give it with --secrets / BOOTCHAIN_SECRET_<REF> in the CLI).', field: 'secrets' });
  const out: ChapCredentials = { username: w.chap.username, secret };
  if (w.chap.mutual) {
    const m = secrets[w.chap.mutual.secretRef];
    if (m === undefined) fail('INVALID_INPUT', `No mutual CHAP secret for workstation ${w.name} (reference "${w.chap.mutual.secretRef}")`, { hint: 'Enter the mutual (target) CHAP secret in the Identity step.', field: 'secrets' });
    out.mutual = { username: w.chap.mutual.username, secret: m };
  }
  return out;
}

/** Resolves and checks the disk of `station`; `expect` is the disk the user confirmed. */
export function stationDisk(p: Project, secrets: Secrets, station: string, expect?: { target: string; lun: number }): StationDisk {
  const w = p.workstations.find((x) => x.name === station);
  if (!w) fail('NOT_FOUND', `The project has no workstation "${station}"`, { field: 'station', hint: `Pick one of: ${p.workstations.map((x) => x.name).join(', ') || '(none yet: add one in the Identity step)'}.` });
  if (expect && (!sameIqn(expect.target, w.target) || expect.lun !== w.lun)) {
    fail('INVALID_INPUT', `Refused: the project gives ${w.name} target ${w.target} LUN ${w.lun}, not ${expect.target} LUN ${expect.lun}`, { hint: 'Bootchain writes only the disk the project assigns to this workstation: check the workstation in the Identity step, then start again.' });
  }
  const other = p.workstations.find((x) => x !== w && sameIqn(x.target, w.target) && x.lun === w.lun);
  if (other) {
    fail('INVALID_INPUT', `Refused: target ${w.target} LUN ${w.lun} is also the disk of workstation ${other.name}`, { hint: 'Each workstation needs a disk of its own: give one of them another target or LUN in the Identity step. Writing a shared disk would destroy the other workstation\'s system.' });
  }
  const portal = w.portals?.[0] ?? { address: p.nas.address, port: p.nas.iscsiPort };
  return { w, portal, target: w.target, lun: w.lun, initiator: w.initiatorIqn, chap: stationChap(w, secrets) };
}
