/**
 * For component tests: the renderer's API over the real handlers in-process (no transport; the
 * e2e tests cover the WebSocket and the browser). Nothing is faked. Outside renderer/src, so the
 * app's own build and its import boundary never see the electron side.
 */
import { createHandlers, dispatch } from '../../electron/services/api/handlers';
import { JobRunner } from '../../electron/services/jobs/runner';
import type { Channel } from '../../shared/channels';
import type { Result } from '../../shared/result';
import type { Api } from '../src/api/client';

/** The API and the runner behind it (`opts`: the handlers' options, e.g. a data folder). */
export function inProcessApi(opts: Parameters<typeof createHandlers>[2] & { transport?: Api['transport'] } = {}): Api & { runner: JobRunner } {
  const runner = new JobRunner();
  const { transport = 'harness', ...handlerOpts } = opts;
  const handlers = createHandlers(runner, transport, handlerOpts);
  // One caller, as one window is: it hears its own jobs, as a transport would send them.
  const caller = { id: 'dom' };
  return {
    transport,
    runner,
    invoke: (channel: Channel, input: unknown, envelope?: unknown) => dispatch(handlers, channel, input, caller, envelope) as Promise<Result<never>>,
    onJobEvent: (fn) => runner.onEvent(fn, { owner: caller.id }),
  };
}
