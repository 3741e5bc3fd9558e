import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { version } from '../../../package.json';
import { BUILD_TARGET_NAMES } from '../../../shared/build';
import { describeFieldErrors, loadProject } from '../../../shared/model/project';
import { detectEngines } from '../build/engine';
import { buildProject } from '../build/job';
import { CHANNELS, type Channel } from '../../../shared/channels';
import { CallEnvelope, contract, JOB_CHANNELS, type AppInfo, type OutputOf, type ParsedInputOf } from '../../../shared/contract';
import { appError, BootchainError } from '../../../shared/errors';
import { planScan } from '../../../shared/scan';
import { parseIPv4 } from '../../../shared/ipv4';
import { err, ok, type Result } from '../../../shared/result';
import { redactSecrets, toAppError } from '../errors';
import { JobRunner, type JobBody } from '../jobs/runner';
import type { JobKind, JobStarted } from '../../../shared/jobs';
import { interfaceBroadcast, listInterfaces } from '../net/interfaces';
import { checkTargetName } from '../iscsi/discovery';
import { checkInitiatorName, discoverJob, probeJob } from '../iscsi/jobs';
import { Workspace } from '../workspace/workspace';
import { checkPortal, scan } from '../scan/scanner';
import { servedFiles } from '../bootfiles/served';
import { backupsOf, rollbackOn, uploadJob } from '../upload/job';
import { KnownHosts } from '../upload/known-hosts';
import { hostKeyStatus, trustHostKey } from '../upload/ssh';
import { verifyStation } from '../verify/verify';
import { vmBootJob } from '../vm/job';
import { serveJob } from '../bootserver/job';
import { inspectJob, writeJob } from '../install/write-job';
import { stationDisk } from '../install/station-disk';
import { installVmJob, stopInstall } from '../install/vm-job';
import { runWatch, stopWatch, watchStations, watchStopper } from '../watch/start';
import { sessionCipher, SecretVault, type SecretCipher } from '../secrets/vault';
import { chapKey, chapRefs } from '../../../shared/secrets';
import { checkChapSecret } from '../../../shared/model/chap';
import { grantPrivilege, privilegeStatus } from '../privileges/privileges';
import type { Project } from '../../../shared/model/project';
import { NO_DIALOG, type DialogOpenResult } from '../../../shared/dialog';

/** One handler per channel, receiving validated input. */
export type Handlers = { [C in Channel]: (input: ParsedInputOf<C>, caller: Caller) => Promise<OutputOf<C>> };

/**
 * Who is calling: the owner of the jobs it starts (a transport sends a job's events to its owner
 * alone, and cancels an owner's jobs when it goes away).
 */
export interface Caller {
  id: string;
  /** Called with each job id the caller starts. */
  ownsJob?: (jobId: string) => void;
  /** The id this call names the job it starts (from the call's envelope, checked by dispatch). */
  jobId?: string | undefined;
}

