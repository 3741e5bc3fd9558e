/**
 * The contract in process: the CLI calls the same handlers through the same dispatch as the
 * window's two transports (same validation, same errors, same job events), as one caller that
 * names each job it starts, so it listens before any event of it can exist.
 */
import { randomUUID } from 'node:crypto';
import type { Channel } from '../../shared/channels';
import type { InputOf, JobChannel, KindOf, OutputOf } from '../../shared/contract';
import { BootchainError } from '../../shared/errors';
import type { JobEventOf, JobKinds } from '../../shared/jobs';
import { createHandlers, dispatch, type Caller, type Handlers } from '../services/api/handlers';
import { JobRunner } from '../services/jobs/runner';
import { defaultGrantHelper } from '../services/privileges/privileges';
import { defaultDataDir, Workspace, type WorkspaceOverrides } from '../services/workspace/workspace';
import { followJob, type JobView } from './render';

/** What only an in-process caller may set: folders of the workspace, the binary to grant, the build's base image, CHAP secrets. */
export interface SessionOptions extends WorkspaceOverrides {
  exe?: string | undefined;
  base?: string | undefined;
  /**
   * CHAP secrets by reference (--secrets, BOOTCHAIN_SECRET_<REF>, the prompt), given to the
   * handlers in process rather than in the input: a secret the input's bounds would refuse unseen
   * (too long) is refused by the CHAP checks instead, in the report, naming the field.
   */
  secrets?: Record<string, string> | undefined;
}

const CALLER: Caller = { id: 'cli' };

/** One CLI run's backend: a job runner and the handlers over the workspace. */
export class Session {
  private readonly runner = new JobRunner();
  private readonly handlers: Handlers;

  constructor(o: SessionOptions = {}) {
    this.handlers = createHandlers(this.runner, 'cli', {
      workspace: new Workspace(defaultDataDir(), { buildDir: o.buildDir, knownHosts: o.knownHosts }),
      // BOOTCHAIN_SECRET_<REF>, BOOTCHAIN_SSH_PASSWORD and _PASSPHRASE stand in for remembered secrets.
      secretEnv: process.env,
      ...(o.secrets ? { chapSecrets: o.secrets } : {}),
      grantHelper: defaultGrantHelper(__dirname),
      ...(o.exe ? { privilegedExe: o.exe } : {}),
      ...(o.base ? { buildBase: o.base } : {}),
    });
  }

  /** Calls a channel as the window does; a refusal is thrown as its AppError. */
  async call<C extends Channel>(channel: C, input: InputOf<C>, envelope?: { jobId: string }): Promise<OutputOf<C>> {
    const r = await dispatch(this.handlers, channel, input, CALLER, envelope);
    if (!r.ok) throw new BootchainError(r.error);
    return r.value as OutputOf<C>;
  }

  /**
   * Starts a job and follows it to its one terminal event, its events rendered by `view`; Ctrl-C
   * cancels it through jobs:cancel. Resolves with its result, throws its error.
   */
  async job<C extends JobChannel>(channel: C, input: InputOf<C>, view: JobView<KindOf<C>>): Promise<JobKinds[KindOf<C>]['result']> {
    type K = KindOf<C>;
    const jobId = randomUUID();
    const follow = followJob<K>(view);
    const off = this.runner.onEvent((e) => e.jobId === jobId && follow.event(e as unknown as JobEventOf<K>), { owner: CALLER.id });
    let interrupted = false;
    const cancel = () => {
      if (view.interrupt && !interrupted) {
        interrupted = true;
        return view.interrupt(jobId);
      }
      void this.call('jobs:cancel', { jobId }).catch(() => undefined);
    };
    process.on('SIGINT', cancel);
    try {
      await this.call(channel, input, { jobId });
      return await follow.done;
    } finally {
      process.off('SIGINT', cancel);
      off();
      follow.close();
    }
  }
}
