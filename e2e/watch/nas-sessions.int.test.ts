import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IscsiSession } from '../../electron/services/iscsi/session';
import { KnownHosts } from '../../electron/services/upload/known-hosts';
import { SftpTarget, trustHostKey } from '../../electron/services/upload/ssh';
import { pollSessions, sshRunner, watchSessions, type CommandRunner, type SessionEvent, type SessionPoll } from '../../electron/services/watch/nas-sessions';
import { addLabHost } from '../lab/lab';
import { startIstgt, type LabHost } from '../lab/istgt';
import { labOrSkipReason } from '../support/lab-guard';

// Against the lab NAS's real tgtd over its real sshd (the upload's SSH connection: SftpTarget),
// and a real istgt in a lab host (no sshd there: its commands run through the host's exec). The
// sessions are real logins by Bootchain's own initiator (IscsiSession) as a test IQN.
const lab = labOrSkipReason('watch nas-sessions.int.test.ts');
const pexec = promisify(execFile);

/** Runs the poller's commands inside a lab namespace (what SSH would do on a NAS with sshd). */
function nsRunner(ns: string): CommandRunner {
  return (cmd, opts) =>
    new Promise((resolve) => {
      execFile('ip', ['netns', 'exec', ns, ...cmd], { signal: opts?.signal, maxBuffer: 8 << 20 }, (e, stdout, stderr) => {
        const code = e ? (typeof (e as { code?: unknown }).code === 'number' ? ((e as { code: number }).code) : 127) : 0;
        resolve({ stdout, stderr, code });
      });
    });
}