/** Builds the handlers over a job runner; both transports share them. */
export function createHandlers(
  runner: JobRunner,
  transport: AppInfo['transport'],
  opts: {
    /** The data folder (default: BOOTCHAIN_DATA_DIR, else the platform's config folder). */
    dataDir?: string;
    /** Its layout, when an in-process caller moves a folder (the CLI's --build, --known-hosts); else from dataDir. */
    workspace?: Workspace;
    /** How remembered secrets are protected (Electron: safeStorage); asked for on first use. */
    secretCipher?: () => SecretCipher;
    /** Environment that stands in for remembered secrets (harness, CLI); none in the app. */
    secretEnv?: NodeJS.ProcessEnv;
    /**
     * CHAP secrets by reference that an in-process caller gathered (the CLI's --secrets file and
     * prompts), taken like the ones a call sends; never from the window, whose input bounds them.
     */
    chapSecrets?: Record<string, string>;
    /** The bootchain-grant helper (default: build/privileges/ under the working folder). */
    grantHelper?: string;
    /** The binary that gets cap_net_bind_service (default: this process's; the CLI's --exe). */
    privilegedExe?: string;
    /** The base image of the build container (the CLI's --base; else BOOTCHAIN_BUILD_BASE). */
    buildBase?: string;
    /** The file pickers (Electron: dialog.showOpenDialog); without it, dialog:open says to type the path. */
    openDialog?: (input: ParsedInputOf<'dialog:open'>) => Promise<DialogOpenResult>;
  } = {},
): Handlers {
  const ws = opts.workspace ?? new Workspace(opts.dataDir);
  const projects = ws.projects();
  const grantHelper = opts.grantHelper ?? path.resolve('build/privileges/bootchain-grant');
  let vaultOnce: SecretVault | undefined;
  const vault = () =>
    (vaultOnce ??= new SecretVault(
      ws.secretsDir(),
      opts.secretCipher?.() ??
        sessionCipher('This window keeps secrets for this session only (no OS keychain here); BOOTCHAIN_SECRET_<REF>, BOOTCHAIN_SSH_PASSWORD and BOOTCHAIN_SSH_PASSPHRASE give them at start.'),
      opts.secretEnv,
    ));
  /** The CHAP secrets a job needs: what the caller sent (or gave in process), then what the vault holds for the project. */
  const chapSecrets = (p: Project, sent: Record<string, string>): Record<string, string> => {
    const given = { ...opts.chapSecrets, ...sent };
    const refs = chapRefs(p.workstations);
    const missing = refs.filter((r) => given[r] === undefined);
    if (missing.length === 0) return given;
    const found = vault().get(missing.map((r) => chapKey(p.name, r)));
    const out = { ...given };
    for (const r of missing) {
      const v = found[chapKey(p.name, r)];
      if (v !== undefined) out[r] = v;
    }
    return out;
  };
  /**
   * The one disk an Install job may touch, resolved (an unknown station, a disk another station
   * shares or one other than confirmed refused) before any job exists, with the secret values
   * its events must never carry.
   */
  const installDisk = (input: { project: unknown; secrets: Record<string, string>; station: string }, expect?: { target: string; lun: number }) => {
    const p = validProject(input.project);
    const chap = chapSecrets(p, input.secrets);
    return { disk: stationDisk(p, chap, input.station, expect), secrets: Object.values(chap) };
  };
  const knownHostsFile = () => ws.knownHostsFile();
  const knownHosts = () => new KnownHosts(knownHostsFile());
  /**
   * Starts a job for a caller (who may cancel it by going away) and answers with its id; the
   * secrets the job was given, also those from the vault, never leave in its events.
   */
  const startJob = <K extends JobKind>(kind: K, body: JobBody<K>, caller: Caller, secrets: Iterable<string> = []): JobStarted => {
    const jobId = runner.start(kind, body, { secrets, jobId: caller.jobId, owner: caller.id });
    caller.ownsJob?.(jobId);
    return { jobId, kind };
  };
  return {
    'build:engines': async () => detectEngines({ base: opts.buildBase }),
    'build:start': async (input, caller) => {
      // Validate before any job exists: a bad project starts nothing.
      const p = validProject(input.project);
      const outDir = ws.buildDir(p);
      return startJob(
        'build',
        async (ctx) => {
          const targets = input.targets.map((t) => BUILD_TARGET_NAMES[t]);
          const build = { engine: input.engine, source: input.source, targets, serialConsole: input.serialConsole, https: input.https, outDir, cacheDir: ws.buildCache(), base: input.base ?? opts.buildBase };
          return { ...(await buildProject(p, build, ctx)), outDir };
        },
        caller,
      );
    },
    'ssh:hostkey': async (input) => hostKeyStatus(input.host, input.port, knownHosts()),
    'ssh:trust': async (input) => trustHostKey(input.host, input.port, input.fingerprint, knownHosts()),
    'upload:start': async (input, caller) => {
      const p = validProject(input.project);
      // Files are generated (and every value checked) before any job or connection exists.
      const chap = chapSecrets(p, input.secrets);
      const { files, notes } = servedFiles(p, chap, ws.buildDir(p), input.stockBinaries ? {} : undefined);
      const tftpHost = input.verifyTftp ? p.nas.address : undefined;
      return startJob(
        'upload',
        async (ctx) => {
          for (const n of notes) ctx.log(n, 'warn');
          return uploadJob({ files, target: input.target, dryRun: input.dryRun, planId: input.planId, tftpHost }, { knownHostsFile: knownHostsFile() }, ctx);
        },
        caller,
        [...Object.values(chap), ...secretsOf(input.target)],
      );
    },
    'upload:backups': async (input) => backupsOf(input.target, { knownHostsFile: knownHostsFile() }),
    'upload:rollback': async (input) => rollbackOn(input.target, { knownHostsFile: knownHostsFile() }, input.id),
    'verify:start': async (input, caller) => {
      const p = validProject(input.project);
      requireStation(p, input.station);
      // An interface this computer does not have is refused before any job exists.
      if (input.dhcp && input.interface) interfaceBroadcast(input.interface);
      // Stock iPXE chosen: an earlier build left in the build folder is not what the server should hold.
      const buildDir = input.stockBinaries ? undefined : ws.buildDir(p);
      const secrets = chapSecrets(p, input.secrets);
      return startJob(
        'verify',
        (ctx) =>
          verifyStation(p, secrets, input.station, {
            buildDir,
            kernelCmdline: input.kernelCmdline,
            dhcp: input.dhcp,
            dhcpWaitMs: input.dhcpWaitMs,
            interface: input.interface,
            only: input.only,
            signal: ctx.signal,
            log: (l) => ctx.log(l),
            onLink: (l) => ctx.item(l),
          }),
        caller,
        Object.values(secrets),
      );
    },
    'vm:boot': async (input, caller) => {
      const p = validProject(input.project);
      requireStation(p, input.station);
      const buildDir = ws.buildDir(p);
      const secrets = chapSecrets(p, input.secrets);
      return startJob('vmboot', (ctx) => vmBootJob({ project: p, secrets, station: input.station, network: input.network, buildDir, timeoutMs: input.timeoutMs }, ctx), caller, Object.values(secrets));
    },
    'install:inspect': async (input, caller) => {
      const { disk, secrets } = installDisk(input);
      return startJob('inspect', (ctx) => inspectJob(disk, { image: input.image }, ctx), caller, secrets);
    },
    'install:write': async (input, caller) => {
      const { disk, secrets } = installDisk(input, input.expect);
      return startJob('write', (ctx) => writeJob(disk, input, ctx), caller, secrets);
    },
    'install:vm': async (input, caller) => {
      const { disk, secrets } = installDisk(input);
      // The job's id is known before it starts: install:stop finds the VM by it (for its owner only).
      const named = withJobId(caller);
      const run = { jobId: named.jobId, owner: caller.id, iso: input.iso, overwrite: input.overwrite, vncPort: input.vncPort, timeoutMin: input.timeoutMin };
      return startJob('install', (ctx) => installVmJob(disk, run, ctx), named, secrets);
    },
    'install:stop': async (input, caller) => ({ stopped: stopInstall(input.jobId, caller.id) }),
    'watch:start': async (input, caller) => {
      const p = validProject(input.project);
      watchStations(p, input.stations);
      const secrets = chapSecrets(p, input.secrets);
      // Named before it starts, so watch:stop (its owner only) can end it with its report.
      const named = withJobId(caller);
      const stopper = watchStopper(named.jobId, caller.id);
      const buildDir = ws.buildDir(p);
      return startJob(
        'watch',
        async (ctx) => {
          try {
            return await runWatch(p, input, { secrets, knownHostsFile: knownHostsFile(), buildDir, stop: stopper.signal }, ctx);
          } finally {
            stopper.done();
          }
        },
        named,
        [...Object.values(secrets), ...secretsOf(input.nas)],
      );
    },
    'watch:stop': async (input, caller) => ({ stopped: stopWatch(input.jobId, caller.id) }),
    'serve:start': async (input, caller) => {
      const p = validProject(input.project);
      const buildDir = ws.buildDir(p);
      const root = ws.serveRoot(p);
      const secrets = chapSecrets(p, input.secrets);
      return startJob('serve', (ctx) => serveJob({ project: p, secrets, buildDir, root, address: input.address, tftpPort: input.tftpPort, httpPort: input.httpPort, proxyDhcp: input.proxyDhcp, stockBinaries: input.stockBinaries }, ctx), caller, Object.values(secrets));
    },
    'secrets:status': async () => vault().status(),
    'secrets:get': async (input) => vault().get(input.keys),
    'secrets:set': async (input) => {
      // A CHAP secret ends up in iPXE scripts: only one that passes the CHAP checks is kept.
      const c = input.key.startsWith('chap/') ? checkChapSecret(input.value, { wide: false }) : { ok: true as const };
      if (!c.ok) throw new BootchainError(appError('INVALID_INPUT', `Not a usable CHAP secret: ${c.reason}`, { field: 'value' }));
      return vault().set(input.key, input.value, input);
    },
    'secrets:forget': async (input) => vault().forget(input.key),
    'privileges:status': async (input) => privilegeStatus({ helper: grantHelper, tap: input.tap, bridge: input.bridge, ...(opts.privilegedExe ? { exe: opts.privilegedExe } : {}) }),
    'privileges:grant': async (input) => grantPrivilege(input.id, { helper: grantHelper, tap: input.tap, bridge: input.bridge, ...(opts.privilegedExe ? { exe: opts.privilegedExe } : {}) }),
    'project:list': async () => projects.list(),
    'project:load': async (input) => projects.load(input.name),
    'project:save': async (input) => projects.save(input.project),
    'app:info': async () => ({ name: 'Bootchain', version, transport, platform: process.platform }),
    'net:interfaces': async () => listInterfaces(),
    'scan:start': async (input, caller) => {
      // Bad targets are refused here, before any job exists, so nothing is started.
      const plan = planScan(input);
      if (!plan.ok) throw new BootchainError(plan.error);
      return startJob('scan', (ctx) => scan(input, ctx), caller);
    },
    'portal:check': async (input) => {
      const ip = parseIPv4(input.address);
      if (!ip.ok) throw new BootchainError(appError('INVALID_INPUT', ip.reason, { field: 'address' }));
      return checkPortal(input.address, input.port, { timeoutMs: input.timeoutMs });
    },
    'iscsi:discover': async (input, caller) => {
      checkInitiatorName(input.initiatorName);
      return startJob('discover', (ctx) => discoverJob(input, ctx), caller, secretsOf(input));
    },
    'iscsi:probe': async (input, caller) => {
      checkInitiatorName(input.initiatorName);
      checkTargetName(input.target);
      return startJob('probe', (ctx) => probeJob(input, ctx), caller, secretsOf(input));
    },
    // Only the caller that started a job may cancel it (it alone hears of it).
    'jobs:cancel': async (input, caller) => ({ cancelled: runner.cancel(input.jobId, caller.id) }),
    // The file pickers: Electron's main process brings its dialog; elsewhere the user types the path.
    'dialog:open': async (input) => (opts.openDialog ? opts.openDialog(input) : { unsupported: NO_DIALOG(transport === 'harness' ? 'the browser harness' : 'this front end') }),
  };
}

