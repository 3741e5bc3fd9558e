import { describe, expect, it } from 'vitest';
import type { JobEvent } from '../../../shared/jobs';
import { JobRunner } from '../jobs/runner';
import { createHandlers, dispatch } from './handlers';

function setup() {
  const runner = new JobRunner();
  const events: JobEvent[] = [];
  runner.onEvent((e) => events.push(e));
  return { runner, events, handlers: createHandlers(runner, 'harness') };
}
const caller = { id: 'test' };

describe('dispatch', () => {
  it('answers app:info', async () => {
    const { handlers } = setup();
    const r = await dispatch(handlers, 'app:info', {}, caller);
    expect(r.ok && r.value).toMatchObject({ name: 'Bootchain', transport: 'harness' });
  });

  it('refuses an unknown channel', async () => {
    const { handlers } = setup();
    const r = await dispatch(handlers, 'fs:delete', {}, caller);
    expect(!r.ok && r.error.code).toBe('INVALID_INPUT');
  });

  it.each([
    [{ targets: ['10.77.0.0/33'] }, 'INVALID_INPUT', /10\.77\.0\.0\/33/],
    [{ targets: ['10.77.0.0/24'], ports: [0] }, 'INVALID_INPUT', /ports/],
    [{ targets: ['10.77.0.0/24'], ports: [70000] }, 'INVALID_INPUT', /ports/],
    [{ targets: ['10.0.0.0/8'] }, 'NEEDS_CONFIRMATION', /larger than a \/16/],
    [{ targets: ['10.0.0.1'], hostile: '$(reboot)' }, 'INVALID_INPUT', /hostile|Unrecognized/i],
    ['not an object', 'INVALID_INPUT', /scan:start/],
  ])('refuses scan:start %j with a clear error and starts nothing', async (input, code, re) => {
    const { handlers, runner, events } = setup();
    const r = await dispatch(handlers, 'scan:start', input, caller);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe(code);
      expect(r.error.message).toMatch(re);
      expect(r.error.hint.length).toBeGreaterThan(10);
    }
    await new Promise((res) => setTimeout(res, 20));
    expect(runner.running()).toEqual([]);
    expect(events).toEqual([]);
  });

  it('starts a scan job and reports its id to the caller', async () => {
    const { handlers, runner, events } = setup();
    const owned: string[] = [];
    const r = await dispatch(handlers, 'scan:start', { targets: ['127.0.0.1'], ports: [1], resolveNames: false }, { id: 'c', ownsJob: (id) => owned.push(id) });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const { jobId } = r.value as { jobId: string };
    expect(owned).toEqual([jobId]);
    await runner.settled(jobId);
    expect(events.at(-1)).toMatchObject({ type: 'succeeded', jobId });
  });

  it('jobs:cancel of an unknown job says so', async () => {
    const { handlers } = setup();
    const r = await dispatch(handlers, 'jobs:cancel', { jobId: 'nope' }, caller);
    expect(r.ok && r.value).toEqual({ cancelled: false });
  });

  it('no reply carries a secret of its input, whatever a handler lets slip', async () => {
    const { handlers } = setup();
    const secret = 'Qx7.vK+pZ=3w';
    const password = 'pw-Zr8!kQ%2';
    // A handler with a bug that quotes what it was given: the boundary still answers without it.
    const leaky = {
      ...handlers,
      'verify:start': async (input: { secrets: Record<string, string> }) => {
        throw new Error(`cannot use ${Object.values(input.secrets).join(', ')}`);
      },
      'upload:backups': async (input: { target: unknown }) => ({ echoed: JSON.stringify(input.target) }),
    } as unknown as typeof handlers;
    const v = await dispatch(leaky, 'verify:start', { project: {}, station: 'ws1', secrets: { 'ws1.chap': secret } }, caller);
    expect(v).toMatchObject({ ok: false, error: { message: 'cannot use [redacted]' } });
    const b = await dispatch(leaky, 'upload:backups', { target: { kind: 'ssh', host: '10.77.0.20', user: 'root', root: '/srv/tftp', auth: { kind: 'password', password } } }, caller);
    expect(JSON.stringify(b)).not.toContain(password);
    expect(JSON.stringify(b)).toContain('[redacted]');
  });

  it('secrets:set keeps only usable CHAP secrets and never answers with a secret it refused', async () => {
    const { handlers } = setup();
    const bad = await dispatch(handlers, 'secrets:set', { key: 'chap/lab/ws1.chap', value: 'x${17}||shell' }, caller);
    expect(bad).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', field: 'value' } });
    expect(JSON.stringify(bad)).not.toContain('x${17}');
    expect(await dispatch(handlers, 'secrets:get', { keys: ['chap/lab/ws1.chap'] }, caller)).toEqual({ ok: true, value: {} });
    expect(await dispatch(handlers, 'secrets:set', { key: 'chap/lab/ws1.chap', value: 'Abcdefgh2345' }, caller)).toEqual({ ok: true, value: { kept: 'session' } });
    expect(await dispatch(handlers, 'secrets:set', { key: '../../etc/passwd', value: 'Abcdefgh2345' }, caller)).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
  });
});
