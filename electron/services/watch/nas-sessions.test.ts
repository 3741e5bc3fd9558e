import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  sessionKey,
  diffSessions,
  parseIstgtInfo,
  parseLioConfigfs,
  parseSs,
  parseTgtadmConns,
  parseTgtadmTargets,
  pollSessions,
  watchSessions,
  type CommandResult,
  type CommandRunner,
  type SessionEvent,
} from './nas-sessions';

// Outputs captured from the real tgtadm, istgtcontrol and ss in the lab (see fixtures/README.md);
// the LIO one is written from the kernel source's format (no LIO here).
const fx = (name: string) => readFileSync(path.join(__dirname, 'fixtures', name), 'utf8');
const PC1 = 'iqn.2026-12.test.bootchain.watch:pc-one';
const PC2 = 'iqn.2026-12.test.bootchain.watch:pc-two';
const WS1 = 'iqn.2026-11.test.bootchain.lab:ws1';
const SPARE = 'iqn.2026-11.test.bootchain.lab:spare';

/**
 * Replays captured outputs by argument list (the NAS's answers as recorded), and records what was
 * asked, so the tests see the exact commands the poller sends.
 */
function replay(answers: Array<[RegExp, CommandResult | (() => CommandResult)]>): CommandRunner & { asked: string[][] } {
  const asked: string[][] = [];
  const run = (async (cmd: string[]) => {
    asked.push(cmd);
    const line = cmd.join(' ');
    for (const [re, r] of answers) if (re.test(line)) return typeof r === 'function' ? r() : r;
    return { stdout: '', stderr: `sh: 1: ${cmd[0]}: not found\n`, code: 127 };
  }) as CommandRunner & { asked: string[][] };
  run.asked = asked;
  return run;
}
const ok = (stdout: string): CommandResult => ({ stdout, stderr: '', code: 0 });

describe('parsers on real outputs', () => {
  it('tgtadm show target: 52 targets, the two with a session name their initiator and IP', () => {
    const targets = parseTgtadmTargets(fx('tgtadm-show-target-two-sessions.txt'));
    expect(targets).toHaveLength(52);
    const live = targets.filter((t) => t.nexus.length > 0);
    expect(live).toEqual([
      { tid: 1, name: WS1, nexus: [{ id: 2, initiator: PC1, addresses: ['10.77.0.10'] }] },
      { tid: 3, name: SPARE, nexus: [{ id: 1, initiator: PC2, addresses: ['10.77.0.10'] }] },
    ]);
    expect(parseTgtadmTargets(fx('tgtadm-show-target-idle.txt')).every((t) => t.nexus.length === 0)).toBe(true);
  });

  it('tgtadm show conn', () => {
    expect(parseTgtadmConns(fx('tgtadm-show-conn-tid1.txt'))).toEqual([{ session: 2, connection: 0, initiator: PC1, address: '10.77.0.10' }]);
    expect(parseTgtadmConns('')).toEqual([]);
  });

  it('istgtcontrol info: the login line; "no login" is none', () => {
    expect(parseIstgtInfo(fx('istgtcontrol-info-one.txt'))).toEqual([
      { initiator: 'iqn.2026-12.test.bootchain.watch:pc-three', address: '10.77.0.10', target: 'iqn.2026-11.test.bootchain.istgt:disk0', portal: '10.77.0.61:3260' },
    ]);
    expect(parseIstgtInfo(fx('istgtcontrol-info-idle.txt'))).toEqual([]);
  });

  it('ss with and without its header gives the same peers', () => {
    const want = [
      { address: '10.77.0.10', port: 52700, portal: '10.77.0.20:3260' },
      { address: '10.77.0.10', port: 54822, portal: '10.77.0.22:3260' },
    ];
    expect(parseSs(fx('ss-tn-3260.txt'))).toEqual(want);
    expect(parseSs(fx('ss-Htn-3260.txt'))).toEqual(want);
    // IPv4-mapped and link-local IPv6 as ss prints them.
    expect(parseSs('0 0 [::ffff:10.0.0.5]:3260 [::ffff:10.0.0.9]:50000\n0 0 [fe80::1%eth0]:3260 [fe80::2%eth0]:40000\n')).toEqual([
      { address: '10.0.0.9', port: 50000, portal: '10.0.0.5:3260' },
      { address: 'fe80::2', port: 40000, portal: '[fe80::1]:3260' },
    ]);
  });

  it('LIO configfs (documented sample only): live ACL sessions and demo-mode sessions; an idle ACL is none', () => {
    expect(parseLioConfigfs(fx('lio-configfs-sample.txt'))).toEqual([
      { initiator: 'iqn.2026-12.test.bootchain.watch:pc-demo', target: 'iqn.2003-01.org.linux-iscsi.nas.x8664:sn.9c1b' },
      { initiator: PC1, target: 'iqn.2003-01.org.linux-iscsi.nas.x8664:sn.4f3a', address: '192.168.69.3' },
    ]);
  });
});