/** Resolves with the first event `match` accepts (the test's timeout bounds the wait). */
function eventWaiter() {
  const seen: SessionEvent[] = [];
  const polls: SessionPoll[] = [];
  const waiters: Array<{ match: (e: SessionEvent) => boolean; resolve: (e: SessionEvent) => void }> = [];
  return {
    seen,
    polls,
    onChange(events: SessionEvent[], poll: SessionPoll) {
      polls.push(poll);
      for (const e of events) {
        seen.push(e);
        for (const w of waiters.splice(0)) if (w.match(e)) w.resolve(e);
        else waiters.push(w);
      }
    },
    next(match: (e: SessionEvent) => boolean): Promise<SessionEvent> {
      const found = seen.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

/** Polls until `ok` holds for a poll (the NAS tears sessions down a moment after the logout). */
async function pollUntil(run: Parameters<typeof pollSessions>[0], o: Parameters<typeof pollSessions>[1], ok: (p: SessionPoll) => boolean): Promise<SessionPoll> {
  for (;;) {
    const p = await pollSessions(run, o);
    if (ok(p)) return p;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const testIqn = (name: string) => `iqn.2026-12.test.bootchain.watch:${name}-${randomBytes(3).toString('hex')}`;

describe.skipIf(!lab)('NAS iSCSI sessions seen from the NAS', () => {
  if (!lab) return void it.skip('needs the lab (see the SKIP line above)', () => undefined);
  const L = lab;
  const S = L.ssh;
  const work = mkdtempSync(path.join(os.tmpdir(), 'bc-nas-sessions-'));
  const known = new KnownHosts(path.join(work, 'known_hosts'));
  const ctl = L.nas.tgtControlPorts[0]!;
  let root: SftpTarget;
  let user: SftpTarget;
  /** The upload's SSH connection (SftpTarget.connection), as the watch job uses it. */
  const conn = (t: SftpTarget) => t;

  beforeAll(async () => {
    const fp = (await pexec('ssh-keygen', ['-l', '-E', 'sha256', '-f', S.hostKeyPub])).stdout.split(' ')[1]!;
    await trustHostKey(S.host, S.port, fp, known);
    root = await SftpTarget.connect({ host: S.host, port: S.port, user: 'root', auth: { kind: 'key', path: S.root.key, passphrase: S.root.passphrase }, knownHosts: known, root: '/' });
    user = await SftpTarget.connect({ host: S.host, port: S.port, user: S.password.user, auth: { kind: 'password', password: S.password.password }, knownHosts: known, root: S.password.home });
  });
  afterAll(() => {
    root?.close();
    user?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('tgtd over SSH as root: watchSessions sees the initiator log in to ws1 and log out', async () => {
    const iqn = testIqn('tgt');
    const ac = new AbortController();
    const w = eventWaiter();
    const errors: unknown[] = [];
    const watching = watchSessions(conn(root), { intervalMs: 300, signal: ac.signal, tgtControlPort: ctl, onChange: w.onChange, onError: (e) => errors.push(e) });
    // The first poll comes before the login, so the login is a change, not an initial session.
    await new Promise<void>((r) => {
      const t = setInterval(() => w.polls.length > 0 && (clearInterval(t), r()), 50);
    });
    const s = await IscsiSession.login({ host: L.nas.ips[0]!, port: 3260, initiatorName: iqn, sessionType: 'Normal', targetName: L.iscsi.targets.mbr });
    const login = await w.next((e) => e.kind === 'login' && e.session.initiator === iqn);
    expect(login).toMatchObject({ method: 'tgtadm', session: { initiator: iqn, target: L.iscsi.targets.mbr, address: L.desk.ip } });
    expect(login.initial).toBeUndefined();
    await s.logout();
    const logout = await w.next((e) => e.kind === 'logout' && e.session.initiator === iqn);
    ac.abort();
    await watching;
    expect(logout.at).toBeGreaterThanOrEqual(login.at);
    expect(w.seen.filter((e) => e.session.initiator === iqn).map((e) => e.kind)).toEqual(['login', 'logout']);
    expect(w.polls.every((p) => p.method === 'tgtadm' && p.fallbacks.length === 0)).toBe(true);
    expect(errors).toEqual([]);
    process.stdout.write(`tgtd over SSH: ${w.polls.length} polls, events ${w.seen.map((e) => `${e.kind} ${e.key}`).join('; ')}\n`);
  });

  it('tgtd over SSH without root: PERMISSION_DENIED says tgtadm needs root, and ss shows the connection by address only', async () => {
    const iqn = testIqn('nonroot');
    const s = await IscsiSession.login({ host: L.nas.ips[0]!, port: 3260, initiatorName: iqn, sessionType: 'Normal', targetName: L.iscsi.targets.empty });
    let seen: SessionPoll;
    try {
      seen = await pollSessions(conn(user), { tgtControlPort: ctl });
      expect(seen.method).toBe('ss');
      expect(seen.fallbacks[0]).toMatchObject({ code: 'PERMISSION_DENIED', message: expect.stringContaining('tgtadm needs root on the NAS: log in as root or allow it with sudo -n') });
      expect(seen.sessions).toContainEqual({ address: L.desk.ip, port: expect.any(Number), portal: `${L.nas.ips[0]}:3260` });
      expect(seen.sessions.every((x) => x.initiator === undefined)).toBe(true);
    } finally {
      await s.logout();
    }
    // Other tests' VMs may leave connections to the same portal (a killed VM never logs out):
    // ours is gone when there is one fewer.
    const ours = (p: SessionPoll) => p.sessions.filter((x) => x.portal === `${L.nas.ips[0]}:3260` && x.address === L.desk.ip).length;
    const gone = await pollUntil(conn(user), { tgtControlPort: ctl }, (p) => ours(p) < ours(seen!));
    expect(gone.method).toBe('ss');
    process.stdout.write(`non-root: ${seen.fallbacks.map((f) => `${f.code}: ${f.message}`).join(' | ')}; then ss saw ${seen.sessions.length} connection(s)\n`);
  });

  it('cancel: an abort closes the running command over SSH, and a watch ends', async () => {
    const ac = new AbortController();
    const running = sshRunner(conn(root).connection!)(['sleep', '30'], { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    await expect(running).rejects.toMatchObject({ appError: { code: 'CANCELLED' } });
    const wc = new AbortController();
    let polls = 0;
    const watching = watchSessions(conn(root), { intervalMs: 60_000, signal: wc.signal, tgtControlPort: ctl, onChange: () => (polls++, wc.abort()) });
    await watching;
    expect(polls).toBe(1);
  });

  describe('istgt in a lab host (commands through its exec)', () => {
    let host: LabHost;
    let iqnTarget: string;
    const ip = '10.77.0.63';
    const conf = path.join(work, 'istgtcontrol.conf');
    beforeAll(async () => {
      host = await addLabHost(L, 'hzwist', [ip]);
      iqnTarget = (await startIstgt(host, { ip, dir: path.join(work, 'istgt'), sizeMiB: 8 })).iqn;
      // istgtcontrol's own config: the lab istgt's [UnitControl] portal, without CHAP.
      writeFileSync(conf, '[Global]\n  Timeout 10\n  AuthMethod Auto\n  Host localhost\n  Port 3261\n');
    });
    afterAll(async () => {
      await host?.remove();
    });

    it('istgtcontrol info: watchSessions sees the login and the logout by IQN', async () => {
      const iqn = testIqn('istgt');
      const ac = new AbortController();
      const w = eventWaiter();
      const watching = watchSessions(nsRunner(host.ns), { intervalMs: 300, signal: ac.signal, istgtcontrolConfig: conf, onChange: w.onChange });
      const s = await IscsiSession.login({ host: ip, port: 3260, initiatorName: iqn, sessionType: 'Normal', targetName: iqnTarget });
      const login = await w.next((e) => e.kind === 'login' && e.session.initiator === iqn);
      expect(login).toMatchObject({ method: 'istgt', session: { initiator: iqn, target: iqnTarget, address: L.desk.ip, portal: `${ip}:3260` } });
      await s.logout();
      await w.next((e) => e.kind === 'logout' && e.session.initiator === iqn);
      ac.abort();
      await watching;
      expect(w.seen.filter((e) => e.session.initiator === iqn).map((e) => e.kind)).toEqual(['login', 'logout']);
      // No tgtd answers in that host: said, and istgt answered instead.
      expect(w.polls[0]!.fallbacks.map((f) => f.code)).toEqual(['NOT_FOUND']);
      process.stdout.write(`istgt: ${w.polls.length} polls, events ${w.seen.map((e) => `${e.kind}${e.initial ? ' (initial)' : ''} ${e.key}`).join('; ')}\n`);
    });

    it('istgtcontrol without a config: said, and ss gives the address per connection', async () => {
      const s = await IscsiSession.login({ host: ip, port: 3260, initiatorName: testIqn('istgt-ss'), sessionType: 'Normal', targetName: iqnTarget });
      let p: SessionPoll;
      try {
        p = await pollUntil(nsRunner(host.ns), {}, (x) => x.sessions.length > 0);
      } finally {
        await s.logout();
      }
      expect(p.method).toBe('ss');
      expect(p.sessions).toEqual([{ address: L.desk.ip, port: expect.any(Number), portal: `${ip}:3260` }]);
      expect(p.fallbacks.map((f) => f.code)).toEqual(['NOT_FOUND', 'NOT_FOUND']);
      expect(p.fallbacks[1]!.message).toContain('istgtcontrol is installed on the NAS but has no config file');
      // istgt closes the connection a moment after the logout: then ss lists nothing.
      expect((await pollUntil(nsRunner(host.ns), {}, (x) => x.sessions.length === 0)).method).toBe('ss');
      process.stdout.write(`istgt via ss: ${p.sessions.map((x) => `${x.address}:${x.port} -> ${x.portal}`).join(', ')}; fallbacks ${p.fallbacks.map((f) => f.message).join(' | ')}\n`);
    });
  });
});
