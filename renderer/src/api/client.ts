import type { Channel } from '../../../shared/channels';
import { JOB_CHANNELS, type CallEnvelope, type InputOf, type JobChannel, type KindOf, type OutputOf } from '../../../shared/contract';
import { appError } from '../../../shared/errors';
import { isTerminal, type JobEvent, type JobEventOf, type JobKind, type JobStarted } from '../../../shared/jobs';
import type { Result } from '../../../shared/result';

/** The typed API the renderer sees; Electron IPC and the harness WebSocket both provide it. */
export interface Api {
  /** Calls a channel; `envelope.jobId` names the job a job channel starts. */
  invoke<C extends Channel>(channel: C, input: InputOf<C>, envelope?: CallEnvelope): Promise<Result<OutputOf<C>>>;
  /** Events of the jobs this window started (each transport sends a window its own jobs only). */
  onJobEvent(fn: (e: JobEvent) => void): () => void;
  transport: 'electron' | 'harness';
}

/** What the Electron preload exposes as window.api. */
type PreloadApi = Record<Channel, (input: unknown, envelope?: unknown) => Promise<unknown>> & {
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
    invoke: (channel, input, envelope) => p[channel](input, envelope) as Promise<Result<OutputOf<typeof channel>>>,
    onJobEvent: (fn) => p.onJobEvent((e) => fn(e as JobEvent)),
  };
}

/** The harness transport: same contract, `{ id, channel, input, jobId? }` over a token-guarded WebSocket. */
export function harnessApi(url: string): Api {
  const listeners = new Set<(e: JobEvent) => void>();
  const pending = new Map<number, (r: Result<unknown>) => void>();
  /** Jobs this page started that have not ended: a lost connection ends them (the harness cancels them). */
  const open = new Map<string, JobKind>();
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
        if (msg.event) {
          if (isTerminal(msg.event)) open.delete(msg.event.jobId);
          for (const fn of listeners) fn(msg.event);
        } else if (msg.id !== undefined && msg.result) {
          pending.get(msg.id)?.(msg.result);
          pending.delete(msg.id);
        }
      };
      s.onclose = (ev) => {
        opened = undefined;
        ws = undefined;
        for (const r of pending.values()) r({ ok: false, error: lost(`closed, code ${ev.code}`) });
        pending.clear();
        for (const [jobId, kind] of open) for (const fn of listeners) fn({ jobId, kind, at: Date.now(), type: 'failed', error: lost(`closed, code ${ev.code}`) });
        open.clear();
        reject(new Error('closed'));
      };
    });
    return opened;
  };

  return {
    transport: 'harness',
    invoke: async (channel, input, envelope) => {
      let sock: WebSocket;
      try {
        sock = ws ?? (await connect());
      } catch {
        return { ok: false, error: lost('cannot connect') };
      }
      const id = nextId++;
      const jobId = envelope?.jobId;
      if (jobId && channel in JOB_CHANNELS) open.set(jobId, JOB_CHANNELS[channel as JobChannel]);
      const r = await new Promise<Result<unknown>>((resolve) => {
        pending.set(id, resolve);
        sock.send(JSON.stringify({ id, channel, input, ...envelope }));
      });
      if (!r.ok && jobId) open.delete(jobId);
      return r as Result<OutputOf<typeof channel>>;
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

/** Who hears each job this window started, by job id, and the API their events come from. */
const followers = new Map<string, (e: JobEvent) => void>();
let heard: { api: Api; off: () => void } | undefined;

/** Hands each job event to the one who started the job; the last one ends the hearing. */
function route(e: JobEvent): void {
  const fn = followers.get(e.jobId);
  if (!fn) return;
  if (isTerminal(e)) followers.delete(e.jobId);
  fn(e);
}

/** A fresh job id (the window names its jobs). */
export function newJobId(): string {
  // randomUUID wants a secure context (file:// and loopback are); getRandomValues does not.
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Starts a job the window names `jobId`: `onEvent` is registered before the call goes out, so it
 * hears every event of the job from `started` on — also those that arrive before the reply (a job
 * that fails at once). It hears nothing when the call is refused (no job exists then).
 */
export async function invokeJob<C extends JobChannel>(channel: C, input: InputOf<C>, jobId: string, onEvent: (e: JobEventOf<KindOf<C>>) => void): Promise<Result<JobStarted>> {
  const a = api();
  if (heard?.api !== a) {
    heard?.off();
    heard = { api: a, off: a.onJobEvent(route) };
  }
  followers.set(jobId, onEvent as (e: JobEvent) => void);
  const r = (await a.invoke(channel, input, { jobId })) as Result<JobStarted>;
  if (!r.ok) followers.delete(jobId);
  return r;
}