describe('pollSessions chooses what the NAS has', () => {
  it('tgtadm as root: one show target, then show conn only for targets with a session', async () => {
    const run = replay([
      [/--mode target$/, ok(fx('tgtadm-show-target-two-sessions.txt'))],
      [/--mode conn --tid 1$/, ok(fx('tgtadm-show-conn-tid1.txt'))],
      [/--mode conn --tid 3$/, ok(fx('tgtadm-show-conn-tid3.txt'))],
    ]);
    const p = await pollSessions(run, { tgtControlPort: 1346, now: () => 42 });
    expect(p).toEqual({
      method: 'tgtadm',
      at: 42,
      fallbacks: [],
      sessions: [
        { initiator: PC1, target: WS1, address: '10.77.0.10', session: 2 },
        { initiator: PC2, target: SPARE, address: '10.77.0.10', session: 1 },
      ],
    });
    // The session number keeps a second session of the same initiator (the booted OS's own) apart.
    expect(sessionKey(p.sessions[0]!)).toBe(`${PC1} → ${WS1} #2`);
    expect(run.asked).toEqual([
      ['tgtadm', '-C', '1346', '--lld', 'iscsi', '--op', 'show', '--mode', 'target'],
      ['tgtadm', '-C', '1346', '--lld', 'iscsi', '--op', 'show', '--mode', 'conn', '--tid', '1'],
      ['tgtadm', '-C', '1346', '--lld', 'iscsi', '--op', 'show', '--mode', 'conn', '--tid', '3'],
    ]);
  });

  it('a non-root login without /usr/sbin in PATH still finds tgtadm there', async () => {
    const run = replay([
      [/^\/usr\/sbin\/tgtadm/, { stdout: '', stderr: fx('tgtadm-nonroot.stderr.txt'), code: 107 }],
      [/^id -u$/, ok('1001\n')],
      [/^ss -Htn/, ok('')],
    ]);
    const p = await pollSessions(run);
    expect(run.asked.slice(0, 2).map((c) => c[0])).toEqual(['tgtadm', '/usr/sbin/tgtadm']);
    expect(p.fallbacks[0]?.code).toBe('PERMISSION_DENIED');
  });

  it('tgtadm without root: PERMISSION_DENIED says so, and the poll falls back to ss', async () => {
    const run = replay([
      [/^tgtadm/, { stdout: '', stderr: fx('tgtadm-nonroot.stderr.txt'), code: 107 }],
      [/^id -u$/, ok('1001\n')],
      [/^grep/, { stdout: '', stderr: 'grep: /sys/kernel/config/target/iscsi: No such file or directory\n', code: 2 }],
      [/^ss -Htn state established \( sport = :3260 \)$/, ok(fx('ss-Htn-3260.txt'))],
    ]);
    const p = await pollSessions(run);
    expect(p.method).toBe('ss');
    expect(p.sessions.map((s) => `${s.address}:${s.port}`)).toEqual(['10.77.0.10:52700', '10.77.0.10:54822']);
    expect(p.fallbacks[0]).toMatchObject({ code: 'PERMISSION_DENIED', message: expect.stringContaining('tgtadm needs root on the NAS: log in as root or allow it with sudo -n') });
    expect(p.fallbacks[0]!.hint).toMatch(/sudo/);
  });

  it('the same tgtadm words as root mean no tgtd: said, and the next method answers', async () => {
    const run = replay([
      [/^tgtadm/, { stdout: '', stderr: fx('tgtadm-nonroot.stderr.txt'), code: 107 }],
      [/^id -u$/, ok('0\n')],
      [/^grep/, { stdout: '', stderr: 'grep: /sys/kernel/config/target/iscsi: No such file or directory\n', code: 2 }],
      [/^istgtcontrol info$/, ok(fx('istgtcontrol-info-one.txt'))],
    ]);
    const p = await pollSessions(run);
    expect(p.method).toBe('istgt');
    expect(p.sessions[0]!.initiator).toBe('iqn.2026-12.test.bootchain.watch:pc-three');
    expect(p.fallbacks.map((f) => f.code)).toEqual(['NOT_FOUND']);
  });

  it('istgtcontrol without a config is said, then ss answers', async () => {
    const run = replay([
      [/^istgtcontrol info$/, { stdout: '', stderr: fx('istgtcontrol-noconf.stderr.txt'), code: 1 }],
      [/^ss -Htn/, ok(fx('ss-Htn-istgt.txt'))],
    ]);
    const p = await pollSessions(run);
    expect(p).toMatchObject({ method: 'ss', sessions: [{ address: '10.77.0.10', port: 52866, portal: '10.77.0.61:3260' }] });
    expect(p.fallbacks).toEqual([expect.objectContaining({ code: 'NOT_FOUND', message: expect.stringContaining('no config file') })]);
  });

  it('LIO is read from configfs', async () => {
    const run = replay([[/^grep -r \. --include=info --include=dynamic_sessions \/sys\/kernel\/config\/target\/iscsi$/, ok(fx('lio-configfs-sample.txt'))]]);
    const p = await pollSessions(run);
    expect(p.method).toBe('lio');
    expect(p.sessions).toHaveLength(2);
  });

  it('nothing at all is TOOL_MISSING; bad values never reach a command', async () => {
    const run = replay([]);
    await expect(pollSessions(run)).rejects.toMatchObject({ appError: { code: 'TOOL_MISSING' } });
    const asked = replay([]);
    await expect(pollSessions(asked, { tgtControlPort: 1.5 })).rejects.toMatchObject({ appError: { code: 'INVALID_INPUT', field: 'tgtControlPort' } });
    await expect(pollSessions(asked, { istgtcontrolConfig: '/etc/x; reboot' })).rejects.toMatchObject({ appError: { code: 'INVALID_INPUT' } });
    expect(asked.asked.flat().join(' ')).not.toContain('reboot');
  });

  it('sudo: tgtadm runs as "sudo -n tgtadm"; a sudo that wants a password is PERMISSION_DENIED', async () => {
    const run = replay([
      [/^sudo -n tgtadm/, { stdout: '', stderr: 'sudo: a password is required\n', code: 1 }],
      [/^ss -Htn/, ok('')],
    ]);
    const p = await pollSessions(run, { sudo: true });
    expect(run.asked[0]!.slice(0, 3)).toEqual(['sudo', '-n', 'tgtadm']);
    expect(p.fallbacks[0]).toMatchObject({ code: 'PERMISSION_DENIED', hint: expect.stringContaining('NOPASSWD') });
  });
});

