import type { StateCreator } from 'zustand';
import type { ServeEvent } from '../../../shared/bootserver';
import type { NetInterface } from '../../../shared/scan';
import { api } from '../api/client';
import type { AppState } from './index';
import { cancelJob, idleJob, runJob, type JobSlot, type JobState } from './job';

/** "Serve from this computer": the settings, the running server's job and what it did. */
export interface ServeSlice {
  serve: JobState<'serve'> & {
    address: string;
    tftpPort: string;
    httpPort: string;
    proxyDhcp: boolean;
    interfaces: NetInterface[];
    /** The switch: on from the user's start until the server stops (or the user switches it off). */
    running: boolean;
    events: ServeEvent[];
    counts: { clients: number; files: number; bytes: number; errors: number };
    /** Why the server stopped when the user did not switch it off. */
    note?: string | undefined;
  };
  setServe(patch: Partial<Pick<ServeSlice['serve'], 'address' | 'tftpPort' | 'httpPort' | 'proxyDhcp'>>): void;
  loadServeInterfaces(): Promise<void>;
  startServe(): Promise<void>;
  /** Switches the server off; `note` says why when the user did not. */
  stopServe(note?: string): Promise<void>;
}

const clientsOf = (events: ServeEvent[]) => new Set(events.filter((e) => e.kind !== 'server').map((e) => e.client.replace(/:\d+$/, ''))).size;

export const createServeSlice: StateCreator<AppState, [], [], ServeSlice> = (set, get) => {
  const patch = (p: Partial<ServeSlice['serve']>) => set((st) => ({ serve: { ...st.serve, ...p } }));
  /** The server's job: each request is an item (the live panel and its counts); its end (or a refusal) switches it off. */
  const job: JobSlot<'serve', ServeSlice['serve']> = {
    read: () => get().serve,
    write: patch,
    item: (s, item) => {
      const events = [...s.events, item].slice(-200);
      const done = item.status === 'done' ? 1 : 0;
      const bad = item.status === 'failed' || item.status === 'refused' || item.status === 'warning' ? 1 : 0;
      return { events, counts: { clients: clientsOf(events), files: s.counts.files + done, bytes: s.counts.bytes + (done ? item.bytes : 0), errors: s.counts.errors + bad } };
    },
    end: () => ({ running: false }),
  };
  return {
    serve: { address: '', tftpPort: '69', httpPort: '8080', proxyDhcp: false, interfaces: [], ...idleJob, running: false, events: [], counts: { clients: 0, files: 0, bytes: 0, errors: 0 } },
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
      const input = {
        project: get().identity.project,
        secrets: get().identity.secrets,
        address: s.address.trim(),
        tftpPort: Number(s.tftpPort) || 69,
        httpPort: s.httpPort.trim() === '' ? 0 : Number(s.httpPort),
        proxyDhcp: s.proxyDhcp,
        stockBinaries: get().build.noBuild,
      };
      await runJob('serve:start', input, job, { running: true, events: [], note: undefined, counts: { clients: 0, files: 0, bytes: 0, errors: 0 } });
    },
    stopServe: async (note) => {
      // The switch follows the user's hand at once; the job's end confirms it.
      patch({ running: false, note });
      await cancelJob(get().serve);
    },
  };
};
