import type { StateCreator } from 'zustand';
import type { VerifyResult } from '../../../shared/verify';
import type { AppState } from './index';
import { idleJob, runJob, type JobSlot, type JobState } from './job';

export type Firmware = 'bios' | 'uefi';

/** The Router step's "Check my router": one DHCP-only walk (verify:start, only 'dhcp') per firmware. */
export interface RouterSlice {
  routerCheck: Record<Firmware, JobState<'verify'>>;
  /** Probes as BIOS firmware, then as UEFI firmware (one after the other: one UDP port 68). */
  startRouterCheck(): Promise<void>;
  resetRouterCheck(): void;
}

/** What one probe says, for the page: green, red, or not run / not probed. */
export interface RouterVerdict {
  status: 'pass' | 'fail' | 'skip' | 'idle' | 'running';
  lines: Array<{ what: string; status: string; summary: string; fix?: string | undefined }>;
}

/** The verdict of one firmware's probe from its verify result (the DHCP link as firmware, the embedded link as iPXE). */
export function routerVerdict(j: JobState<'verify'>): RouterVerdict {
  if (j.status === 'running') return { status: 'running', lines: [] };
  if (j.status === 'failed') return { status: 'fail', lines: [{ what: 'Check', status: 'fail', summary: j.error?.message ?? 'The check could not run', fix: j.error?.hint }] };
  const r: VerifyResult | undefined = j.result;
  if (!r) return { status: 'idle', lines: [] };
  const pick = (id: 'dhcp' | 'embedded', what: string) => {
    const l = r.links.find((x) => x.id === id);
    return l ? { what, status: l.status, summary: l.summary, fix: l.fix } : undefined;
  };
  const lines = [pick('dhcp', `As the ${r.firmware === 'uefi' ? 'UEFI' : 'BIOS'} firmware`), pick('embedded', 'As iPXE')].filter((x): x is NonNullable<typeof x> => !!x);
  const status = lines.some((l) => l.status === 'fail') ? 'fail' : lines.every((l) => l.status === 'skip') ? 'skip' : 'pass';
  return { status, lines };
}

export const createRouterSlice: StateCreator<AppState, [], [], RouterSlice> = (set, get) => {
  const slot = (fw: Firmware): JobSlot<'verify', JobState<'verify'>> => ({
    read: () => get().routerCheck[fw],
    write: (p) => set((st) => ({ routerCheck: { ...st.routerCheck, [fw]: { ...st.routerCheck[fw], ...p } } })),
  });
  return {
    routerCheck: { bios: { ...idleJob }, uefi: { ...idleJob } },
    startRouterCheck: async () => {
      const rc = get().routerCheck;
      if (rc.bios.status === 'running' || rc.uefi.status === 'running') return;
      const project = get().identity.project;
      const ws = project.workstations ?? [];
      const station = get().verify.station && ws.some((w) => w.name === get().verify.station) ? get().verify.station : ws[0]?.name;
      if (!station) return;
      const iface = get().verify.interface;
      for (const fw of ['bios', 'uefi'] as const) {
        // The same workstation (its MAC), asked as each firmware.
        const p = { ...project, workstations: ws.map((w) => (w.name === station ? { ...w, firmware: fw } : w)) };
        await runJob('verify:start', { project: p, secrets: get().identity.secrets, station, dhcp: true, only: 'dhcp', ...(iface ? { interface: iface } : {}) }, slot(fw));
      }
    },
    resetRouterCheck: () => set({ routerCheck: { bios: { ...idleJob }, uefi: { ...idleJob } } }),
  };
};