/** The project a job works on; an invalid one is refused before any job exists. */
export function validProject(raw: unknown): Project {
  const p = loadProject(raw);
  if (!p.ok) throw new BootchainError(appError('INVALID_INPUT', `The project has invalid values: ${describeFieldErrors(p.errors)}`, { field: p.errors[0]?.field }));
  return p.value;
}

/** Refuses a workstation the project does not have. */
function requireStation(p: Project, station: string): void {
  if (!p.workstations.some((w) => w.name === station)) throw new BootchainError(appError('NOT_FOUND', `The project has no workstation "${station}"`, { field: 'station' }));
}

/**
 * The secret values an input carries: CHAP secrets by reference (`secrets`), and every
 * `secret`, `password` and `passphrase` (CHAP of discovery and probe, SSH logins).
 */
/** The caller with the id its job will have (the caller's own, or a new one): for jobs a later call finds by id. */
function withJobId<C extends { jobId?: string | undefined }>(caller: C): C & { jobId: string } {
  return { ...caller, jobId: caller.jobId ?? randomUUID() };
}

function secretsOf(input: unknown): string[] {
  if (typeof input !== 'object' || input === null) return [];
  return Object.entries(input).flatMap(([k, v]): string[] => {
    if (k === 'secrets' && typeof v === 'object' && v !== null) return Object.values(v).filter((x): x is string => typeof x === 'string');
    if (typeof v === 'string') return /^(secret|password|passphrase)$/.test(k) ? [v] : [];
    return secretsOf(v);
  });
}