describe('diffSessions / watchSessions', () => {
  it('login then logout per initiator IQN (tgtadm outputs), per address for ss', () => {
    const idle = { method: 'tgtadm' as const, sessions: [], at: 1, fallbacks: [] };
    const two = { method: 'tgtadm' as const, sessions: [{ initiator: PC1, target: WS1, address: '10.77.0.10' }, { initiator: PC2, target: SPARE }], at: 2, fallbacks: [] };
    expect(diffSessions(undefined, two).map((e) => [e.kind, e.key, e.initial])).toEqual([
      ['login', `${PC1} → ${WS1}`, true],
      ['login', `${PC2} → ${SPARE}`, true],
    ]);
    expect(diffSessions(idle, two).map((e) => [e.kind, e.session.initiator, e.initial])).toEqual([
      ['login', PC1, undefined],
      ['login', PC2, undefined],
    ]);
    expect(diffSessions(two, { ...idle, at: 3 }).map((e) => [e.kind, e.session.initiator, e.at])).toEqual([
      ['logout', PC1, 3],
      ['logout', PC2, 3],
    ]);
    const ss = (ports: number[]) => ({ method: 'ss' as const, sessions: ports.map((port) => ({ address: '10.77.0.10', port })), at: 4, fallbacks: [] });
    // Two connections from one address are one key; a reconnect on a new port is no event.
    expect(diffSessions(ss([1, 2]), ss([3]))).toEqual([]);
    expect(diffSessions(ss([1]), ss([])).map((e) => [e.kind, e.key])).toEqual([['logout', '10.77.0.10']]);
  });

  it('watchSessions: polls until aborted, reporting the first poll and each change; errors do not stop it', async () => {
    const states = [fx('tgtadm-show-target-idle.txt'), fx('tgtadm-show-target-two-sessions.txt'), 'FAIL', fx('tgtadm-show-target-idle.txt')];
    let i = 0;
    const ac = new AbortController();
    const run = replay([
      [
        /--mode target$/,
        () => {
          const s = states[Math.min(i++, states.length - 1)]!;
          if (i >= states.length + 1) ac.abort();
          return s === 'FAIL' ? { stdout: '', stderr: 'tgtadm: unexpected\n', code: 1 } : ok(s);
        },
      ],
      [/--tid 1$/, ok(fx('tgtadm-show-conn-tid1.txt'))],
      [/--tid 3$/, ok(fx('tgtadm-show-conn-tid3.txt'))],
      [/^ss/, ok('')],
    ]);
    const seen: Array<[string, SessionEvent[]]> = [];
    await watchSessions(run, { intervalMs: 200, signal: ac.signal, onChange: (ev, poll) => seen.push([poll.method, ev]) });
    expect(seen.map(([m, ev]) => [m, ev.map((e) => `${e.kind} ${e.session.initiator ?? e.key}`)])).toEqual([
      ['tgtadm', []],
      ['tgtadm', [`login ${PC1}`, `login ${PC2}`]],
      // tgtadm failing makes that poll an ss poll (a method change: nothing compared).
      ['ss', []],
      ['tgtadm', []],
    ]);
  });
});
