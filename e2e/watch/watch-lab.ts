/**
 * A watched boot in the lab: a chain lab (dnsmasq with the generated DHCP config and TFTP of the
 * generated scripts, the lab NAS's tgtd for the disk) whose project asks for the watch's stage
 * markers at the desk (where the test, or the harness, watches), and a QEMU workstation on the lab
 * bridge — the "real PC": nothing of its console is read by the watch, only by the test's report.
 */
import type { VmBootResult } from '../../shared/vm';
import { loadProject, type Project, type ProjectInput } from '../../shared/model/project';
import { vmBoot } from '../../electron/services/vm/qemu';
import { chainProject, startChainLab, type ChainLab, type ChainLabSpec } from '../lab/chain-lab';
import type { LabInfo } from '../lab/lab';
import { withLabTap } from '../support/qemu';
import type { WatchContext } from '../../electron/services/watch/watch-job';
import type { WatchItem } from '../../shared/watch';

export interface WatchLabSpec {
  /** 1-6 letters/digits (the chain host's and the tap's name; the host takes its first five). */
  name: string;
  /** The chain host's address (DHCP + TFTP). */
  ip: string;
  mac: string;
  firmware: 'bios' | 'uefi';
  target: string;
  /** Where the scripts send their markers: the desk's address, this port. */
  markersPort: number;
  /** More workstation fields (chap, lun, uefiFilename …). */
  ws?: Record<string, unknown>;
  secrets?: Record<string, string>;
  /** Edits the chain's TFTP root (a fault). */
  tftp?: ChainLabSpec['tftp'];
  /** Edits the generated dnsmasq config (e.g. the NIC ROM's iPXE chainloads a built iPXE). */
  dnsmasq?: ChainLabSpec['dnsmasq'];
  /** The project's boot.watch instead of the markers at the desk (e.g. syslog only). */
  watch?: { markers?: string; syslog?: string };
}

export interface WatchLab {
  project: Project;
  secrets: Record<string, string>;
  chain: ChainLab;
  markers: { address: string; port: number };
  /** Powers the workstation on (QEMU on the lab bridge) until `until` or the time runs out. */
  boot(o: { timeoutMs: number; until?: RegExp | undefined; signal?: AbortSignal | undefined }): Promise<VmBootResult>;
  stop(): Promise<void>;
}

/** The project of a watched chain: chainProject plus boot.watch (default: the markers at the desk). */
export function watchProject(L: LabInfo, s: WatchLabSpec): ProjectInput {
  const base = chainProject(L, { name: `w${s.name}`, ip: s.ip, mac: s.mac, target: s.target, station: 'pc', ws: { firmware: s.firmware, ...(s.ws ?? {}) } });
  return { ...base, boot: { biosFile: 'undionly.kpxe', uefiFile: 'snponly.efi', userClass: 'bootchain', watch: s.watch ?? { markers: `http://${L.desk.ip}:${s.markersPort}` } } };
}

export async function startWatchLab(L: LabInfo, s: WatchLabSpec): Promise<WatchLab> {
  const input = watchProject(L, s);
  const p = loadProject(input);
  if (!p.ok) throw new Error(`watch lab ${s.name}: ${JSON.stringify(p.errors)}`);
  const chain = await startChainLab(L, { name: `w${s.name.slice(0, 5)}`, ip: s.ip, project: input, ...(s.secrets ? { secrets: s.secrets } : {}), ...(s.tftp ? { tftp: s.tftp } : {}), ...(s.dnsmasq ? { dnsmasq: s.dnsmasq } : {}) });
  const tap = `tw${s.name}`.slice(0, 15);
  return {
    project: chain.project,
    secrets: chain.secrets,
    chain,
    markers: { address: L.desk.ip, port: s.markersPort },
    boot: (o) => withLabTap(L, tap, (wrap) => vmBoot({ firmware: s.firmware, mac: s.mac, network: { kind: 'tap', ifname: tap }, until: o.until, timeoutMs: o.timeoutMs, wrap, signal: o.signal })),
    stop: () => chain.stop(),
  };
}

/** A watch job's context for a test: what it streams (items, log lines) and `listening`, once every source is up (power the VM on then). */
export function testWatchContext(): { ctx: WatchContext; items: WatchItem[]; logs: string[]; listening: Promise<void> } {
  const items: WatchItem[] = [];
  const logs: string[] = [];
  let ready!: () => void;
  const listening = new Promise<void>((r) => (ready = r));
  const ctx: WatchContext = { signal: new AbortController().signal, log: (l) => logs.push(l), item: (i) => items.push(i), progress: (p) => (p.phase.startsWith('watching') ? ready() : undefined) };
  return { ctx, items, logs, listening };
}
