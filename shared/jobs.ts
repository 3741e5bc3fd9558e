import { z } from 'zod';
import type { AppError } from './errors';
import type { BuildJobResult } from './build';
import type { DiscoverItem, DiscoverJobResult, LunInfo, ProbeResult } from './iscsi';
import type { Portal, ScanResult } from './scan';
import type { UploadedFile, UploadResult } from './upload';
import type { ChainLink, VerifyResult } from './verify';
import type { VmBootResult, VmStage } from './vm';
import type { ServeEvent, ServeResult } from './bootserver';
import type { InspectResult, InstallVmEvent, InstallVmResult, WriteResult } from './install';
import type { WatchItem, WatchReport } from './watch';

/** Each job kind with the items it streams and the result it ends with. */
export interface JobKinds {
  scan: { item: Portal; result: ScanResult };
  discover: { item: DiscoverItem; result: DiscoverJobResult };
  probe: { item: LunInfo; result: ProbeResult };
  build: { item: never; result: BuildJobResult };
  upload: { item: UploadedFile; result: UploadResult };
  verify: { item: ChainLink; result: VerifyResult };
  vmboot: { item: VmStage; result: VmBootResult };
  serve: { item: ServeEvent; result: ServeResult };
  inspect: { item: never; result: InspectResult };
  write: { item: never; result: WriteResult };
  install: { item: InstallVmEvent; result: InstallVmResult };
  watch: { item: WatchItem; result: WatchReport };
}
export type JobKind = keyof JobKinds;

/** Progress of a job: a phase and, where known, done of total. */
export interface JobProgress {
  phase: string;
  done?: number;
  total?: number;
  message?: string;
}

/** What `*:start` returns at once. */
export interface JobStarted {
  jobId: string;
  kind: JobKind;
}

type Base<K extends JobKind> = { jobId: string; kind: K; at: number };
/** Events of one job kind; exactly one of succeeded/failed/cancelled ends every job. */
export type JobEventOf<K extends JobKind> =
  | (Base<K> & { type: 'started' })
  | (Base<K> & { type: 'progress'; progress: JobProgress })
  | (Base<K> & { type: 'log'; level: 'info' | 'warn' | 'error'; line: string })
  | (Base<K> & { type: 'item'; item: JobKinds[K]['item'] })
  | (Base<K> & { type: 'succeeded'; result: JobKinds[K]['result'] })
  | (Base<K> & { type: 'failed'; error: AppError })
  | (Base<K> & { type: 'cancelled' });
export type JobEvent = { [K in JobKind]: JobEventOf<K> }[JobKind];

/** True for the event types that end a job. */
export function isTerminal(e: { type: JobEvent['type'] }): boolean {
  return e.type === 'succeeded' || e.type === 'failed' || e.type === 'cancelled';
}

/** A job id: the caller's name for a job it starts (a UUID from the window, or the runner's own). */
export const JOB_ID = /^[A-Za-z0-9_-]{8,64}$/;

/** Input of jobs:cancel. */
export const JobCancelInput = z.object({ jobId: z.string().min(1).max(64) }).strict();
