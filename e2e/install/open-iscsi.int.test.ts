import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { iscsiadmHelp } from '../../shared/gen/open-iscsi';
import { Workstation } from '../../shared/model/project';
import { SYSTEM_PATH, which } from '../../electron/services/privileges/privileges';
import type { LabHost } from '../lab/istgt';
import { addLabHost } from '../lab/lab';
import { startHostTgtd, type HostTgtd } from '../lab/tgtd-host';
import { labOrSkipReason } from '../support/lab-guard';

// The Install step's Linux help for the recipe's own way, parsed by the real open-iscsi: the
// script Bootchain writes is run, as the user would paste it, by iscsiadm against the lab's
// tgtd (in a sandbox: iscsiadm-sandbox.sh), then iscsiadm's own records are read back. Logging
// in needs the kernel's iscsi_tcp, which this machine does not have: that step is left out and
// the test says so. The NAS is a tgtd of the test's own with one target (iscsiadm, without an
// iscsid here, sleeps a second for each record it writes: the lab's portal with 54 targets took 52 s).
const lab = labOrSkipReason('open-iscsi.int.test.ts');
const iscsiadm = which('iscsiadm', SYSTEM_PATH);
if (lab && !iscsiadm) process.stdout.write('SKIP open-iscsi.int.test.ts: iscsiadm missing (apt-get install open-iscsi)\n');
const pexec = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-iscsiadm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!lab || !iscsiadm)('open-iscsi help, run by iscsiadm', () => {
  if (!lab || !iscsiadm) return void it.skip('needs the lab and iscsiadm (see the SKIP line above)', () => undefined);
  const L = lab;
  const IP = '10.77.0.83';
  const c = { username: 'help-user', secret: 'help-secret-1357', targetUsername: 'help-nas', targetSecret: 'help-nas-secret-2468' };
  const target = 'iqn.2026-12.test.bootchain:help-disk';
  let host: LabHost | undefined;
  let tgtd: HostTgtd | undefined;
  beforeAll(async () => {
    host = await addLabHost(L, 'wrhelp', [IP]);
    tgtd = await startHostTgtd(host, IP);
    await tgtd.addTarget(1, target, path.join(dir, 'help.img'), 8);
    await tgtd.tgtadm(['--op', 'new', '--mode', 'account', '--user', c.username, '--password', c.secret]);
    await tgtd.tgtadm(['--op', 'new', '--mode', 'account', '--user', c.targetUsername, '--password', c.targetSecret]);
    await tgtd.tgtadm(['--op', 'bind', '--mode', 'account', '--tid', '1', '--user', c.username]);
    await tgtd.tgtadm(['--op', 'bind', '--mode', 'account', '--tid', '1', '--user', c.targetUsername, '--outgoing']);
  }, 60_000);
  afterAll(async () => {
    await tgtd?.stop();
    await host?.remove();
  });
  const w = Workstation.parse({
    name: 'ws-help',
    mac: '52:54:00:12:34:99',
    firmware: 'uefi',
    target,
    lun: 1,
    initiatorIqn: 'iqn.2026-12.test.bootchain:ws-help',
    chap: { username: c.username, secretRef: 'ws-help.chap', mutual: { username: c.targetUsername, secretRef: 'ws-help.mutual' } },
  });
  const nas = { address: IP, iscsiPort: 3260, tftpRoot: '/srv/tftp' };

  it('the pasted script (secrets typed at its prompts) leaves iscsiadm with the workstation\'s name, the target and both CHAP secrets', { timeout: 120000 }, async () => {
    const help = iscsiadmHelp({ nas }, w);
    expect(help.script).not.toContain(c.secret);
    const login = help.steps.find((s) => s.argv.includes('--login'))!;
    const session = help.steps.find((s) => s.argv.includes('session'))!;
    const runnable = help.script
      .split('\n')
      .filter((l) => l !== login.command && l !== session.command)
      .join('\n');
    const show = `\niscsiadm -m iface -I bootchain -o show\niscsiadm -m node -T ${w.target} -p ${nas.address}:${nas.iscsiPort} -I bootchain -o show -S\n`;
    const script = path.join(dir, 'help.sh');
    writeFileSync(script, runnable + show);
    // The two prompts read one line each from stdin, as a user types them.
    const child = pexec('unshare', ['-m', 'sh', path.join(ROOT, 'e2e/lab/iscsiadm-sandbox.sh'), script], { maxBuffer: 1 << 20, timeout: 110000 });
    child.child.stdin!.end(`${c.secret}\n${c.targetSecret}\n`);
    const { stdout } = await child;
    expect(stdout).toMatch(new RegExp(`^iface\\.initiatorname = ${w.initiatorIqn.replace(/\./g, '\\.')}$`, 'm'));
    expect(stdout).toContain(`${nas.address}:${nas.iscsiPort},1 ${w.target}`);
    expect(stdout).toMatch(/^node\.session\.auth\.authmethod = CHAP$/m);
    expect(stdout).toMatch(new RegExp(`^node\\.session\\.auth\\.username = ${c.username}$`, 'm'));
    expect(stdout).toMatch(new RegExp(`^node\\.session\\.auth\\.password = ${c.secret}$`, 'm'));
    expect(stdout).toMatch(new RegExp(`^node\\.session\\.auth\\.username_in = ${c.targetUsername}$`, 'm'));
    expect(stdout).toMatch(new RegExp(`^node\\.session\\.auth\\.password_in = ${c.targetSecret}$`, 'm'));
    process.stdout.write('open-iscsi.int.test.ts: the login step (iscsiadm --login) is not run: it needs the kernel\'s iscsi_tcp module, which this machine lacks\n');
  });

});
