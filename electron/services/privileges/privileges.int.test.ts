import { execFile, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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
const run = async (cmd: string, args: string[], env: Record<string, string> = {}) => {
  try {
    const r = await pexec(cmd, args, { timeout: 30_000, env: { ...process.env, ...env } });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: (x.stdout ?? '') + (x.stderr ?? '') };
  }
};
const status = async (node: string, extra: string[] = []) => JSON.parse((await run('setpriv', [...NOBODY, node, CLI, 'privileges', '--json', '--exe', node, ...extra])).out) as PrivilegeStatus;
const item = (s: PrivilegeStatus, id: string) => s.items.find((i) => i.id === id)!;
const BIND_68 = `require('dgram').createSocket('udp4').on('error', (e) => { console.log(e.code); process.exit(3); }).bind(68, '127.0.0.1', () => { console.log('bound'); process.exit(0); })`;

/** The caller as pkexec names it to the helper (PKEXEC_UID): pkexec itself needs a desktop's polkit agent. */
const AS_NOBODY = { PKEXEC_UID: '65534' };
const BRIDGES = '/etc/bootchain/bridges';

describe.skipIf(!!reason)('one-time grants', () => {
  // Made in beforeAll, not while collecting: a skipped suite leaves nothing behind.
  let dir = '';
  let node = '';
  let overlayWhy: string | undefined;
  beforeAll(async () => {
    dir = mkdtempSync('/tmp/bc-priv-');
    chmodSync(dir, 0o755);
    node = path.join(dir, 'node');
    copyFileSync(process.execPath, node);
    chmodSync(node, 0o755);
    const probe = await withBridges('', 'true', []);
    overlayWhy = probe.code === 0 ? undefined : `an overlay on /etc in a private mount namespace failed here: ${probe.out.trim()}`;
  });
  afterAll(async () => {
    for (const dev of ['bcgtap0', 'bcgtap1', 'bcgtap2', 'bcgtap3', 'bcgtap4', 'bcgbr0', 'bcgbr1']) await run('ip', ['link', 'delete', dev]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Runs `cmd` (the helper) with an allow file of bridges in place, without touching this
   * machine's /etc: an overlay on /etc in a private mount namespace, gone when the command ends.
   */
  function withBridges(allow: string, cmd: string, args: string[], env: Record<string, string> = {}, mode = '644') {
    const ov = mkdtempSync(path.join(dir, 'etc-'));
    mkdirSync(path.join(ov, 'upper'));
    mkdirSync(path.join(ov, 'work'));
    writeFileSync(path.join(ov, 'bridges'), allow);
    const script = `mount -t overlay overlay -o lowerdir=/etc,upperdir=${ov}/upper,workdir=${ov}/work /etc && mkdir -p /etc/bootchain && cp ${ov}/bridges ${BRIDGES} && chmod ${mode} ${BRIDGES} && exec "$@"`;
    return run('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', cmd, ...args], env);
  }

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
    if (overlayWhy) process.stdout.write(`SKIP the bridge part of the tap grant: ${overlayWhy}\n`);
    // nobody asks (through pkexec) for a tap in bcgbr0, which the administrator allows.
    const g = overlayWhy ? await run(HELPER, ['tap', 'bcgtap0'], AS_NOBODY) : await withBridges('# LAN bridges for Bootchain\nbcgbr0\n', HELPER, ['tap', 'bcgtap0', 'bcgbr0'], AS_NOBODY);
    expect(g).toMatchObject({ code: 0, out: expect.stringContaining(`granted: tap device bcgtap0 for nobody${overlayWhy ? '' : ' in bridge bcgbr0'}`) });
    const t = item(await status(node, ['--tap', 'bcgtap0']), 'tap');
    expect(t).toMatchObject({ granted: true, evidence: `bcgtap0 is a tap device for uid 65534, ${overlayWhy ? 'in no bridge' : 'in a bridge'}` });
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
    // Granting again is harmless; someone else's device is never taken over (root's call is for root).
    expect((await run(HELPER, ['tap', 'bcgtap0'], AS_NOBODY)).code).toBe(0);
    const steal = await run(HELPER, ['tap', 'bcgtap0']);
    expect(steal).toMatchObject({ code: 2, out: expect.stringContaining('belongs to someone else') });
  });

  it('tap: the device is always the caller\'s (PKEXEC_UID, else SUDO_UID, else the uid), never a user named in the arguments', async () => {
    // The old form "tap NAME USER" made a tap for whoever was named, root included.
    const forRoot = await run(HELPER, ['tap', 'bcgtap1', 'root'], AS_NOBODY);
    expect(forRoot.code).toBe(2);
    expect(existsSync('/sys/class/net/bcgtap1') ? readFileSync('/sys/class/net/bcgtap1/owner', 'utf8').trim() : 'none').not.toBe('0');
    expect((await run(HELPER, ['tap', 'bcgtap1', 'nobody', 'bcgbr0'], AS_NOBODY)).out).toContain('usage');
    // sudo names the caller in SUDO_UID.
    expect(await run(HELPER, ['tap', 'bcgtap2'], { SUDO_UID: '65534' })).toMatchObject({ code: 0, out: expect.stringContaining('for nobody') });
    expect(readFileSync('/sys/class/net/bcgtap2/owner', 'utf8').trim()).toBe('65534');
    for (const uid of ['', 'root', '-1', '65534x', '1e3']) {
      expect(await run(HELPER, ['tap', 'bcgtap3'], { PKEXEC_UID: uid }), `PKEXEC_UID=${uid}`).toMatchObject({ code: 2, out: expect.stringContaining('is not a uid') });
    }
    expect(existsSync('/sys/class/net/bcgtap3')).toBe(false);
  });

  it('tap: refused to nobody — a bridge the administrator does not allow, an allow file anyone may write, a tap of another user', async (ctx) => {
    expect((await run('ip', ['link', 'add', 'bcgbr1', 'type', 'bridge'])).code).toBe(0);
    // No allow file at all (this machine's /etc): any bridge named is refused to an ordinary caller.
    const none = await run(HELPER, ['tap', 'bcgtap3', 'bcgbr1'], AS_NOBODY);
    expect(none).toMatchObject({ code: 2, out: expect.stringContaining(`bcgbr1 is not allowed: ${BRIDGES} does not list it`) });
    expect(existsSync('/sys/class/net/bcgtap3')).toBe(false);
    // Another user's tap (uid 65533) is neither used nor moved.
    expect((await run('ip', ['tuntap', 'add', 'dev', 'bcgtap4', 'mode', 'tap', 'user', '65533'])).code).toBe(0);
    expect(await run(HELPER, ['tap', 'bcgtap4'], AS_NOBODY)).toMatchObject({ code: 2, out: expect.stringContaining('belongs to someone else') });
    if (overlayWhy) {
      process.stdout.write(`SKIP the allow-file refusals: ${overlayWhy}\n`);
      return ctx.skip();
    }
    const listed = await withBridges('bcgbr0\n', HELPER, ['tap', 'bcgtap3', 'bcgbr1'], AS_NOBODY);
    expect(listed).toMatchObject({ code: 2, out: expect.stringContaining(`bcgbr1 is not allowed: ${BRIDGES} does not list it`) });
    // A line may name the users it is for: another user's line does not count.
    const other = await withBridges('bcgbr1 root 1000\n', HELPER, ['tap', 'bcgtap3', 'bcgbr1'], AS_NOBODY);
    expect(other).toMatchObject({ code: 2, out: expect.stringContaining('bcgbr1 is not allowed') });
    const writable = await withBridges('bcgbr1\n', HELPER, ['tap', 'bcgtap3', 'bcgbr1'], AS_NOBODY, '666');
    expect(writable).toMatchObject({ code: 2, out: expect.stringContaining(`${BRIDGES} is not trusted`) });
    expect(existsSync('/sys/class/net/bcgtap3')).toBe(false);
    // Listed for nobody by name: granted, and into that bridge.
    const mine = await withBridges('bcgbr1 nobody\n', HELPER, ['tap', 'bcgtap3', 'bcgbr1'], AS_NOBODY);
    expect(mine).toMatchObject({ code: 0, out: expect.stringContaining('granted: tap device bcgtap3 for nobody in bridge bcgbr1') });
    expect(existsSync('/sys/class/net/bcgtap3/master')).toBe(true);
  });

  it('ports: refused to nobody — a setuid file, a path through a symbolic link, a binary that is neither Bootchain nor node', async () => {
    const copy = (name: string, from = process.execPath, mode = 0o755) => {
      const f = path.join(dir, name, 'node');
      mkdirSync(path.dirname(f));
      copyFileSync(from, f);
      chmodSync(f, mode);
      return f;
    };
    const suid = copy('suid', process.execPath, 0o4755);
    const sgid = copy('sgid', process.execPath, 0o2755);
    const real = copy('real');
    const linked = path.join(dir, 'linked');
    symlinkSync(path.dirname(real), linked);
    const writable = copy('writable', process.execPath, 0o757);
    const notNode = copy('other', '/bin/true');
    for (const [exe, msg] of [
      [suid, 'is setuid or setgid'],
      [sgid, 'is setuid or setgid'],
      [path.join(linked, 'node'), `${linked} is a symbolic link`],
      [writable, 'may be changed by others'],
      [notNode, 'is neither Bootchain nor a copy of node'],
      ['/usr/bin/true', 'is neither Bootchain nor a copy of node'],
      ['/bin/true', '/bin is a symbolic link'],
      [`${dir}/./node`, 'not a plain absolute path'],
      [`${dir}//node`, 'not a plain absolute path'],
      [dir, 'is not a regular file'],
    ] as const) {
      const r = await run(HELPER, ['ports', exe], AS_NOBODY);
      expect(r.code, exe).toBe(2);
      expect(r.out, exe).toContain(msg);
    }
    for (const exe of [suid, sgid, notNode, writable, real]) expect((await run('getcap', [exe])).out, exe).not.toContain('cap_net_bind_service');
  });

  it('the helper refuses hostile or malformed arguments and ordinary users', async () => {
    for (const [args, msg] of [
      [['tap', 'x;reboot', 'nobody'], 'is not an interface name'],
      [['tap', 'tapok\nx', 'nobody'], 'is not an interface name'],
      [['tap', '-tapok', 'nobody'], 'is not an interface name'],
      [['tap', 'tapok', 'br\nroot'], 'is not an interface name'],
      [['ports', '/tmp/x\n/usr/bin/node'], 'unusual binary path'],
      [['tap', 'tapok', 'no body'], 'is not an interface name'],
      [['tap', 'tapok', 'lo'], 'lo is not a bridge'],
      [['tap', 'tapok', 'nobody', 'lo'], 'usage'],
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
    // The tap's user is never an argument: the helper takes the caller pkexec (or sudo) names.
    expect(grantCommand('tap', { ...o, bridge: 'br0' }, 1000, '/usr/bin/pkexec')).toEqual(['/usr/bin/pkexec', HELPER, 'tap', 'bctap0', 'br0']);
  });
});
