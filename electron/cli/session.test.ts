import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BootchainError } from '../../shared/errors';
import { sampleProject } from '../../shared/gen/fixtures';
import { Session } from './session';

// The CLI's in-process contract: the same dispatch and job runner as the window's transports.
const quiet = { json: true, quiet: true, verbose: false };
let saved: string | undefined;
beforeAll(() => {
  saved = process.env.BOOTCHAIN_DATA_DIR;
  process.env.BOOTCHAIN_DATA_DIR = mkdtempSync(path.join(os.tmpdir(), 'bc-cli-session-'));
});
afterAll(() => {
  if (saved === undefined) delete process.env.BOOTCHAIN_DATA_DIR;
  else process.env.BOOTCHAIN_DATA_DIR = saved;
});

describe('the CLI session', () => {
  it('sees the end of a job that fails at once (serve on a project missing a CHAP secret)', async () => {
    const env = Object.keys(process.env).filter((k) => k.startsWith('BOOTCHAIN_SECRET_'));
    expect(env, 'no CHAP secret in the environment').toEqual([]);
    const r = new Session().job('serve:start', { project: sampleProject(), address: '127.0.0.1', tftpPort: 1, httpPort: 0 }, { out: quiet, logs: 'none' });
    const e = await r.then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(BootchainError);
    expect((e as BootchainError).appError).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/cannot be generated/) });
  });

  it('refuses what the contract refuses, before any job, with the same error', async () => {
    const e = await new Session().job('scan:start', { targets: ['10.0.0.0/30'], timeoutMs: 99_999 }, { out: quiet, logs: 'none' }).catch((x: unknown) => x);
    expect((e as BootchainError).appError).toMatchObject({ code: 'INVALID_INPUT', field: 'timeoutMs' });
  });

  it('streams a job to its result: a scan of a closed port', async () => {
    const items: unknown[] = [];
    const r = await new Session().job('scan:start', { targets: ['127.0.0.1'], ports: [9], resolveNames: false, confirmIscsi: false }, { out: quiet, logs: 'none', item: (p) => items.push(p) });
    expect(r).toMatchObject({ probed: 1, portals: [] });
    expect(items).toEqual([]);
  });
});
