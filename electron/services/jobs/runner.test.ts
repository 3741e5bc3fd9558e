import { describe, expect, it } from 'vitest';
import { fail } from '../../../shared/errors';
import type { JobEvent } from '../../../shared/jobs';
import { JobRunner } from './runner';

function collect(r: JobRunner): JobEvent[] {
  const evs: JobEvent[] = [];
  r.onEvent((e) => evs.push(e));
  return evs;
}

const emptyResult = { portals: [], probed: 0, closed: 0, silent: 0, durationMs: 0, blocks: [], ports: [] };

describe('JobRunner', () => {
  it('returns an id at once, then started ... succeeded, exactly one terminal event', async () => {
    const r = new JobRunner();
    const evs = collect(r);
    const id = r.start('scan', async (ctx) => {
      ctx.item({ address: '10.0.0.1', port: 3260, iscsi: true });
      ctx.log('hello');
      return emptyResult;
    });
    expect(evs).toHaveLength(0);
    await r.settled(id);
    expect(evs.map((e) => e.type)).toEqual(['started', 'item', 'log', 'succeeded']);
    expect(evs.every((e) => e.jobId === id)).toBe(true);
    expect(r.running()).toEqual([]);
  });

  it('maps a thrown BootchainError to failed with the same code', async () => {
    const r = new JobRunner();
    const evs = collect(r);
    const id = r.start('scan', async () => fail('UNREACHABLE', 'nope', { hint: 'do this' }));
    await r.settled(id);
    const last = evs.at(-1);
    expect(last?.type).toBe('failed');
    if (last?.type === 'failed') expect(last.error).toMatchObject({ code: 'UNREACHABLE', message: 'nope', hint: 'do this' });
  });

  it('maps an unexpected throw to INTERNAL', async () => {
    const r = new JobRunner();
    const evs = collect(r);
    const id = r.start('scan', async () => {
      throw new TypeError('boom');
    });
    await r.settled(id);
    const last = evs.at(-1);
    expect(last?.type === 'failed' && last.error.code).toBe('INTERNAL');
  });

  it('cancel aborts the signal and ends with cancelled, not failed', async () => {
    const r = new JobRunner();
    const evs = collect(r);
    const id = r.start(
      'scan',
      (ctx) =>
        new Promise((_res, rej) => {
          ctx.signal.addEventListener('abort', () => rej(ctx.signal.reason));
        }),
    );
    await new Promise((res) => setTimeout(res, 10));
    expect(r.cancel(id)).toBe(true);
    await r.settled(id);
    expect(evs.map((e) => e.type)).toEqual(['started', 'cancelled']);
    expect(r.cancel(id)).toBe(false);
  });

  it('throttles progress to about 10 per second and keeps the last value', async () => {
    const r = new JobRunner();
    const evs = collect(r);
    const id = r.start('scan', async (ctx) => {
      for (let i = 1; i <= 1000; i++) ctx.progress({ phase: 'connect', done: i, total: 1000 });
      return emptyResult;
    });
    await r.settled(id);
    const progress = evs.filter((e) => e.type === 'progress');
    expect(progress.length).toBeLessThanOrEqual(3);
    const lastProgress = progress.at(-1);
    expect(lastProgress?.type === 'progress' && lastProgress.progress.done).toBe(1000);
    expect(evs.at(-1)?.type).toBe('succeeded');
  });

  it('a job started with its secrets never emits them: log lines, items, results and errors carry [redacted]', async () => {
    const r = new JobRunner();
    const evs = collect(r);
    const secrets = ['Qx7.vK+pZ=3w', 'mu@T~9!%r*L-'];
    const ok = r.start(
      'scan',
      async (ctx) => {
        ctx.log(`netroot=iscsi:u:${secrets[0]}:t:${secrets[1]}@10.0.0.5`);
        ctx.item({ address: '10.0.0.1', port: 3260, iscsi: true, name: `host-${secrets[1]}` });
        ctx.progress({ phase: secrets[0]! });
        return { ...emptyResult, blocks: [secrets[0]!] } as unknown as typeof emptyResult;
      },
      { secrets },
    );
    const bad = r.start('scan', async () => fail('AUTH_FAILED', `refused ${secrets[0]}`, { hint: `not ${secrets[1]}`, detail: secrets.join(' ') }), { secrets });
    await Promise.all([r.settled(ok), r.settled(bad)]);
    const text = JSON.stringify(evs);
    for (const s of secrets) expect(text).not.toContain(s);
    expect(evs.find((e) => e.type === 'log')).toMatchObject({ line: 'netroot=iscsi:u:[redacted]:t:[redacted]@10.0.0.5' });
    expect(evs.find((e) => e.jobId === bad && e.type === 'failed')).toMatchObject({ error: { code: 'AUTH_FAILED', message: 'refused [redacted]', hint: 'not [redacted]' } });
  });

  it('a throwing listener does not break the job', async () => {
    const r = new JobRunner();
    r.onEvent(() => {
      throw new Error('listener bug');
    });
    const evs = collect(r);
    const id = r.start('scan', async () => emptyResult);
    await r.settled(id);
    expect(evs.at(-1)?.type).toBe('succeeded');
  });

  it('a job named by its caller keeps that id; a running id is not taken twice', async () => {
    const r = new JobRunner();
    const evs = collect(r);
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    expect(r.start('scan', async () => (await gate, emptyResult), { jobId: 'caller-named-1' })).toBe('caller-named-1');
    expect(() => r.start('scan', async () => emptyResult, { jobId: 'caller-named-1' })).toThrow(/already running/);
    release();
    await r.settled('caller-named-1');
    expect(evs.map((e) => [e.jobId, e.type])).toEqual([
      ['caller-named-1', 'started'],
      ['caller-named-1', 'succeeded'],
    ]);
  });

  it('an owner hears only its own jobs and cancels only them; an unfiltered listener hears all', async () => {
    const r = new JobRunner();
    const all = collect(r);
    const a: JobEvent[] = [];
    const b: JobEvent[] = [];
    r.onEvent((e) => a.push(e), { owner: 'a' });
    r.onEvent((e) => b.push(e), { owner: 'b' });
    const waitForAbort = (ctx: { signal: AbortSignal }) =>
      new Promise<typeof emptyResult>((_res, rej) => {
        if (ctx.signal.aborted) rej(ctx.signal.reason);
        ctx.signal.addEventListener('abort', () => rej(ctx.signal.reason));
      });
    const ja = r.start('scan', waitForAbort, { owner: 'a' });
    const jb = r.start('scan', waitForAbort, { owner: 'b' });
    const none = r.start('scan', async () => emptyResult);
    expect(r.cancel(ja, 'b')).toBe(false);
    expect(r.cancel(ja, 'a')).toBe(true);
    await r.cancelAll('b');
    await Promise.all([r.settled(ja), r.settled(none)]);
    expect(new Set(a.map((e) => e.jobId))).toEqual(new Set([ja]));
    expect(new Set(b.map((e) => e.jobId))).toEqual(new Set([jb]));
    expect(new Set(all.map((e) => e.jobId))).toEqual(new Set([ja, jb, none]));
    expect([a.at(-1)?.type, b.at(-1)?.type]).toEqual(['cancelled', 'cancelled']);
  });
});
