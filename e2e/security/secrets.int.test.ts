import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createHandlers, dispatch } from '../../electron/services/api/handlers';
import { JobRunner } from '../../electron/services/jobs/runner';
import type { JobEvent } from '../../shared/jobs';
import { chainProject, startChainLab } from '../lab/chain-lab';
import { labOrSkipReason } from '../support/lab-guard';
import { keychainStandIn } from '../support/keychain-stand-in';
import { chapKey, sshKey } from '../../shared/secrets';
import { reportMarkdown, type VerifyResult } from '../../shared/verify';

// No secret crosses the wire or lands on disk: every job event, result and error of real verify
// and upload runs (right and wrong CHAP secrets, SSH password, key passphrase) through the same
// dispatch both transports use, plus the saved project file, the remembered-secrets file and the
// Markdown export of each verify report, must not contain any of them. The OS keychain behind
// safeStorage cannot run here (no Electron): an in-memory AES key stands in for it.
const lab = labOrSkipReason('secrets.int.test.ts');

describe.skipIf(!lab)('secrets stay out of events, errors and files', () => {
  it('verify with CHAP, uploads with a password and a key passphrase, a saved project', { timeout: 120_000 }, async () => {
    const L = lab!;
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bc-secrets-'));
    const runner = new JobRunner();
    const events: JobEvent[] = [];
    runner.onEvent((e) => events.push(e));
    const handlers = createHandlers(runner, 'harness', { dataDir, secretCipher: () => keychainStandIn() });
    const caller = { id: 'test' };
    const until = async (jobId: string) => {
      while (!events.some((e) => e.jobId === jobId && ['succeeded', 'failed', 'cancelled'].includes(e.type))) await new Promise((r) => setTimeout(r, 20));
    };
    // secrets:get answers with secrets by design (to the app's own window): its reply is kept apart.
    const call = async (channel: string, input: unknown) => {
      const r = await dispatch(handlers, channel, input, caller);
      if (channel !== 'secrets:get') replies.push(JSON.stringify(r));
      if (r.ok && typeof (r.value as { jobId?: string }).jobId === 'string') await until((r.value as { jobId: string }).jobId);
      return r;
    };
    const replies: string[] = [];
    const chap = L.iscsi.chap.oneWay;
    const wrongChap = 'WrongSecret987';
    const project = chainProject(L, { name: 'secrets', ip: '10.77.0.53', mac: '52:54:00:b0:14:01', target: L.iscsi.targets.chapOneWay, ws: { chap: { username: chap.username, secretRef: 'pc.chap' } } });
    // The verifier logs in with the secret in the script the NAS serves: one chain serves the
    // right secret, then one the wrong secret.
    // (A fresh host and address each: the desk's ARP cache would remember the first one.)
    for (const [i, secret] of [chap.secret, wrongChap].entries()) {
      const ip = `10.77.0.${53 + i}`;
      const p = chainProject(L, { name: 'secrets', ip, mac: '52:54:00:b0:14:01', target: L.iscsi.targets.chapOneWay, ws: { chap: { username: chap.username, secretRef: 'pc.chap' } } });
      const chain = await startChainLab(L, { name: `sec${i}`, ip, project: p, secrets: { 'pc.chap': secret } });
      try {
        await call('verify:start', { project: p, secrets: { 'pc.chap': secret }, station: 'vm', dhcpWaitMs: 500 });
      } finally {
        await chain.stop();
      }
    }
    const S = L.ssh;
    await call('ssh:trust', { host: S.host, port: 22, fingerprint: ((await dispatch(handlers, 'ssh:hostkey', { host: S.host, port: 22 }, caller)) as { value: { fingerprint: string } }).value.fingerprint });
    const wrongPassword = 'Not-The-Password-42';
    await call('upload:start', { project, secrets: { 'pc.chap': chap.secret }, dryRun: true, target: { kind: 'ssh', host: S.host, user: S.password.user, root: S.password.home, auth: { kind: 'password', password: wrongPassword } } });
    await call('upload:start', { project, secrets: { 'pc.chap': chap.secret }, dryRun: true, target: { kind: 'ssh', host: S.host, user: S.password.user, root: S.password.home, auth: { kind: 'password', password: S.password.password } } });
    const wrongPassphrase = 'not-the-passphrase-x';
    await call('upload:start', { project, secrets: {}, dryRun: true, target: { kind: 'ssh', host: S.host, user: 'root', root: S.password.home, auth: { kind: 'key', path: S.root.key, passphrase: wrongPassphrase } } });
    await call('project:save', { project });
    // Remembered secrets: kept encrypted, and a job given none uses them (the plan needs the CHAP
    // secret to generate the per-MAC script; the password comes back from the vault).
    const pwKey = sshKey(S.password.user, S.host, 22, 'password');
    expect((await call('secrets:set', { key: chapKey('secrets', 'pc.chap'), value: chap.secret, remember: true })).ok).toBe(true);
    expect((await call('secrets:set', { key: pwKey, value: S.password.password, remember: true })).ok).toBe(true);
    const got = (await call('secrets:get', { keys: [pwKey] })) as { ok: true; value: Record<string, string> };
    expect(got.value[pwKey]).toBe(S.password.password);
    const planned = (await call('upload:start', { project, secrets: {}, dryRun: true, target: { kind: 'ssh', host: S.host, user: S.password.user, root: S.password.home, auth: { kind: 'password', password: got.value[pwKey] } } })) as { ok: true; value: { jobId: string } };
    expect(events.find((e) => e.jobId === planned.value.jobId && e.type === 'succeeded'), 'the plan with remembered secrets').toBeTruthy();
    const status = await call('secrets:status', {});
    expect(JSON.stringify(status)).toContain(chapKey('secrets', 'pc.chap'));
    const vaultFile = readFileSync(path.join(dataDir, 'secrets.json'), 'utf8');
    const exportsMd = events
      .filter((e) => e.kind === 'verify' && e.type === 'succeeded')
      .map((e) => reportMarkdown((e as unknown as { result: VerifyResult }).result))
      .join('\n');
    expect(exportsMd).toContain('CHAP');

    const wire = [...events.map((e) => JSON.stringify(e)), ...replies].join('\n');
    const files = readdirSync(path.join(dataDir, 'projects')).map((f) => readFileSync(path.join(dataDir, 'projects', f), 'utf8'));
    // The runs did happen: a CHAP login was accepted and one refused, a wrong password and passphrase refused.
    expect(wire).toContain(`login as iqn.2026-11.test.bootchain:secrets with CHAP user ${chap.username}: accepted`);
    expect(wire).toContain('refuses the CHAP login');
    expect(wire).toMatch(/AUTH_FAILED/);
    expect(files.join('')).toContain('"secretRef": "pc.chap"');
    for (const secret of [chap.secret, wrongChap, S.password.password, wrongPassword, S.root.passphrase, wrongPassphrase]) {
      expect(wire.includes(secret), `a secret reached the wire: ${secret.slice(0, 3)}…`).toBe(false);
      expect(files.join('').includes(secret), 'a secret reached the saved project').toBe(false);
      expect(vaultFile.includes(secret), 'a secret is in clear in secrets.json').toBe(false);
      expect(exportsMd.includes(secret), 'a secret reached a report export').toBe(false);
    }
  });
});
