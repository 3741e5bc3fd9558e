/**
 * A watch as the app and the CLI start it: the request built from the project and the input
 * (which stations, where the markers and syslog arrive, the NAS's SSH login), the NAS connection
 * opened inside the job, and Verify's check of the link a boot stopped at.
 */
import { fail } from '../../../shared/errors';
import type { Secrets } from '../../../shared/gen/artifacts';
import type { Project, Workstation } from '../../../shared/model/project';
import type { z } from 'zod';
import { watchMarkers, type WatchCheck, type WatchReport } from '../../../shared/watch';
import type { WatchStartInput } from '../../../shared/watch';
import { KnownHosts } from '../upload/known-hosts';
import { SftpTarget } from '../upload/ssh';
import { verifyStation } from '../verify/verify';
import { watchJob, type WatchContext, type WatchJobRequest } from './watch-job';

export type WatchInput = z.output<typeof WatchStartInput>;

/** Running watches that their starter may end with a report (watch:stop), by job id. */
const stoppable = new Map<string, { owner: string | undefined; stop: AbortController }>();

/** A stop signal for a watch job, until `done` is called. */
export function watchStopper(jobId: string, owner: string | undefined): { signal: AbortSignal; done(): void } {
  const stop = new AbortController();
  stoppable.set(jobId, { owner, stop });
  return { signal: stop.signal, done: () => void stoppable.delete(jobId) };
}

/** Ends a watch its caller started, with its report; false when none runs. */
export function stopWatch(jobId: string, owner: string | undefined): boolean {
  const w = stoppable.get(jobId);
  if (!w || w.owner !== owner) return false;
  w.stop.abort();
  return true;
}

/** The stations a watch is about, each checked before any job exists. */
export function watchStations(p: Project, names: string[] | undefined): Workstation[] {
  if (p.workstations.length === 0) fail('INVALID_INPUT', 'The project has no workstation to watch', { field: 'stations', hint: 'Add one in the Identity step.' });
  if (!names) return p.workstations;
  return names.map((n) => p.workstations.find((w) => w.name === n) ?? fail('NOT_FOUND', `The project has no workstation "${n}"`, { field: 'stations', hint: `Its workstations: ${p.workstations.map((w) => w.name).join(', ')}.` }));
}

/** Verify's verdict of one link for a station (the first broken one when that link was not reached). */
export async function linkCheck(p: Project, secrets: Secrets, w: Workstation, link: WatchCheck['link'], o: { buildDir?: string | undefined; signal: AbortSignal }): Promise<WatchCheck | undefined> {
  const r = await verifyStation(p, secrets, w.name, { buildDir: o.buildDir, dhcp: false, dhcpWaitMs: 0, signal: o.signal });
  let l = r.links.find((x) => x.id === link);
  if ((!l || l.status === 'skip') && r.firstBroken) l = r.links.find((x) => x.id === r.firstBroken);
  if (!l) return undefined;
  return { link: l.id, status: l.status === 'pass' ? 'pass' : l.status === 'fail' ? 'fail' : l.status === 'warn' ? 'warn' : 'skip', summary: l.summary, ...(l.fix ? { fix: l.fix } : {}) };
}

export interface WatchEnv {
  secrets: Secrets;
  knownHostsFile: string;
  buildDir?: string | undefined;
  stop?: AbortSignal | undefined;
  /** Tests: the DHCP port (67 otherwise). */
  dhcpPort?: number | undefined;
}

/** Runs a watch from its input (the NAS login happens here, inside the job). */
export async function runWatch(p: Project, input: WatchInput, env: WatchEnv, ctx: WatchContext): Promise<WatchReport> {
  const stations = watchStations(p, input.stations);
  const syslogAddress = input.syslog === false ? undefined : (input.syslog ?? (p.boot.watch?.syslog ? { address: p.boot.watch.syslog, port: 514 } : undefined));
  let nas: SftpTarget | undefined;
  const req: WatchJobRequest = {
    project: p,
    stations,
    markers: input.markers ? watchMarkers(p) : undefined,
    syslog: syslogAddress,
    dhcp: input.dhcp ? { port: env.dhcpPort ?? 67 } : undefined,
    stallMs: input.stallSeconds * 1000,
    timeoutMs: input.minutes * 60_000,
    check: input.check ? (w, link, signal) => linkCheck(p, env.secrets, w, link, { buildDir: env.buildDir, signal }) : undefined,
    stop: env.stop,
  };
  if (input.nas && p.nas.ssh) {
    try {
      nas = await SftpTarget.connect({ host: p.nas.ssh.host, port: p.nas.ssh.port, user: p.nas.ssh.user, auth: input.nas.auth, knownHosts: new KnownHosts(env.knownHostsFile), root: '/', signal: ctx.signal });
      req.nas = { runner: nas, poll: { tgtControlPort: input.nas.tgtControlPort, sudo: input.nas.sudo } };
    } catch (e) {
      req.nasUnavailable = `could not log in to the NAS over SSH: ${(e as { appError?: { message: string } }).appError?.message ?? String(e)}`;
    }
  } else if (input.nas) req.nasUnavailable = 'the project has no SSH login for the NAS (Upload step): its sessions cannot be polled';
  try {
    return await watchJob(req, ctx);
  } finally {
    nas?.close();
  }
}
