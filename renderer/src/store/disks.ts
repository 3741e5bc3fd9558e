/**
 * The disks the Target step's probes found, as choices for the Target and Identity steps. Pure:
 * no store, no API (the integration test of the LUN verdict runs it in Node).
 */
import type { ProbeResult, TargetPortal } from '../../../shared/iscsi';

/** CHAP form state (secrets stay in memory only). */
export interface ChapForm {
  enabled: boolean;
  username: string;
  secret: string;
  mutual: boolean;
  mutualUsername: string;
  mutualSecret: string;
}

/** The choice the later steps build on. */
export interface ChosenTarget {
  target: string;
  portal: { address: string; port: number };
  lun: number;
  sizeBytes?: number | undefined;
  summary: string;
  /** The CHAP this target's probe logged in with (carried into Identity); secrets in memory only. */
  chap?: ChapForm | undefined;
}

/** A disk that can boot: a target whose probe found a disk LUN (the boot-disk verdict). */
export interface DiskOption extends ChosenTarget {
  /** What the LUN is, in words: size, vendor and product. */
  label: string;
  empty: boolean;
}

/** What the disk choices are made from: the Scan step's choice and the Target step's probes. */
export interface DiskState {
  scan: { selected: string[] };
  target: {
    targetChap: ChapForm;
    chaps: Record<string, ChapForm>;
    discover: { result?: { targets: Array<{ name: string; portals: TargetPortal[] }> } | undefined };
    probes: Record<string, { result?: ProbeResult | undefined }>;
  };
}

/** The workstation fields a chosen disk fills: its target and the LUN of the probe's verdict. */
export const diskFields = (d: ChosenTarget): { target: string; lun: number } => ({ target: d.target, lun: d.lun });

/** The CHAP a target logs in with: its own when enabled, else the one for every target. */
export function chapOf(t: DiskState['target'], name: string): ChapForm {
  const own = t.chaps[name];
  return own?.enabled ? own : t.targetChap;
}

/**
 * The portal to reach a target by: the first of its portals that the user chose in Scan (a NAS
 * with several addresses lists them all, in its own order), else the probe's.
 */
export function preferredPortal(s: { scan: { selected: string[] } }, portals: Array<{ address: string; port: number }>): { address: string; port: number } | undefined {
  const chosen = new Set(s.scan.selected);
  return portals.find((p) => chosen.has(`${p.address}:${p.port}`)) ?? portals.find((p) => s.scan.selected.some((k) => k.startsWith(`${p.address}:`))) ?? portals[0];
}

/** Every disk that can boot, from the probes: empty disks first, then by target name. */
export function diskOptions(s: DiskState): DiskOption[] {
  const t = s.target;
  const out: DiskOption[] = [];
  for (const x of t.discover.result?.targets ?? []) {
    const r = t.probes[x.name]?.result;
    const lun = r?.luns.find((l) => l.lun === r.bootLun);
    if (!r || !lun) continue;
    const portal = preferredPortal(s, x.portals.length ? x.portals : [r.portal]) ?? r.portal;
    const chap = chapOf(t, x.name);
    const size = lun.sizeBytes === undefined ? '' : `${Math.round(lun.sizeBytes / 2 ** 20)} MiB `;
    out.push({
      target: x.name,
      portal: { address: portal.address, port: portal.port },
      lun: lun.lun,
      sizeBytes: lun.sizeBytes,
      summary: lun.layout?.summary ?? lun.deviceTypeName,
      chap: chap.enabled ? chap : undefined,
      label: `${size}${`${lun.vendor} ${lun.product}`.trim()}`.trim(),
      empty: lun.layout?.verdict === 'empty',
    });
  }
  return out.sort((a, b) => Number(b.empty) - Number(a.empty) || a.target.localeCompare(b.target));
}