/** Renders zod issues as one readable sentence naming the fields. */
function describeIssues(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): { message: string; field?: string } {
  const first = issues[0];
  const field = first && first.path.length > 0 ? first.path.map(String).join('.') : undefined;
  const message = issues
    .slice(0, 3)
    .map((i) => (i.path.length > 0 ? `${i.path.map(String).join('.')}: ${i.message}` : i.message))
    .join('; ');
  return field === undefined ? { message } : { message, field };
}

/**
 * The single entry both transports call: unknown channel -> error, input validated with the
 * channel's schema, handler run, every throw turned into an AppError. Never throws. No reply
 * carries a secret of its input (secrets:get answers with secrets: that is what it is for).
 * `envelope` is what travels beside the input: `{ jobId }`, the caller's name for the job a job
 * channel starts (refused on other channels, and while a job of that id runs).
 */
export async function dispatch(handlers: Handlers, channel: unknown, rawInput: unknown, caller: Caller, envelope?: unknown): Promise<Result<unknown>> {
  if (typeof channel !== 'string' || !(CHANNELS as readonly string[]).includes(channel)) {
    return err(appError('INVALID_INPUT', `Unknown channel ${JSON.stringify(channel)}`));
  }
  const c = channel as Channel;
  const env = CallEnvelope.safeParse(envelope ?? {});
  if (!env.success) return err(appError('INVALID_INPUT', `Invalid call envelope for ${c}: ${describeIssues(env.error.issues).message}`, { field: 'jobId' }));
  const jobId = env.data.jobId;
  if (jobId !== undefined && !(c in JOB_CHANNELS)) return err(appError('INVALID_INPUT', `${c} starts no job: it takes no job id`, { field: 'jobId' }));
  const parsed = contract[c].input.safeParse(rawInput ?? {});
  if (!parsed.success) {
    const d = describeIssues(parsed.error.issues);
    return err(appError('INVALID_INPUT', `Invalid input for ${c}: ${d.message}`, d.field ? { field: d.field } : {}));
  }
  const secrets = [...secretsOf(parsed.data), ...(c === 'secrets:set' ? [(parsed.data as unknown as { value: string }).value] : [])];
  try {
    const handler = handlers[c] as (i: unknown, caller: Caller) => Promise<unknown>;
    const value = await handler(parsed.data, jobId === undefined ? caller : { ...caller, jobId });
    return ok(c === 'secrets:get' ? value : redactSecrets(value, secrets));
  } catch (e) {
    return err(redactSecrets(toAppError(e), secrets));
  }
}
