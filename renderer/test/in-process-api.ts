/**
 * For component tests: the renderer's API over the real handlers in-process (no transport; the
 * e2e tests cover the WebSocket and the browser). Nothing is faked. Outside renderer/src, so the
 * app's own build and its import boundary never see the electron side.
 */
import { createHandlers, dispatch } from '../../electron/services/api/handlers';
import { JobRunner } from '../../electron/services/jobs/runner';
import type { Channel } from '../../shared/channels';
import type { JobEvent } from '../../shared/jobs';
import type { Result } from '../../shared/result';
import type { Api } from '../src/api/client';

export function inProcessApi(): Api {
  const runner = new JobRunner();
  const handlers = createHandlers(runner, 'harness');
  return {
    transport: 'harness',
    invoke: (channel: Channel, input: unknown) => dispatch(handlers, channel, input, { id: 'dom' }) as Promise<Result<never>>,
    onJobEvent: (fn: (e: JobEvent) => void) => runner.onEvent(fn),
  };
}
