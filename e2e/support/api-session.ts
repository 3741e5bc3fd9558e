import { createHandlers, dispatch } from '../../electron/services/api/handlers';
import { JobRunner } from '../../electron/services/jobs/runner';
import { isTerminal, type JobEvent } from '../../shared/jobs';
import type { Result } from '../../shared/result';
import { keychainStandIn } from './keychain-stand-in';

/**
 * The API as a window sees it, for the secrets tests: the real handlers behind the dispatch both
 * transports use, every job event and reply kept. A call that starts a job returns once the job
 * has ended. The OS keychain cannot run here (no Electron): an in-memory key stands in for it.
 */
export function apiSession(dataDir: string) {
  const runner = new JobRunner();
  const events: JobEvent[] = [];
  const replies: string[] = [];
  runner.onEvent((e) => events.push(e));
  const handlers = createHandlers(runner, 'harness', { dataDir, secretCipher: () => keychainStandIn() });
  const caller = { id: 'test' };
  const ended = (jobId: string) => events.find((e) => e.jobId === jobId && isTerminal(e));
  /** Calls a channel; secrets:get answers with secrets by design (to the app's own window): its reply is kept apart. */
  const call = async (channel: string, input: unknown): Promise<Result<unknown>> => {
    const r = await dispatch(handlers, channel, input, caller);
    if (channel !== 'secrets:get') replies.push(JSON.stringify(r));
    const jobId = r.ok ? (r.value as { jobId?: unknown }).jobId : undefined;
    if (typeof jobId === 'string') while (!ended(jobId)) await new Promise((res) => setTimeout(res, 20));
    return r;
  };
  /** The terminal event of the job a call started. */
  const endOf = (r: Result<unknown>): JobEvent | undefined => (r.ok ? ended((r.value as { jobId: string }).jobId) : undefined);
  /** Every event and reply as one text, as it crossed the wire. */
  const wire = () => [...events.map((e) => JSON.stringify(e)), ...replies].join('\n');
  return { runner, handlers, caller, events, replies, call, endOf, wire };
}
