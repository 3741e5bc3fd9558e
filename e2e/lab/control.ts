/**
 * What the lab CLI prints: `up`'s description and `status`. lab.json holds the lab's test-only
 * secrets (CHAP secrets, the SSH password and key passphrase) for the tests; the terminal copy
 * leaves them out and says where the full file is.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { labDir, type LabInfo } from './lab';

/** Keys whose string values are secrets in a lab description. */
const SECRET_KEY = /secret|password|passphrase/i;

/** A copy of `v` with every secret string replaced by a note. */
function redacted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redacted);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, typeof x === 'string' && SECRET_KEY.test(k) ? '(in lab.json)' : redacted(x)]));
}

/** The description without secrets, and the line that says where they are. */
function describeLab(info: LabInfo): string {
  const file = path.join(info.dir, 'lab.json');
  return `${JSON.stringify(redacted(info), null, 2)}\nsecrets left out above: the lab's test-only secrets (CHAP, SSH password, key passphrase) are in ${file}\n`;
}

/** What `lab up` prints. */
export function labUpReport(info: LabInfo): string {
  return `${describeLab(info)}lab up: run commands with  ip netns exec ${info.namespaces.desk} <cmd>\n`;
}

/** The network namespaces that exist now (`ip netns list`; none when ip cannot list them). */
function listNamespaces(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** The six namespaces every lab has (labUp makes them; tests may add hosts beside them). */
const FIXED = ['sw', 'desk', 'nas', 'rtr', 'misc', 'nas2'];

/** What `lab status` prints, and its exit code: 0 when the lab of `prefix` is up, else 1. */
export function labStatus(o: { prefix: string; dir?: string; namespaces?: string[] }): { code: number; text: string } {
  const dir = o.dir ?? labDir(o.prefix);
  const ours = (o.namespaces ?? listNamespaces()).filter((n) => n.startsWith(`${o.prefix}-`)).sort();
  const file = path.join(dir, 'lab.json');
  const described = existsSync(file);
  // `down` leaves the lab's folder (its logs, the last lab.json): without namespaces it is down.
  if (ours.length === 0) return { code: 1, text: `lab ${o.prefix}: down${described ? ` (the last run's description and logs are in ${dir})` : ''}\n` };
  if (!described || !FIXED.every((n) => ours.includes(`${o.prefix}-${n}`))) {
    return { code: 1, text: `lab ${o.prefix}: partly up (namespaces ${ours.join(' ')}${described ? '' : ', no lab.json'}): a crashed or unfinished run; clean up with  npm run lab -- down\n` };
  }
  // Never throws: the CLI takes the lab down after an error, and status must not do that.
  let info: LabInfo;
  try {
    info = JSON.parse(readFileSync(file, 'utf8')) as LabInfo;
  } catch (e) {
    return { code: 1, text: `lab ${o.prefix}: up (namespaces ${ours.join(' ')}), but ${file} cannot be read: ${e instanceof Error ? e.message : String(e)}\n` };
  }
  return { code: 0, text: `lab ${o.prefix}: up (namespaces ${ours.join(' ')})\n${describeLab(info)}` };
}
