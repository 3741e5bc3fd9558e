import { appError, BootchainError, fail } from '../../../shared/errors';
import type { DiscoveredTarget, DiscoverJobResult, DiscoveryResult, ProbeResult, TargetProbe } from '../../../shared/iscsi';
import type { ParsedInputOf } from '../../../shared/contract';
import { toAppError } from '../errors';
import type { JobContext } from '../jobs/runner';
import { checkTargetName, discover, mergeDiscoveries } from './discovery';
import { probeTarget } from './probe';

/**
 * Discovery on every portal of the request, merged; a portal that fails does not sink the others.
 * Asked to probe, it then probes each target found, a few at a time, each probe streamed as items.
 */
export async function discoverJob(input: ParsedInputOf<'iscsi:discover'>, ctx: JobContext<'discover'>): Promise<DiscoverJobResult> {
  const results: DiscoveryResult[] = [];
  const failures: DiscoverJobResult['failures'] = [];
  let done = 0;
  ctx.progress({ phase: 'discover', done, total: input.portals.length });
  await Promise.all(
    input.portals.map(async (p) => {
      try {
        const r = await discover({
          host: p.address,
          port: p.port,
          initiatorName: input.initiatorName,
          chap: input.chap,
          timeoutMs: input.timeoutMs,
          // Cancel is not the only end: a target that keeps the session alive meets this.
          deadlineMs: input.deadlineMs ?? 6 * input.timeoutMs,
          signal: ctx.signal,
          log: (l) => ctx.log(`${p.address}:${p.port} ${l}`),
        });
        results.push(r);
        ctx.item({ kind: 'portal', ...r });
        for (const w of r.warnings) ctx.log(`${p.address}:${p.port}: ${w}`, 'warn');
      } catch (e) {
        const error = toAppError(e);
        if (error.code === 'CANCELLED') throw e;
        failures.push({ portal: { address: p.address, port: p.port }, error });
        ctx.log(`${p.address}:${p.port}: ${error.message}`, 'error');
      }
      ctx.progress({ phase: 'discover', done: ++done, total: input.portals.length });
    }),
  );
  if (ctx.signal.aborted) fail('CANCELLED', 'Discovery cancelled');
  if (results.length === 0 && failures[0]) throw new BootchainError(failures[0].error);
  const found: DiscoverJobResult = { targets: mergeDiscoveries(results), results, failures };
  if (!input.probe) return found;
  ctx.item({ kind: 'discovered', ...found });
  return { ...found, probes: await probeAll(input, input.probe, found.targets, ctx) };
}

/** Probes each target on its first portal, `concurrency` at a time; a probe that fails is its item, not the job's end. */
async function probeAll(
  input: ParsedInputOf<'iscsi:discover'>,
  opts: NonNullable<ParsedInputOf<'iscsi:discover'>['probe']>,
  targets: DiscoveredTarget[],
  ctx: JobContext<'discover'>,
): Promise<TargetProbe[]> {
  const queue = targets.flatMap((t) => (t.portals[0] ? [{ target: t.name, portal: { address: t.portals[0].address, port: t.portals[0].port } }] : []));
  const ended: TargetProbe[] = [];
  const total = queue.length;
  ctx.progress({ phase: 'probe', done: 0, total });
  const worker = async () => {
    for (let next = queue.shift(); next && !ctx.signal.aborted; next = queue.shift()) {
      ctx.item({ kind: 'probe', ...next, status: 'running' });
      let probe: TargetProbe;
      try {
        // A name a hostile portal sent goes on the wire only if it is a well-formed iSCSI name.
        checkTargetName(next.target);
        const result = await probeAs(
          { address: next.portal.address, port: next.portal.port, target: next.target, initiatorName: input.initiatorName, chap: opts.chap, discoveryChap: input.chap, digests: 'none', timeoutMs: input.timeoutMs },
          ctx.signal,
          (l) => ctx.log(`${next.target}: ${l}`),
        );
        probe = { ...next, status: 'succeeded', result };
      } catch (e) {
        const error = toAppError(e);
        if (error.code === 'CANCELLED' || ctx.signal.aborted) throw e;
        probe = { ...next, status: 'failed', error };
      }
      ended.push(probe);
      ctx.item({ kind: 'probe', ...probe });
      ctx.progress({ phase: 'probe', done: ended.length, total });
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, queue.length) }, worker));
  if (ctx.signal.aborted) fail('CANCELLED', 'Discovery cancelled');
  return ended;
}

/** Probe of one target as the given initiator. */
export async function probeJob(input: ParsedInputOf<'iscsi:probe'>, ctx: JobContext<'probe'>): Promise<ProbeResult> {
  ctx.progress({ phase: 'login' });
  const r = await probeAs(input, ctx.signal, (l) => ctx.log(l));
  for (const l of r.luns) ctx.item(l);
  if (r.bootLun === undefined) ctx.log('no disk LUN on this target', 'warn');
  return r;
}

/** One probe, as iscsi:probe asks for it (alone, or for each target a discover job found). */
function probeAs(input: ParsedInputOf<'iscsi:probe'>, signal: AbortSignal, log: (line: string) => void): Promise<ProbeResult> {
  return probeTarget({
    host: input.address,
    port: input.port,
    targetName: input.target,
    initiatorName: input.initiatorName,
    chap: input.chap,
    discoveryChap: input.discoveryChap,
    digests: input.digests,
    timeoutMs: input.timeoutMs,
    deadlineMs: input.deadlineMs ?? 12 * input.timeoutMs,
    signal,
    log,
  });
}

/** Refuses an initiator name that is not a well-formed iSCSI name (it goes on the wire). */
export function checkInitiatorName(name: string): void {
  if (!/^(iqn\.\d{4}-\d{2}\.[a-z0-9][a-z0-9.\-:]*|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16}([0-9A-Fa-f]{16})?)$/.test(name)) {
    throw new BootchainError(
      appError('INVALID_INPUT', `"${name.slice(0, 80)}" is not a valid initiator IQN`, {
        field: 'initiatorName',
        hint: 'An IQN looks like iqn.2007-11.org.example:workstation-1 (lower case, no spaces).',
      }),
    );
  }
}
