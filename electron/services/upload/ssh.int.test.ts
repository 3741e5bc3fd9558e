import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labOrSkipReason } from '../../../e2e/support/lab-guard';
import { startCutProxy } from '../../../e2e/support/cut-proxy';
import type { UploadTarget } from '../../../shared/upload';
import { applyUpload, listBackupSets, rollback } from './engine';
import { backupsOf, rollbackOn, uploadJob } from './job';
import { KnownHosts } from './known-hosts';
import { sha256 } from './plan';
import { hostKeyStatus, SftpTarget, trustHostKey } from './ssh';

// Against the lab NAS's real OpenSSH sshd (key, agent and password logins; an sftp-only chroot)
// and its real tftpd-hpa serving the folder the uploads write to.
const lab = labOrSkipReason('upload ssh.int.test.ts');
const pexec = promisify(execFile);
const files = (o: Record<string, string | Buffer>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Buffer.isBuffer(v) ? v : Buffer.from(v)]));
const ctx = () => ({ signal: new AbortController().signal, progress: () => undefined, log: () => undefined, item: () => undefined });

describe.skipIf(!lab)('upload over SSH/SFTP against the lab NAS', () => {
  // Without the lab the body below cannot even be collected: one skipped test says so.
  if (!lab) return void it.skip('needs the lab (see the SKIP line above)', () => undefined);
  const L = lab;
  const S = L.ssh;
  const work = mkdtempSync(path.join(os.tmpdir(), 'bc-upload-int-'));
  const knownFile = path.join(work, 'known_hosts');
  const known = new KnownHosts(knownFile);
  const deps = { knownHostsFile: knownFile };
  /** A fresh upload root for the root account inside the TFTP root, and its TFTP prefix. */
  const rootDir = () => {
    const name = `r-${randomBytes(4).toString('hex')}`;
    mkdirSync(path.join(L.nas.tftpRoot, name));
    return { dir: path.join(L.nas.tftpRoot, name), prefix: `${name}/` };
  };
  const keyTarget = (root: string, extra: Partial<UploadTarget> = {}): UploadTarget =>
    ({ kind: 'ssh', host: S.host, port: S.port, user: 'root', root, auth: { kind: 'key', path: S.root.key, passphrase: S.root.passphrase }, ...extra }) as UploadTarget;
  let agent: { sock: string; pid: number } | undefined;

  beforeAll(async () => {
    const { stdout } = await pexec('ssh-agent', ['-s', '-a', path.join(work, 'agent.sock')]);
    agent = { sock: path.join(work, 'agent.sock'), pid: Number(/SSH_AGENT_PID=(\d+)/.exec(stdout)![1]) };
    await pexec('ssh-add', [S.root.agentKey], { env: { ...process.env, SSH_AUTH_SOCK: agent.sock } });
  });
  afterAll(() => {
    if (agent) process.kill(agent.pid);
    rmSync(work, { recursive: true, force: true });
  });

  it('first contact: the fingerprint is the one ssh-keygen prints; nothing connects until it is trusted', async () => {
    const expected = (await pexec('ssh-keygen', ['-l', '-E', 'sha256', '-f', S.hostKeyPub])).stdout.split(' ')[1]!;
    const s = await hostKeyStatus(S.host, S.port, known);
    expect(s).toMatchObject({ status: 'unknown', keyType: 'ssh-ed25519', fingerprint: expected });
    const { dir } = rootDir();
    await expect(SftpTarget.connect({ ...(keyTarget(dir) as Extract<UploadTarget, { kind: 'ssh' }>), knownHosts: known })).rejects.toMatchObject({
      appError: { code: 'HOST_UNTRUSTED', message: expect.stringContaining(expected) },
    });
    // Accepting a fingerprint other than the one presented trusts nothing.
    await expect(trustHostKey(S.host, S.port, `SHA256:${'A'.repeat(43)}`, known)).rejects.toMatchObject({ appError: { code: 'HOST_KEY_CHANGED' } });
    expect(existsSync(knownFile)).toBe(false);
    expect(await trustHostKey(S.host, S.port, expected, known)).toMatchObject({ status: 'trusted', fingerprint: expected });
    // OpenSSH reads our file: ssh-keygen -F finds the entry.
    expect((await pexec('ssh-keygen', ['-F', S.host, '-f', knownFile])).stdout).toContain('ssh-ed25519');
    expect((await hostKeyStatus(S.host, S.port, known)).status).toBe('trusted');
  });

  it('a changed host key is refused loudly with both fingerprints, and nothing is written', async () => {
    const other = path.join(work, 'other_key');
    await pexec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const fake = path.join(work, 'known_changed');
    const pub = readFileSync(`${other}.pub`, 'utf8').split(' ');
    writeFileSync(fake, `${S.host} ${pub[0]} ${pub[1]}\n`);
    const oldFp = (await pexec('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${other}.pub`])).stdout.split(' ')[1]!;
    const newFp = (await pexec('ssh-keygen', ['-l', '-E', 'sha256', '-f', S.hostKeyPub])).stdout.split(' ')[1]!;
    const { dir } = rootDir();
    const err = await uploadJob({ files: files({ 'x.ipxe': 'x' }), target: keyTarget(dir), dryRun: false }, { knownHostsFile: fake }, ctx()).catch((e) => e);
    expect(err.appError.code).toBe('HOST_KEY_CHANGED');
    expect(err.appError.message).toContain(oldFp);
    expect(err.appError.message).toContain(newFp);
    expect(readdirSync(dir)).toEqual([]);
    await expect(trustHostKey(S.host, S.port, newFp, new KnownHosts(fake))).rejects.toMatchObject({ appError: { code: 'HOST_KEY_CHANGED' } });
    expect(readFileSync(fake, 'utf8')).toBe(`${S.host} ${pub[0]} ${pub[1]}\n`);
  });

  it('key with passphrase: upload, server-side sha256, TFTP serves the new bytes; wrong passphrase is a clear error', async () => {
    const { dir, prefix } = rootDir();
    const set = files({ 'default.ipxe': '#!ipxe\necho key\n', '52-54-00-12-34-56.ipxe': '#!ipxe\nsanboot x\n', 'undionly.kpxe': randomBytes(70_000) });
    const r = await uploadJob({ files: set, target: keyTarget(dir), dryRun: false, tftpHost: L.nas.ips[0], tftpPrefix: prefix }, deps, ctx());
    expect(r.plan.add).toHaveLength(3);
    expect(r.rename).toBe('atomic');
    expect(r.files.map((f) => f.verified)).toEqual(['shell-sha256', 'shell-sha256', 'shell-sha256']);
    expect(r.tftp).toMatchObject({ ok: true, checked: 3, problems: [] });
    for (const [f, b] of Object.entries(set)) expect(sha256(readFileSync(path.join(dir, f)))).toBe(sha256(b));
    const mode = (await pexec('stat', ['-c', '%a', path.join(dir, 'default.ipxe')])).stdout.trim();
    expect(mode).toBe('644');
    const bad = keyTarget(dir, { auth: { kind: 'key', path: S.root.key, passphrase: 'wrong' } } as Partial<UploadTarget>);
    await expect(uploadJob({ files: set, target: bad, dryRun: true }, deps, ctx())).rejects.toMatchObject({ appError: { code: 'AUTH_FAILED', field: 'passphrase' } });
  });

  it('SSH agent login', async () => {
    const { dir } = rootDir();
    const t = keyTarget(dir, { auth: { kind: 'agent', socket: agent!.sock } } as Partial<UploadTarget>);
    const r = await uploadJob({ files: files({ 'a.ipxe': 'agent' }), target: t, dryRun: false }, deps, ctx());
    expect(r.plan.add).toEqual(['a.ipxe']);
    expect(readFileSync(path.join(dir, 'a.ipxe'), 'utf8')).toBe('agent');
  });

  it('password login; a wrong password is AUTH_FAILED', async () => {
    const t: UploadTarget = { kind: 'ssh', host: S.host, port: S.port, user: S.password.user, root: S.password.home, auth: { kind: 'password', password: S.password.password } };
    const r = await uploadJob({ files: files({ 'p/b.ipxe': 'password' }), target: t, dryRun: false }, deps, ctx());
    expect(r.plan.add).toEqual(['p/b.ipxe']);
    expect(readFileSync(path.join(S.password.home, 'p/b.ipxe'), 'utf8')).toBe('password');
    const wrong = { ...t, auth: { kind: 'password' as const, password: 'not-it' } };
    await expect(uploadJob({ files: files({ 'p/b.ipxe': 'x' }), target: wrong, dryRun: true }, deps, ctx())).rejects.toMatchObject({ appError: { code: 'AUTH_FAILED' } });
  });

  it('an sftp-only chrooted account: no shell, verified by reading back; TFTP serves it; rollback restores byte for byte', async () => {
    const sub = `c-${randomBytes(3).toString('hex')}`;
    const t: UploadTarget = { kind: 'ssh', host: S.host, port: S.port, user: S.sftpOnly.user, root: S.sftpOnly.root, auth: { kind: 'key', path: S.sftpOnly.key, passphrase: S.root.passphrase } };
    const v1 = files({ [`${sub}/default.ipxe`]: '#!ipxe\necho v1\n', [`${sub}/k.bin`]: randomBytes(200_000) });
    const v2 = files({ [`${sub}/default.ipxe`]: '#!ipxe\necho v2\n', [`${sub}/k.bin`]: randomBytes(150_000), [`${sub}/new.ipxe`]: 'new' });
    const first = await uploadJob({ files: v1, target: t, dryRun: false, tftpHost: L.nas.ips[0] }, deps, ctx());
    expect(first.files.every((f) => f.verified === 'read-back')).toBe(true);
    expect(first.tftp?.ok).toBe(true);
    const dry = await uploadJob({ files: v2, target: t, dryRun: true }, deps, ctx());
    expect(dry.plan).toMatchObject({ add: [`${sub}/new.ipxe`], change: [`${sub}/default.ipxe`, `${sub}/k.bin`], same: [] });
    expect(readFileSync(path.join(L.nas.tftpRoot, sub, 'default.ipxe'), 'utf8')).toBe('#!ipxe\necho v1\n');
    const second = await uploadJob({ files: v2, target: t, dryRun: false, planId: dry.planId, tftpHost: L.nas.ips[0] }, deps, ctx());
    expect(second.tftp?.ok).toBe(true);
    expect((await backupsOf(t, deps)).map((b) => b.id)).toContain(second.backup);
    const rb = await rollbackOn(t, deps, second.backup);
    expect(rb).toMatchObject({ restored: [`${sub}/default.ipxe`, `${sub}/k.bin`], removed: [`${sub}/new.ipxe`] });
    for (const [f, b] of Object.entries(v1)) expect(sha256(readFileSync(path.join(L.nas.tftpRoot, f)))).toBe(sha256(b));
    expect(existsSync(path.join(L.nas.tftpRoot, sub, 'new.ipxe'))).toBe(false);
  });

  it('refuses to follow a symbolic link out of the root, and a root that does not exist', async () => {
    const { dir } = rootDir();
    const outside = mkdtempSync(path.join(os.tmpdir(), 'bc-outside-'));
    symlinkSync(outside, path.join(dir, 'escape'));
    symlinkSync('/etc/hostname', path.join(dir, 'host.ipxe'));
    const before = readFileSync('/etc/hostname', 'utf8');
    await expect(uploadJob({ files: files({ 'escape/x.ipxe': 'x' }), target: keyTarget(dir), dryRun: false }, deps, ctx())).rejects.toThrow(/"escape" .* symbolic link, not a folder/);
    await expect(uploadJob({ files: files({ 'host.ipxe': 'x' }), target: keyTarget(dir), dryRun: false }, deps, ctx())).rejects.toThrow(/"host.ipxe" .* symbolic link/);
    await expect(uploadJob({ files: files({ '../up.ipxe': 'x' }), target: keyTarget(dir), dryRun: false }, deps, ctx())).rejects.toThrow(/not a file name inside the TFTP root/);
    expect(readdirSync(outside)).toEqual([]);
    expect(readFileSync('/etc/hostname', 'utf8')).toBe(before);
    await expect(uploadJob({ files: files({ 'a.ipxe': 'x' }), target: keyTarget(`${dir}/nope`), dryRun: true }, deps, ctx())).rejects.toMatchObject({ appError: { code: 'NOT_FOUND', field: 'root' } });
  });

  it('without posix-rename (fallback: old copy aside until the new one is in place) the result is the same', async () => {
    const { dir } = rootDir();
    const t = await SftpTarget.connect({ ...(keyTarget(dir) as Extract<UploadTarget, { kind: 'ssh' }>), knownHosts: known });
    try {
      t.noPosixRename = true;
      await applyUpload(t, files({ 'a.ipxe': 'one', 'b.ipxe': 'b' }));
      const r = await applyUpload(t, files({ 'a.ipxe': 'two', 'b.ipxe': 'b' }));
      expect(r.rename).toBe('fallback');
      expect(readFileSync(path.join(dir, 'a.ipxe'), 'utf8')).toBe('two');
      expect(readdirSync(dir).filter((f) => f.includes('bootchain-'))).toEqual([]);
      await rollback(t, (await listBackupSets(t))[0]!.id);
      expect(readFileSync(path.join(dir, 'a.ipxe'), 'utf8')).toBe('one');
    } finally {
      t.close();
    }
  });

  it('connection killed at random points in many uploads: the served files are always complete old or complete new, never partial or missing', async () => {
    const proxy = await startCutProxy(S.host, S.port);
    const proxyKnown = new KnownHosts(path.join(work, 'known_proxy'));
    const fp = (await hostKeyStatus('127.0.0.1', proxy.port, proxyKnown)).fingerprint;
    await trustHostKey('127.0.0.1', proxy.port, fp, proxyKnown);
    expect(readFileSync(proxyKnown.file, 'utf8')).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${proxy.port} ssh-ed25519 `));
    const { dir, prefix } = rootDir();
    const target = { ...(keyTarget(dir) as Extract<UploadTarget, { kind: 'ssh' }>), host: '127.0.0.1', port: proxy.port };
    const gen = (tag: string) => files({ 'default.ipxe': `#!ipxe\necho ${tag}\n`.repeat(50), 'undionly.kpxe': Buffer.alloc(600_000, tag), 'sub/52-54-00-00-00-01.ipxe': `#!ipxe\nsanboot ${tag}\n` });
    const versions = [gen('A'), gen('B'), gen('C')];
    const allowed = (rel: string) => new Set(versions.map((v) => sha256(v[rel]!)));
    // Version A in place first, without faults; then one clean upload to learn its size in bytes.
    await uploadJob({ files: versions[0]!, target, dryRun: false }, { knownHostsFile: proxyKnown.file }, ctx());
    await uploadJob({ files: versions[1]!, target, dryRun: false }, { knownHostsFile: proxyKnown.file }, ctx());
    await new Promise((r) => setTimeout(r, 50));
    const whole = proxy.lastBytes();
    expect(whole).toBeGreaterThan(600_000);
    // A reader polls the served files the whole time, as the TFTP server would read them.
    const bad: string[] = [];
    let reads = 0;
    const poll = setInterval(() => {
      for (const rel of Object.keys(versions[0]!)) {
        let b: Buffer;
        try {
          b = readFileSync(path.join(dir, rel));
        } catch {
          bad.push(`${rel} missing`);
          continue;
        }
        reads++;
        if (!allowed(rel).has(sha256(b))) bad.push(`${rel} partial (${b.length} bytes)`);
      }
    }, 3);
    const runs = Number(process.env.BOOTCHAIN_FAULT_RUNS ?? 30);
    let failed = 0;
    let mixed = 0;
    try {
      for (let i = 0; i < runs; i++) {
        // Cut anywhere from the SSH handshake to the end; a third of the runs in the last 10 % of
        // the bytes, a third in the last 1.5 %: where the staged files are checked, the backup set
        // is made and the renames are done.
        const tail = [1, 0.1, 0.015][i % 3]!;
        proxy.arm(Math.max(2_000, Math.floor(whole * (1 - tail + Math.random() * tail))));
        const ok = await uploadJob({ files: versions[i % 3]!, target, dryRun: false }, { knownHostsFile: proxyKnown.file }, ctx()).then(
          () => true,
          () => false,
        );
        if (!ok) failed++;
        proxy.arm(Infinity);
        const held = Object.keys(versions[0]!).map((rel) => {
          const h = sha256(readFileSync(path.join(dir, rel)));
          expect(allowed(rel)).toContain(h);
          return versions.findIndex((v) => sha256(v[rel]!) === h);
        });
        if (new Set(held).size > 1) mixed++;
      }
    } finally {
      clearInterval(poll);
    }
    process.stdout.write(`fault injection: ${runs} uploads, ${failed} cut mid-way (${proxy.cuts()} connections cut; ${mixed} left the set half renamed, each file whole), ${reads} reads of served files, ${bad.length} partial or missing\n`);
    expect(bad).toEqual([]);
    expect(failed).toBeGreaterThan(runs / 4);
    // The next clean upload repairs every leftover, and TFTP serves the new set.
    const final = await uploadJob({ files: versions[2]!, target, dryRun: false, tftpHost: L.nas.ips[0], tftpPrefix: prefix }, { knownHostsFile: proxyKnown.file }, ctx());
    expect(final.tftp?.ok).toBe(true);
    const leftovers = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? leftovers(path.join(d, e.name)) : e.name.includes('.bootchain-') ? [e.name] : []));
    expect(leftovers(dir)).toEqual([]); // (complete backup sets stay: they are the rollback history)
    await proxy.close();
  }, 300_000);
});

