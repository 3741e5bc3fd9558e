import { z } from 'zod';
import { BuildStartInput, type EngineInfo } from './build';
import type { Channel } from './channels';
import { DiscoverInput, ProbeInput } from './iscsi';
import { JobCancelInput, JOB_ID, type JobKind, type JobStarted } from './jobs';
import type { ProjectInput } from './model/project';
import { PortalCheckInput, ScanStartInput, type NetInterface, type Portal } from './scan';
import { VerifyInput } from './verify';
import { PrivilegeGrantInput, PrivilegeStatusInput, type PrivilegeStatus } from './privileges';
import { SecretsForgetInput, SecretsGetInput, SecretsSetInput, type SecretsStatus } from './secrets';
import { VmBootInput } from './vm';
import { InspectInput, InstallVmInput, WriteInput } from './install';
import { DialogOpenInput, type DialogOpenResult } from './dialog';
import { ServeStartInput } from './bootserver';
import { WatchStartInput } from './watch';
import { BackupsInput, HostKeyInput, RollbackInput, TrustInput, UploadStartInput, type BackupSetInfo, type HostKeyStatus, type RollbackResult } from './upload';

/** Static facts about the running backend. */
export interface AppInfo {
  name: string;
  version: string;
  transport: 'electron' | 'harness' | 'cli';
  platform: string;
}

const Empty = z.object({}).strict().default({});

/** Phantom marker for an output type (no runtime value needed). */
const out = <T>(): T => undefined as unknown as T;

/** Every channel: its zod input schema and its output type. */
export const contract = {
  'app:info': { input: Empty, output: out<AppInfo>() },
  'net:interfaces': { input: Empty, output: out<NetInterface[]>() },
  'scan:start': { input: ScanStartInput, output: out<JobStarted>() },
  'portal:check': { input: PortalCheckInput, output: out<Portal>() },
  'iscsi:discover': { input: DiscoverInput, output: out<JobStarted>() },
  'iscsi:probe': { input: ProbeInput, output: out<JobStarted>() },
  'project:list': { input: Empty, output: out<Array<{ name: string; modified: string }>>() },
  'project:load': { input: z.object({ name: z.string().min(1).max(64) }).strict(), output: out<ProjectInput>() },
  'project:save': { input: z.object({ project: z.unknown() }).strict(), output: out<{ name: string; path: string }>() },
  'secrets:status': { input: Empty, output: out<SecretsStatus>() },
  'secrets:get': { input: SecretsGetInput, output: out<Record<string, string>>() },
  'secrets:set': { input: SecretsSetInput, output: out<{ kept: 'disk' | 'session' }>() },
  'secrets:forget': { input: SecretsForgetInput, output: out<{ forgotten: boolean }>() },
  'privileges:status': { input: PrivilegeStatusInput, output: out<PrivilegeStatus>() },
  'privileges:grant': { input: PrivilegeGrantInput, output: out<PrivilegeStatus>() },
  'build:engines': { input: Empty, output: out<EngineInfo[]>() },
  'build:start': { input: BuildStartInput, output: out<JobStarted>() },
  'ssh:hostkey': { input: HostKeyInput, output: out<HostKeyStatus>() },
  'ssh:trust': { input: TrustInput, output: out<HostKeyStatus>() },
  'upload:start': { input: UploadStartInput, output: out<JobStarted>() },
  'upload:backups': { input: BackupsInput, output: out<BackupSetInfo[]>() },
  'upload:rollback': { input: RollbackInput, output: out<RollbackResult>() },
  'verify:start': { input: VerifyInput, output: out<JobStarted>() },
  'vm:boot': { input: VmBootInput, output: out<JobStarted>() },
  'serve:start': { input: ServeStartInput, output: out<JobStarted>() },
  'install:inspect': { input: InspectInput, output: out<JobStarted>() },
  'install:write': { input: WriteInput, output: out<JobStarted>() },
  'install:vm': { input: InstallVmInput, output: out<JobStarted>() },
  'install:stop': { input: JobCancelInput, output: out<{ stopped: boolean }>() },
  'watch:start': { input: WatchStartInput, output: out<JobStarted>() },
  /** Ends a watch with its report (its owner only); jobs:cancel ends it without one. */
  'watch:stop': { input: JobCancelInput, output: out<{ stopped: boolean }>() },
  'jobs:cancel': { input: JobCancelInput, output: out<{ cancelled: boolean }>() },
  'dialog:open': { input: DialogOpenInput, output: out<DialogOpenResult>() },
} satisfies Record<Channel, { input: z.ZodType; output: unknown }>;

// Compile-time check that CHANNELS lists exactly the contract's keys.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const channelsMatch: Same<keyof typeof contract, Channel> = true;
void channelsMatch;

export type Contract = typeof contract;
/** What a caller passes (defaults may be omitted). */
export type InputOf<C extends Channel> = z.input<Contract[C]['input']>;
/** What a handler receives (defaults applied). */
export type ParsedInputOf<C extends Channel> = z.output<Contract[C]['input']>;
export type OutputOf<C extends Channel> = Contract[C]['output'];

/** The channels that start a job, each with the kind of job it starts. */
export const JOB_CHANNELS = {
  'scan:start': 'scan',
  'iscsi:discover': 'discover',
  'iscsi:probe': 'probe',
  'build:start': 'build',
  'upload:start': 'upload',
  'verify:start': 'verify',
  'vm:boot': 'vmboot',
  'serve:start': 'serve',
  'install:inspect': 'inspect',
  'install:write': 'write',
  'install:vm': 'install',
  'watch:start': 'watch',
} as const satisfies Partial<Record<Channel, JobKind>>;
export type JobChannel = keyof typeof JOB_CHANNELS;
/** The kind of job a channel starts. */
export type KindOf<C extends JobChannel> = (typeof JOB_CHANNELS)[C];

/**
 * What travels beside a call's input: the id the caller gives the job it starts (electron-trpc's
 * habit: the caller names the job, so it listens before any event can exist). Job channels only.
 */
export const CallEnvelope = z.object({ jobId: z.string().regex(JOB_ID, 'a job id is 8 to 64 letters, digits, "-" or "_"').optional() }).strict();
export type CallEnvelope = z.input<typeof CallEnvelope>;
