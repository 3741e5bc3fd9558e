import type { StateCreator } from 'zustand';
import { appError, type AppError } from '../../../shared/errors';
import { parsePorts } from '../../../shared/ipv4';
import { planScan, type NetInterface, type Portal } from '../../../shared/scan';
import { api } from '../api/client';
import type { AppState } from './index';
import { cancelJob, idleJob, runJob, type JobSlot, type JobState } from './job';

/** Scan step state: what to scan, the running job, the portals found and the user's choice. */
export interface ScanSlice {
  scan: JobState<'scan'> & {
    interfaces: NetInterface[];
    targetsText: string;
    portsText: string;
    timeoutMs: number;
    concurrency: number;
    confirmLarge: boolean;
    confirmPublic: boolean;
    portals: Record<string, Portal>;
    selected: string[];
    manual: { address: string; port: string; busy: boolean; error?: AppError | undefined };
  };
  setScanField<K extends 'targetsText' | 'portsText' | 'timeoutMs' | 'concurrency' | 'confirmLarge' | 'confirmPublic'>(
    key: K,
    value: ScanSlice['scan'][K],
  ): void;
  loadInterfaces(): Promise<void>;
  addTargetBlock(cidr: string): void;
  startScan(): Promise<void>;
  cancelScan(): Promise<void>;
  toggleSelect(key: string): void;
  setManual(address: string, port: string): void;
  addManualPortal(): Promise<void>;
  resetScan(): void;
}

/** Key of a portal in the table and the selection. */
export const portalKey = (p: { address: string; port: number }) => `${p.address}:${p.port}`;

/** Splits the targets box (commas, spaces or new lines). */
export const splitTargets = (text: string): string[] => text.split(/[\s,]+/).filter((t) => t !== '');

const initial = (): ScanSlice['scan'] => ({
  interfaces: [],
  targetsText: '',
  portsText: '3260',
  timeoutMs: 1000,
  concurrency: 256,
  confirmLarge: false,
  confirmPublic: false,
  ...idleJob,
  portals: {},
  selected: [],
  manual: { address: '', port: '3260', busy: false },
});

/** Checks the form the way the service will, so the user sees the error before starting. */
export function validateScanForm(s: ScanSlice['scan']): { ok: true; ports: number[]; targets: string[] } | { ok: false; error: AppError } {
  const targets = splitTargets(s.targetsText);
  if (targets.length === 0) return { ok: false, error: appError('INVALID_INPUT', 'Enter a subnet (e.g. 192.168.1.0/24) or an address', { field: 'targets' }) };
  const ports = parsePorts(s.portsText);
  if (!ports.ok) return { ok: false, error: appError('INVALID_INPUT', `Bad ports: ${ports.reason}`, { field: 'ports' }) };
  const plan = planScan({ targets, ports: ports.value, confirmLarge: s.confirmLarge, confirmPublic: s.confirmPublic });
  if (!plan.ok) return plan;
  return { ok: true, ports: ports.value, targets };
}

export const createScanSlice: StateCreator<AppState, [], [], ScanSlice> = (set, get) => {
  const patch = (p: Partial<ScanSlice['scan']>) => set((st) => ({ scan: { ...st.scan, ...p } }));
  /** The scan job: each portal found is an item; the result says which are iSCSI (chosen at once). */
  const job: JobSlot<'scan', ScanSlice['scan']> = {
    read: () => get().scan,
    write: patch,
    item: (s, p) => ({ portals: { ...s.portals, [portalKey(p)]: p } }),
    end: (s, e) => {
      if (e.type !== 'succeeded') return {};
      const portals = { ...s.portals };
      for (const p of e.result.portals) portals[portalKey(p)] = p;
      return { portals, selected: e.result.portals.filter((p) => p.iscsi === true).map(portalKey) };
    },
  };
  return {
    scan: initial(),
    setScanField: (key, value) => patch({ [key]: value } as Partial<ScanSlice['scan']>),
    loadInterfaces: async () => {
      const r = await api().invoke('net:interfaces', {});
      if (r.ok) patch({ interfaces: r.value });
    },
    addTargetBlock: (cidr) => {
      const cur = splitTargets(get().scan.targetsText);
      if (!cur.includes(cidr)) patch({ targetsText: [...cur, cidr].join(', ') });
    },
    startScan: async () => {
      const s = get().scan;
      if (s.status === 'running') return;
      const v = validateScanForm(s);
      if (!v.ok) {
        patch({ error: v.error });
        return;
      }
      // A new scan replaces the portals, so later steps built on the old choice are invalid.
      patch({ portals: {}, selected: [] });
      get().invalidateAfter('scan');
      const input = { targets: v.targets, ports: v.ports, timeoutMs: s.timeoutMs, concurrency: s.concurrency, confirmLarge: s.confirmLarge, confirmPublic: s.confirmPublic };
      await runJob('scan:start', input, job, { progress: { phase: 'starting' } });
    },
    cancelScan: () => cancelJob(get().scan),
    toggleSelect: (key) => {
      const sel = get().scan.selected;
      patch({ selected: sel.includes(key) ? sel.filter((k) => k !== key) : [...sel, key] });
      get().invalidateAfter('scan');
    },
    setManual: (address, port) => patch({ manual: { ...get().scan.manual, address, port, error: undefined } }),
    addManualPortal: async () => {
      const m = get().scan.manual;
      const port = Number(m.port);
      if (!/^\d+$/.test(m.port) || port < 1 || port > 65535) {
        patch({ manual: { ...m, error: appError('INVALID_INPUT', `Port "${m.port}" is not 1 to 65535`, { field: 'port' }) } });
        return;
      }
      const plan = planScan({ targets: [m.address.trim()], ports: [port], confirmLarge: false, confirmPublic: true });
      if (!plan.ok || plan.value.addresses !== 1) {
        const error = plan.ok ? appError('INVALID_INPUT', 'Give one address, not a range', { field: 'address' }) : plan.error;
        patch({ manual: { ...m, error } });
        return;
      }
      patch({ manual: { ...m, busy: true, error: undefined } });
      const r = await api().invoke('portal:check', { address: m.address.trim(), port });
      const cur = get().scan;
      if (r.ok) {
        const key = portalKey(r.value);
        patch({
          portals: { ...cur.portals, [key]: r.value },
          selected: r.value.iscsi && !cur.selected.includes(key) ? [...cur.selected, key] : cur.selected,
          manual: { address: '', port: '3260', busy: false },
        });
      } else patch({ manual: { ...cur.manual, busy: false, error: r.error } });
    },
    resetScan: () => set({ scan: initial() }),
  };
};
