import type { StateCreator } from 'zustand';
import type { ServeEvent } from '../../../shared/bootserver';
import type { AppError } from '../../../shared/errors';
import type { JobEventOf } from '../../../shared/jobs';
import type { NetInterface } from '../../../shared/scan';
import { api } from '../api/client';
import type { AppState } from './index';

/** "Serve from this computer": the settings, the running server's job and what it did. */
export interface ServeSlice {
  serve: {
    address: string;
    tftpPort: string;
    httpPort: string;
    proxyDhcp: boolean;
    interfaces: NetInterface[];
    jobId?: string | undefined;
    running: boolean;
    events: ServeEvent[];
    counts: { clients: number; files: number; bytes: number; errors: number };
    error?: AppError | undefined;
    /** Why the server stopped when the user did not switch it off. */
    note?: string | undefined;
  };
  setServe(patch: Partial<Pick<ServeSlice['serve'], 'address' | 'tftpPort' | 'httpPort' | 'proxyDhcp'>>): void;
  loadServeInterfaces(): Promise<void>;
  startServe(): Promise<void>;
  /** Switches the server off; `note` says why when the user did not. */
  stopServe(note?: string): Promise<void>;
  applyServeEvent(e: JobEventOf<'serve'>): void;
}

const clientsOf = (events: ServeEvent[]) => new Set(events.filter((e) => e.kind !== 'server').map((e) => e.client.replace(/:\d+$/, ''))).size;

export const createServeSlice: StateCreator<AppState, [], [], ServeSlice> = (set, get) => {
  const patch = (p: Partial<ServeSlice['serve']>) => set((st) => ({ serve: { ...st.serve, ...p } }));
  return {
    serve: { address: '', tftpPort: '69', httpPort: '8080', proxyDhcp: false, interfaces: [], running: false, events: [], counts: { clients: 0, files: 0, bytes: 0, errors: 0 } },
    setServe: (p) => patch(p),
    loadServeInterfaces: async () => {
      const r = await api().invoke('net:interfaces', {});
      if (!r.ok) return;
      const list = r.value.filter((i) => !i.internal && i.subnets.length > 0);
      patch({ interfaces: list, address: get().serve.address || list[0]?.subnets[0]?.address || '' });
    },
    startServe: async () => {
      const s = get().serve;
      if (s.running) return;
      patch({ running: true, events: [], error: undefined, note: undefined, counts: { clients: 0, files: 0, bytes: 0, errors: 0 } });
      const outDir = get().build.result?.outDir;
      const r = await api().invoke('serve:start', {
        project: get().identity.project,
        secrets: get().identity.secrets,
        address: s.address.trim(),
        tftpPort: Number(s.tftpPort) || 69,
        httpPort: s.httpPort.trim() === '' ? 0 : Number(s.httpPort),
        proxyDhcp: s.proxyDhcp,
        ...(outDir ? { buildDir: outDir } : {}),
      });
      if (r.ok) patch({ jobId: r.value.jobId });
      else patch({ running: false, error: r.error });
    },
    stopServe: async (note) => {
      const id = get().serve.jobId;
      // The switch follows the user's hand at once; the job's end confirms it.
      patch({ running: false, note });
      if (id) await api().invoke('jobs:cancel', { jobId: id });
    },
    applyServeEvent: (e) => {
      const s = get().serve;
      if (e.jobId !== s.jobId) return;
      if (e.type === 'item') {
        const events = [...s.events, e.item].slice(-200);
        const done = e.item.status === 'done' ? 1 : 0;
        const bad = e.item.status === 'failed' || e.item.status === 'refused' || e.item.status === 'warning' ? 1 : 0;
        patch({ events, counts: { clients: clientsOf(events), files: s.counts.files + done, bytes: s.counts.bytes + (done ? e.item.bytes : 0), errors: s.counts.errors + bad } });
      } else if (e.type === 'failed') patch({ running: false, error: e.error });
      else if (e.type === 'succeeded' || e.type === 'cancelled') patch({ running: false });
    },
  };
};
