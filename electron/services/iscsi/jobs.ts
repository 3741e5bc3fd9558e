import { appError, BootchainError, fail } from '../../../shared/errors';
import type { DiscoverJobResult, DiscoveryResult, ProbeResult } from '../../../shared/iscsi';
import type { ParsedInputOf } from '../../../shared/contract';
import { toAppError } from '../errors';
import type { JobContext } from '../jobs/runner';
import { discover, mergeDiscoveries } from './discovery';
import { probeTarget } from './probe';

/** Discovery on every portal of the request, merged; a portal that fails does not sink the others. */
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
        ctx.item(r);
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
  return { targets: mergeDiscoveries(results), results, failures };
}

/** Probe of one target as the given initiator. */
export async function probeJob(input: ParsedInputOf<'iscsi:probe'>, ctx: JobContext<'probe'>): Promise<ProbeResult> {
  ctx.progress({ phase: 'login' });
  const r = await probeTarget({
    host: input.address,
    port: input.port,
    targetName: input.target,
    initiatorName: input.initiatorName,
    chap: input.chap,
    discoveryChap: input.discoveryChap,
    digests: input.digests,
    timeoutMs: input.timeoutMs,
    deadlineMs: input.deadlineMs ?? 12 * input.timeoutMs,
    signal: ctx.signal,
    log: (l) => ctx.log(l),
  });
  for (const l of r.luns) ctx.item(l);
  if (r.bootLun === undefined) ctx.log('no disk LUN on this target', 'warn');
  return r;
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
