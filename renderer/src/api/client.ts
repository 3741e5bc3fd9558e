import type { Channel } from '../../../shared/channels';
import type { InputOf, OutputOf } from '../../../shared/contract';
import { appError } from '../../../shared/errors';
import type { JobEvent } from '../../../shared/jobs';
import type { Result } from '../../../shared/result';

/** The typed API the renderer sees; Electron IPC and the harness WebSocket both provide it. */
export interface Api {
  invoke<C extends Channel>(channel: C, input: InputOf<C>): Promise<Result<OutputOf<C>>>;
  onJobEvent(fn: (e: JobEvent) => void): () => void;
  transport: 'electron' | 'harness';
}

/** What the Electron preload exposes as window.api. */
type PreloadApi = Record<Channel, (input: unknown) => Promise<unknown>> & {
  onJobEvent(fn: (e: unknown) => void): () => void;
};

declare global {
  interface Window {
    api?: PreloadApi;
  }
}

function electronApi(p: PreloadApi): Api {
  return {
    transport: 'electron',
    invoke: (channel, input) => p[channel](input) as Promise<Result<OutputOf<typeof channel>>>,
    onJobEvent: (fn) => p.onJobEvent((e) => fn(e as JobEvent)),
  };
}

/** The harness transport: same contract, `{ id, channel, input }` over a token-guarded WebSocket. */
function harnessApi(url: string): Api {
  const listeners = new Set<(e: JobEvent) => void>();
  const pending = new Map<number, (r: Result<unknown>) => void>();
  let nextId = 1;
  let ws: WebSocket | undefined;
  let opened: Promise<WebSocket> | undefined;

  const lost = (why: string) =>
    appError('UNREACHABLE', `Lost the connection to the Bootchain harness (${why})`, {
      hint: 'Check that `npm run harness` still runs, then reload this page.',
    });

  const connect = (): Promise<WebSocket> => {
    if (opened) return opened;
    opened = new Promise((resolve, reject) => {
      const s = new WebSocket(url);
      s.onopen = () => {
        ws = s;
        resolve(s);
      };
      s.onmessage = (m) => {
        const msg = JSON.parse(String(m.data)) as { id?: number; result?: Result<unknown>; event?: JobEvent };
        if (msg.event) for (const fn of listeners) fn(msg.event);
        else if (msg.id !== undefined && msg.result) {
          pending.get(msg.id)?.(msg.result);
          pending.delete(msg.id);
        }
      };
      s.onclose = (ev) => {
        opened = undefined;
        ws = undefined;
        for (const r of pending.values()) r({ ok: false, error: lost(`closed, code ${ev.code}`) });
        pending.clear();
        reject(new Error('closed'));
      };
    });
    return opened;
  };

  return {
    transport: 'harness',
    invoke: async (channel, input) => {
      let sock: WebSocket;
      try {
        sock = ws ?? (await connect());
      } catch {
        return { ok: false, error: lost('cannot connect') };
      }
      const id = nextId++;
      return new Promise((resolve) => {
        pending.set(id, resolve as (r: Result<unknown>) => void);
        sock.send(JSON.stringify({ id, channel, input }));
      });
    },
    onJobEvent: (fn) => {
      listeners.add(fn);
      void connect().catch(() => undefined);
      return () => listeners.delete(fn);
    },
  };
}

/** Picks the transport: Electron's preload when present, the harness otherwise. */
export function createApi(): Api {
  if (window.api) return electronApi(window.api);
  const token = new URLSearchParams(window.location.hash.slice(1)).get('token') ?? '';
  const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return harnessApi(`${proto}//${window.location.host}/ws?token=${encodeURIComponent(token)}`);
}

let current: Api | undefined;
/** The process-wide API (tests may replace it with setApi). */
export function api(): Api {
  current ??= createApi();
  return current;
}
/** Replaces the API (component tests). */
export function setApi(a: Api): void {
  current = a;
}
