import { execFile, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../../cli/run-cli';
import type { PrivilegeStatus } from '../../../shared/privileges';
import { grantCommand, SYSTEM_PATH, which } from './privileges';

// The one-time grants, for real: a copy of node and the user "nobody" stand for an installed
// Bootchain and its ordinary user. As root the test runs the helper (the app would run it
// through pkexec, which needs a desktop session's polkit agent and cannot run here); every
// check afterwards runs as nobody. The tap device and its bridge live in the lab's desk namespace.
const pexec = promisify(execFile);
const HELPER = path.resolve('build/privileges/bootchain-grant');
const tools = ['setcap', 'getcap', 'setpriv', 'ip', 'qemu-system-x86_64'].filter((t) => !which(t, SYSTEM_PATH));
const reason = process.getuid?.() !== 0 ? 'needs root (it plays the administrator who grants)' : !existsSync(CLI) ? 'out/main/cli.js is missing (npm run build)' : tools.length ? `missing: ${tools.join(', ')}` : undefined;
if (reason) process.stdout.write(`SKIP privileges.int.test.ts: ${reason}\n`);

const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];
const run = async (cmd: string, args: string[]) => {
  try {
    const r = await pexec(cmd, args, { timeout: 30_000 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: (x.stdout ?? '') + (x.stderr ?? '') };
  }
};
const status = async (node: string, extra: string[] = []) => JSON.parse((await run('setpriv', [...NOBODY, node, CLI, 'privileges', '--json', '--exe', node, ...extra])).out) as PrivilegeStatus;
const item = (s: PrivilegeStatus, id: string) => s.items.find((i) => i.id === id)!;
const BIND_68 = `require('dgram').createSocket('udp4').on('error', (e) => { console.log(e.code); process.exit(3); }).bind(68, '127.0.0.1', () => { console.log('bound'); process.exit(0); })`;

describe.skipIf(!!reason)('one-time grants', () => {
  // Made in beforeAll, not while collecting: a skipped suite leaves nothing behind.
  let dir = '';
  let node = '';
  beforeAll(() => {
    dir = mkdtempSync('/tmp/bc-priv-');
    chmodSync(dir, 0o755);
    node = path.join(dir, 'node');
    copyFileSync(process.execPath, node);
    chmodSync(node, 0o755);
  });
  afterAll(async () => {
    await run('ip', ['link', 'delete', 'bcgtap0']);
    await run('ip', ['link', 'delete', 'bcgbr0']);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ports: nobody is refused UDP 68 until the grant, then binds it', async () => {
    const before = item(await status(node), 'low-ports');
    expect(before).toMatchObject({ granted: false, via: 'none' });
    expect(before.evidence).toMatch(/uid 65534\) has no cap_net_bind_service/);
    expect(before.commands[0]).toBe(`sudo ${HELPER} ports ${node}`);
    expect((await run('setpriv', [...NOBODY, node, '-e', BIND_68])).out.trim()).toBe('EACCES');
    // An ordinary user without pkexec gets the command to run, and nothing happens.
    const asked = await run('setpriv', [...NOBODY, node, CLI, 'privileges', 'grant', 'ports', '--exe', node]);
    expect(asked.code).not.toBe(0);
    expect(asked.out).toContain(`sudo ${HELPER} ports ${node}`);
    expect((await run('getcap', [node])).out).not.toContain('cap_net_bind_service');
    // The administrator grants it once (the CLI runs the helper directly as root).
    const granted = await run(process.execPath, [CLI, 'privileges', 'grant', 'ports', '--exe', node, '--json']);
    expect(granted.out).toContain('"id": "low-ports"');
    expect((await run('getcap', [node])).out).toMatch(/cap_net_bind_service[=+]ep/);
    const after = item(await status(node), 'low-ports');
    expect(after).toMatchObject({ granted: true, evidence: 'node has cap_net_bind_service' });
    expect((await run('setpriv', [...NOBODY, node, '-e', BIND_68])).out.trim()).toBe('bound');
  });

  it('tap: the grant makes a tap device nobody owns, in the bridge, that QEMU opens as nobody', async () => {
    expect((await run('ip', ['link', 'add', 'bcgbr0', 'type', 'bridge'])).code).toBe(0);
    expect(item(await status(node, ['--tap', 'bcgtap0']), 'tap')).toMatchObject({ granted: false, evidence: 'there is no device bcgtap0' });
    const g = await run(HELPER, ['tap', 'bcgtap0', 'nobody', 'bcgbr0']);
    expect(g).toMatchObject({ code: 0, out: expect.stringContaining('granted: tap device bcgtap0 for nobody in bridge bcgbr0') });
    const t = item(await status(node, ['--tap', 'bcgtap0']), 'tap');
    expect(t).toMatchObject({ granted: true, evidence: 'bcgtap0 is a tap device for uid 65534, in a bridge' });
    // Another ordinary user may not use it.
    const other = JSON.parse((await run('setpriv', ['--reuid=65533', '--regid=65534', '--clear-groups', node, CLI, 'privileges', '--json', '--tap', 'bcgtap0'])).out) as PrivilegeStatus;
    expect(item(other, 'tap')).toMatchObject({ granted: false, evidence: 'bcgtap0 belongs to uid 65534, not 65533' });
    // QEMU, as nobody, opens it.
    const qemu = spawn('setpriv', [...NOBODY, 'qemu-system-x86_64', '-machine', 'none', '-S', '-display', 'none', '-monitor', 'stdio', '-netdev', 'tap,id=n0,ifname=bcgtap0,script=no,downscript=no'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let seen = '';
    qemu.stdout.on('data', (d: Buffer) => (seen += d.toString()));
    qemu.stderr.on('data', (d: Buffer) => (seen += d.toString()));
    qemu.stdin.write('info network\nquit\n');
    await new Promise((r) => qemu.on('exit', r));
    expect(seen).toMatch(/n0: index=0,type=tap,ifname=bcgtap0/);
    // Granting again is harmless; someone else's device is never taken over.
    expect((await run(HELPER, ['tap', 'bcgtap0', 'nobody'])).code).toBe(0);
    const steal = await run(HELPER, ['tap', 'bcgtap0', 'root']);
    expect(steal).toMatchObject({ code: 2, out: expect.stringContaining('belongs to someone else') });
  });

  it('the helper refuses hostile or malformed arguments and ordinary users', async () => {
    for (const [args, msg] of [
      [['tap', 'x;reboot', 'nobody'], 'is not an interface name'],
      [['tap', 'tapok\nx', 'nobody'], 'is not an interface name'],
      [['tap', '-tapok', 'nobody'], 'is not an interface name'],
      [['tap', 'tapok', 'nobody\nroot'], 'is not a user name'],
      [['ports', '/tmp/x\n/usr/bin/node'], 'unusual binary path'],
      [['tap', 'tapok', 'no body'], 'is not a user name'],
      [['tap', 'tapok', 'nobody', 'lo'], 'lo is not a bridge'],
      [['ports', 'node'], 'must be an absolute path'],
      [['ports', '/tmp/$(reboot)'], 'unusual binary path'],
      [['ports', '/nonexistent/node'], 'is not a regular file'],
      [['rm', '-rf', '/'], 'usage'],
    ] as const) {
      const r = await run(HELPER, [...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.out).toContain(msg);
    }
    expect(existsSync('/sys/class/net/tapok')).toBe(false);
    const notRoot = await run('setpriv', [...NOBODY, HELPER, 'ports', node]);
    expect(notRoot).toMatchObject({ code: 2, out: expect.stringContaining('must run as root') });
  });

  it('the app asks through pkexec when not root, runs the helper directly as root', () => {
    const o = { helper: HELPER, tap: 'bctap0', exe: '/opt/Bootchain/bootchain' };
    expect(grantCommand('low-ports', o, 1000, '/usr/bin/pkexec')).toEqual(['/usr/bin/pkexec', HELPER, 'ports', '/opt/Bootchain/bootchain']);
    expect(grantCommand('low-ports', o, 0, undefined)).toEqual([HELPER, 'ports', '/opt/Bootchain/bootchain']);
    expect(() => grantCommand('tap', o, 1000, undefined)).toThrow(/pkexec is not installed/);
  });
});
