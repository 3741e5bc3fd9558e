/**
 * The test lab: network namespaces joined by a bridge, with real peers — tgtd (iSCSI), sshd and
 * tftpd on a "nas", dnsmasq (DHCP with PXE options + DNS) on a "router", hosts with a closed
 * port, a non-iSCSI listener and a silent listener on 3260, and empty addresses. The app, the
 * harness, the CLI, the tests and the benchmarks run in "desk", whose only network is the lab.
 *
 * Addresses are in 10.77.0.0/24, which exists only inside these namespaces. Nothing here
 * touches the machine's own interfaces: every link is created inside a lab namespace.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { missingUefiTools, writeBootSectorDisk, writeGptDisk, writeMbrDisk, writeUefiBootDisk } from './disk-images';

const pexec = promisify(execFile);

/** What a running lab offers, written to lab.json for tests and benchmarks. */
export interface LabInfo {
  prefix: string;
  dir: string;
  subnet: string;
  namespaces: { switch: string; desk: string; nas: string; router: string; misc: string; nas2: string };
  desk: { ip: string };
  router: { ip: string };
  nas: { ips: string[]; sshPort: number; tftpRoot: string; tgtControlPorts: number[] };
  /** SSH accounts on the NAS (sshd on .20:22), with what each can authenticate with. */
  ssh: LabSsh;
  /** The iSCSI side of the lab: targets, credentials and what each LUN holds. */
  iscsi: LabIscsi;
  /** address:port of every iSCSI portal (exactly what a scan must find as iSCSI). */
  iscsiPortals: string[];
  /** address:port of open ports that are not iSCSI. */
  nonIscsi: string[];
  /** Hosts that are up with port 3260 closed. */
  closedHosts: string[];
  /** Reverse-DNS names the lab's DNS serves. */
  names: Record<string, string>;
  /**
   * The addresses of the fixed lab (.1–.40). Hosts that tests add (addLabHost) take .41 and up,
   * so a scan of this range sees exactly the fixed lab while other tests run beside it.
   */
  fixedRange: string;
}

/** SSH side of the lab NAS. */
export interface LabSsh {
  host: string;
  port: number;
  /** The server's public host key file (for fingerprint checks). */
  hostKeyPub: string;
  /** root: key login with a passphrase-protected key, and an unprotected key for the agent. */
  root: { user: 'root'; key: string; passphrase: string; agentKey: string };
  /** A normal account with password login only; its home is writable. */
  password: { user: string; password: string; home: string };
  /** An sftp-only account chrooted to `chroot` (no shell); its "/tftp" is the lab's TFTP root. */
  sftpOnly: { user: string; key: string; chroot: string; root: string };
}

const SUBNET = '10.77.0';
const IQN = 'iqn.2026-11.test.bootchain.lab';

/** Targets and credentials of the lab's tgtd instances. */
export interface LabIscsi {
  /** Portals of tgtd A (same targets on both) and of tgtd B (discovery needs CHAP). */
  portalsA: string[];
  portalB: string;
  targets: { mbr: string; gpt: string; empty: string; chapOneWay: string; chapMutual: string; acl: string; bulk: string[]; onB: string; boot: string; uefiBoot: string };
  /** Why the UEFI boot LUN could not be made (its target then does not exist), when it could not. */
  uefiBootMissing?: string;
  /** LUN 1 sizes in MiB (LUN 0 of tgt is the controller). */
  sizesMiB: Record<string, number>;
  aclInitiator: string;
  chap: {
    oneWay: { username: string; secret: string };
    mutual: { username: string; secret: string; targetUsername: string; targetSecret: string };
    discovery: { username: string; secret: string; targetUsername: string; targetSecret: string };
  };
}

/** The lab's iSCSI plan (fixed, so tests can name what they expect). */
export function labIscsiPlan(): LabIscsi {
  const bulk = Array.from({ length: 44 }, (_, i) => `${IQN}:bulk-${String(i + 1).padStart(2, '0')}.a-deliberately-long-target-name-so-that-the-sendtargets-reply-is-over-eight-kilobytes-and-needs-continuation`);
  return {
    portalsA: [`${SUBNET}.20:3260`, `${SUBNET}.22:3260`],
    portalB: `${SUBNET}.21:3260`,
    targets: {
      mbr: `${IQN}:ws1`,
      gpt: `${IQN}:ws2-uefi`,
      empty: `${IQN}:spare`,
      chapOneWay: `${IQN}:chap-oneway`,
      chapMutual: `${IQN}:chap-mutual`,
      acl: `${IQN}:acl-bound`,
      bulk,
      onB: `${IQN}:on-b`,
      boot: `${IQN}:boot-marker`,
      uefiBoot: `${IQN}:uefi-boot-marker`,
    },
    sizesMiB: { mbr: 64, gpt: 48, empty: 16, chapOneWay: 8, chapMutual: 8, acl: 8, onB: 8, boot: 8 },
    aclInitiator: `${IQN}:allowed-initiator`,
    chap: {
      oneWay: { username: 'ws-user', secret: 'ws-secret-1234' },
      mutual: { username: 'mu-user', secret: 'mu-secret-5678', targetUsername: 'tgt-user', targetSecret: 'tgt-secret-9012' },
      discovery: { username: 'disc-user', secret: 'disc-secret-123', targetUsername: 'disc-tgt', targetSecret: 'disc-tgt-secret-456' },
    },
  };
}
const BITS = 24;

function sanitizePrefix(p: string): string {
  if (!/^[a-z][a-z0-9]{1,7}$/.test(p)) throw new Error(`lab prefix "${p}" must be 2-8 lower-case letters/digits`);
  return p;
}

/** The lab prefix: BOOTCHAIN_LAB_PREFIX or "bcl". */
export function labPrefix(): string {
  return sanitizePrefix(process.env.BOOTCHAIN_LAB_PREFIX ?? 'bcl');
}

/** Folder of the lab's files. */
export function labDir(prefix = labPrefix()): string {
  return path.join(os.tmpdir(), `bootchain-lab-${prefix}`);
}

async function run(cmd: string, args: string[], opts: { allowFail?: boolean } = {}): Promise<string> {
  try {
    const { stdout } = await pexec(cmd, args, { maxBuffer: 8 << 20 });
    return stdout;
  } catch (e) {
    if (opts.allowFail) return '';
    const x = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(x.stderr ?? x.message).trim()}`);
  }
}

/** Runs a command with `input` on its stdin (for chpasswd: the password never appears in argv). */
function runInput(cmd: string, args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, (e) => (e ? reject(new Error(`${cmd} failed: ${e.message}`)) : resolve()));
    child.stdin?.end(input);
  });
}

const nsExec = (ns: string, cmd: string, args: string[], opts?: { allowFail?: boolean }) =>
  run('ip', ['netns', 'exec', ns, cmd, ...args], opts);

/** Starts a long-running process inside a namespace, logging to the lab folder. */
function daemon(dir: string, ns: string, name: string, cmd: string, args: string[]): number {
  const log = openSync(path.join(dir, `${name}.log`), 'a');
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', log, log], detached: true });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  return child.pid;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`lab: ${what} did not come up within ${timeoutMs} ms (see ${labDir()})`);
}

/** Names of this prefix's namespaces, whether or not they exist. */
function namespaces(prefix: string) {
  return {
    switch: `${prefix}-sw`,
    desk: `${prefix}-desk`,
    nas: `${prefix}-nas`,
    router: `${prefix}-rtr`,
    misc: `${prefix}-misc`,
    nas2: `${prefix}-nas2`,
  };
}

/** The tgtd control port of a prefix (so labs and other tgtd instances never share one). */
function tgtControlPort(prefix: string): number {
  let h = 0;
  for (const c of prefix) h = (h * 31 + c.charCodeAt(0)) % 1000;
  return 1000 + h;
}

/**
 * Tears the lab down completely, also after a crashed run: every process in the lab's
 * namespaces is killed, the namespaces, their /etc/netns files and the tgtd socket removed.
 */
export async function labDown(prefix = labPrefix()): Promise<void> {
  const ns = namespaces(prefix);
  const existing = (await run('ip', ['netns', 'list'], { allowFail: true }))
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(`${prefix}-`));
  for (const n of existing) await removeNamespace(n);
  for (const n of Object.values(ns)) rmSync(path.join('/etc/netns', n), { recursive: true, force: true });
  const ctl = tgtControlPort(prefix);
  for (const c of [ctl, ctl + 1]) for (const f of [`/var/run/tgtd/socket.${c}`, `/var/run/tgtd/socket.${c}.lock`]) rmSync(f, { force: true });
  for (const d of [`/run/bootchain-lab-${prefix}-sftp`, `/run/bootchain-lab-${prefix}-home`]) rmSync(d, { recursive: true, force: true });
}

/** Builds the lab (after cleaning any leftovers of the same prefix) and returns its description. */
export async function labUp(prefix = labPrefix()): Promise<LabInfo> {
  for (const tool of ['/usr/sbin/tgtd', '/usr/sbin/tgtadm', '/usr/sbin/dnsmasq', '/usr/sbin/sshd', '/usr/sbin/in.tftpd']) {
    if (!existsSync(tool)) throw new Error(`lab: ${tool} is missing; install the packages listed in .ci/run`);
  }
  await labDown(prefix);
  const ns = namespaces(prefix);
  const dir = labDir(prefix);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  const hosts: Array<{ ns: string; ips: string[] }> = [
    { ns: ns.router, ips: [`${SUBNET}.1`] },
    { ns: ns.desk, ips: [`${SUBNET}.10`] },
    { ns: ns.nas, ips: [`${SUBNET}.20`, `${SUBNET}.22`] },
    { ns: ns.nas2, ips: [`${SUBNET}.21`] },
    { ns: ns.misc, ips: [`${SUBNET}.30`, `${SUBNET}.31`, `${SUBNET}.32`] },
  ];
  await run('ip', ['netns', 'add', ns.switch]);
  await nsExec(ns.switch, 'ip', ['link', 'set', 'lo', 'up']);
  await nsExec(ns.switch, 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
  await nsExec(ns.switch, 'ip', ['link', 'set', 'br0', 'up']);
  let i = 0;
  for (const h of hosts) {
    const port = `p${i++}`;
    await run('ip', ['netns', 'add', h.ns]);
    // Both ends are created inside lab namespaces: the machine's own namespace never sees them.
    await run('ip', ['-n', h.ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', port, 'netns', ns.switch]);
    await run('ip', ['-n', ns.switch, 'link', 'set', port, 'master', 'br0', 'up']);
    await run('ip', ['-n', h.ns, 'link', 'set', 'lo', 'up']);
    for (const ip of h.ips) await run('ip', ['-n', h.ns, 'addr', 'add', `${ip}/${BITS}`, 'dev', 'eth0']);
    await run('ip', ['-n', h.ns, 'link', 'set', 'eth0', 'up']);
    await nsExec(h.ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1'], { allowFail: true });
  }
  // Broadcast DHCP from the desk needs a route for 255.255.255.255 (lab notes).
  await run('ip', ['-n', ns.desk, 'route', 'add', '255.255.255.255/32', 'dev', 'eth0']);

  // The desk resolves names through the lab router only (ip netns exec bind-mounts this file).
  mkdirSync(path.join('/etc/netns', ns.desk), { recursive: true });
  writeFileSync(path.join('/etc/netns', ns.desk, 'resolv.conf'), `nameserver ${SUBNET}.1\noptions timeout:1 attempts:1\n`);
  writeFileSync(path.join('/etc/netns', ns.desk, 'hosts'), '127.0.0.1 localhost\n::1 localhost\n');

  const names: Record<string, string> = {
    [`${SUBNET}.20`]: 'nas.lab.bootchain.test',
    [`${SUBNET}.21`]: 'nas-b.lab.bootchain.test',
    [`${SUBNET}.22`]: 'nas-c.lab.bootchain.test',
    [`${SUBNET}.1`]: 'router.lab.bootchain.test',
  };

  // Router: dnsmasq DHCP with PXE options (no-ping, lab notes) and the lab's DNS.
  daemon(dir, ns.router, 'dnsmasq', '/usr/sbin/dnsmasq', [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--user=root',
    '--interface=eth0',
    '--bind-interfaces',
    '--no-resolv',
    '--no-hosts',
    ...Object.entries(names).map(([ip, n]) => `--host-record=${n},${ip}`),
    `--dhcp-range=${SUBNET}.100,${SUBNET}.150,255.255.255.0,1h`,
    `--dhcp-boot=undionly.kpxe,,${SUBNET}.20`,
    '--no-ping',
    // Virtual workstations of boot tests (52:54:00:b0:*) are served by the DHCP server the test starts.
    '--dhcp-host=52:54:00:b0:*:*,ignore',
    `--dhcp-leasefile=${path.join(dir, 'dnsmasq.leases')}`,
    '--log-dhcp',
    `--pid-file=${path.join(dir, 'dnsmasq.pid')}`,
  ]);

  // NAS: two tgtd instances. A listens on every address of the nas (.20 and .22: two portals,
  // both listed by SendTargets) with plain, CHAP, ACL and bulk targets; B, on a second box
  // (.21), protects discovery itself with CHAP.
  const ctlA = tgtControlPort(prefix);
  const ctlB = ctlA + 1;
  const iscsi = labIscsiPlan();
  daemon(dir, ns.nas, 'tgtd-a', '/usr/sbin/tgtd', ['-f', '-C', String(ctlA)]);
  daemon(dir, ns.nas2, 'tgtd-b', '/usr/sbin/tgtd', ['-f', '-C', String(ctlB), '--iscsi', `portal=${SUBNET}.21:3260`]);
  const tgtadm = (ctl: number, args: string[]) => run('/usr/sbin/tgtadm', ['-C', String(ctl), '--lld', 'iscsi', ...args]);
  for (const ctl of [ctlA, ctlB]) {
    await waitFor(`tgtd ${ctl}`, async () => {
      await tgtadm(ctl, ['--op', 'show', '--mode', 'target']);
      return true;
    });
  }
  const lun = (name: string, mib: number, kind: 'mbr' | 'gpt' | 'empty' | 'boot' | 'uefi') => {
    const file = path.join(dir, `${name}.img`);
    if (kind === 'mbr') writeMbrDisk(file, mib * 1048576);
    else if (kind === 'boot') writeBootSectorDisk(file, mib * 1048576);
    else if (kind === 'uefi') writeUefiBootDisk(file, mib * 1048576);
    else if (kind === 'gpt') writeGptDisk(file, mib * 1048576);
    else {
      closeSync(openSync(file, 'w'));
      truncateSync(file, mib * 1048576);
    }
    return file;
  };
  const addTarget = async (ctl: number, tid: number, iqn: string, opts: { lun?: string; acl?: string } = {}) => {
    await tgtadm(ctl, ['--op', 'new', '--mode', 'target', '--tid', String(tid), '-T', iqn]);
    if (opts.lun) await tgtadm(ctl, ['--op', 'new', '--mode', 'logicalunit', '--tid', String(tid), '--lun', '1', '-b', opts.lun]);
    if (opts.acl) await tgtadm(ctl, ['--op', 'bind', '--mode', 'target', '--tid', String(tid), '--initiator-name', opts.acl]);
    else await tgtadm(ctl, ['--op', 'bind', '--mode', 'target', '--tid', String(tid), '-I', 'ALL']);
  };
  const account = async (ctl: number, user: string, password: string, tid?: number, outgoing = false) => {
    await tgtadm(ctl, ['--op', 'new', '--mode', 'account', '--user', user, '--password', password]);
    await tgtadm(ctl, ['--op', 'bind', '--mode', 'account', ...(tid === undefined ? [] : ['--tid', String(tid)]), '--user', user, ...(outgoing ? ['--outgoing'] : [])]);
  };
  const T = iscsi.targets;
  await addTarget(ctlA, 1, T.mbr, { lun: lun('mbr', 64, 'mbr') });
  await addTarget(ctlA, 2, T.gpt, { lun: lun('gpt', 48, 'gpt') });
  await addTarget(ctlA, 3, T.empty, { lun: lun('empty', 16, 'empty') });
  await addTarget(ctlA, 4, T.chapOneWay, { lun: lun('chap1', 8, 'empty') });
  await account(ctlA, iscsi.chap.oneWay.username, iscsi.chap.oneWay.secret, 4);
  await addTarget(ctlA, 5, T.chapMutual, { lun: lun('chap2', 8, 'empty') });
  await account(ctlA, iscsi.chap.mutual.username, iscsi.chap.mutual.secret, 5);
  await account(ctlA, iscsi.chap.mutual.targetUsername, iscsi.chap.mutual.targetSecret, 5, true);
  await addTarget(ctlA, 6, T.acl, { lun: lun('acl', 8, 'empty'), acl: iscsi.aclInitiator });
  await addTarget(ctlA, 7, T.boot, { lun: lun('boot', 8, 'boot') });
  // The UEFI boot LUN needs GRUB and FAT tools; without them the lab says so and goes on.
  const uefiMissing = missingUefiTools();
  if (uefiMissing.length === 0) await addTarget(ctlA, 8, T.uefiBoot, { lun: lun('uefiboot', 24, 'uefi') });
  else iscsi.uefiBootMissing = `missing ${uefiMissing.join(', ')} (Debian: grub-efi-amd64-bin grub-common dosfstools mtools)`;
  for (const [i, iqn] of T.bulk.entries()) await addTarget(ctlA, 10 + i, iqn);
  await addTarget(ctlB, 1, T.onB, { lun: lun('onb', 8, 'empty') });
  await account(ctlB, iscsi.chap.discovery.username, iscsi.chap.discovery.secret);
  await account(ctlB, iscsi.chap.discovery.targetUsername, iscsi.chap.discovery.targetSecret, undefined, true);

  // NAS: sshd (key, agent and password logins; an sftp-only chrooted account) and a TFTP server
  // whose root lies inside that chroot, so every account can upload to what TFTP serves.
  const sshDir = path.join(dir, 'ssh');
  mkdirSync(sshDir, { recursive: true });
  mkdirSync('/run/sshd', { recursive: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(sshDir, 'host_ed25519')]);
  const passphrase = `lab-pass-${Math.random().toString(36).slice(2, 10)}`;
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'bootchain-lab-key', '-f', path.join(sshDir, 'client_ed25519')]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bootchain-lab-agent', '-f', path.join(sshDir, 'agent_ed25519')]);
  writeFileSync(path.join(sshDir, 'authorized_keys'), ['client_ed25519.pub', 'agent_ed25519.pub'].map((f) => readFileSync(path.join(sshDir, f), 'utf8')).join(''));
  // sshd refuses a chroot with any non-root or group/other-writable component: /tmp will not do.
  const chroot = `/run/bootchain-lab-${prefix}-sftp`;
  rmSync(chroot, { recursive: true, force: true });
  mkdirSync(chroot, { mode: 0o755 });
  const users = { password: `${prefix}pass`, sftp: `${prefix}sftp` };
  const home = `/run/bootchain-lab-${prefix}-home`;
  rmSync(home, { recursive: true, force: true });
  mkdirSync(home, { mode: 0o755 });
  for (const u of Object.values(users)) {
    if (!(await run('getent', ['passwd', u], { allowFail: true })).trim()) await run('useradd', ['-M', '-d', path.join(home, u), '-s', '/bin/sh', u]);
    mkdirSync(path.join(home, u));
    await run('chown', [`${u}:`, path.join(home, u)]);
  }
  const password = `Lab-${Math.random().toString(36).slice(2, 12)}`;
  await runInput('chpasswd', [], `${users.password}:${password}\n`);
  await run('usermod', ['-p', '*', users.sftp]);
  writeFileSync(
    path.join(sshDir, 'sshd_config'),
    [
      `ListenAddress ${SUBNET}.20`,
      'Port 22',
      `HostKey ${path.join(sshDir, 'host_ed25519')}`,
      `PidFile ${path.join(sshDir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(sshDir, 'authorized_keys')}`,
      'UsePAM no',
      'StrictModes no',
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'MaxStartups 100:30:200',
      'Subsystem sftp internal-sftp',
      `Match User ${users.sftp}`,
      `  ChrootDirectory ${chroot}`,
      '  ForceCommand internal-sftp',
      '  PasswordAuthentication no',
      '',
    ].join('\n'),
  );
  daemon(dir, ns.nas, 'sshd', '/usr/sbin/sshd', ['-D', '-e', '-f', path.join(sshDir, 'sshd_config')]);
  const tftpRoot = path.join(chroot, 'tftp');
  mkdirSync(tftpRoot, { recursive: true });
  await run('chown', [`${users.sftp}:`, tftpRoot]);
  writeFileSync(path.join(tftpRoot, 'hello.txt'), 'bootchain lab tftp\n');
  daemon(dir, ns.nas, 'tftpd', '/usr/sbin/in.tftpd', ['-L', '-s', '-a', `${SUBNET}.20:69`, tftpRoot]);
  const ssh: LabSsh = {
    host: `${SUBNET}.20`,
    port: 22,
    hostKeyPub: path.join(sshDir, 'host_ed25519.pub'),
    root: { user: 'root', key: path.join(sshDir, 'client_ed25519'), passphrase, agentKey: path.join(sshDir, 'agent_ed25519') },
    password: { user: users.password, password, home: path.join(home, users.password) },
    sftpOnly: { user: users.sftp, key: path.join(sshDir, 'client_ed25519'), chroot, root: '/tftp' },
  };

  // Misc host: .30 has nothing on 3260 (refused), .31 answers like a web server, .32 never answers.
  const listener = path.join(__dirname, 'listener.mjs');
  daemon(dir, ns.misc, 'listener-http', process.execPath, [listener, 'http', `${SUBNET}.31`, '3260']);
  daemon(dir, ns.misc, 'listener-silent', process.execPath, [listener, 'silent', `${SUBNET}.32`, '3260']);

  const probe = (nsName: string, ip: string, port: number) =>
    nsExec(ns.desk, process.execPath, [
      '-e',
      `const s=require('net').connect(${port},'${ip}');s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(1),500)`,
    ]).then(() => true);
  for (const ip of ['20', '21', '22']) await waitFor(`iSCSI portal .${ip}`, () => probe(ns.nas, `${SUBNET}.${ip}`, 3260));
  await waitFor('sshd', () => probe(ns.nas, `${SUBNET}.20`, 22));
  await waitFor('non-iSCSI listener', () => probe(ns.misc, `${SUBNET}.31`, 3260));
  await waitFor('silent listener', () => probe(ns.misc, `${SUBNET}.32`, 3260));
  await waitFor('dns', async () => (await nsExec(ns.desk, 'getent', ['hosts', `${SUBNET}.20`])).includes('nas.'));

  const info: LabInfo = {
    prefix,
    dir,
    subnet: `${SUBNET}.0/${BITS}`,
    namespaces: ns,
    desk: { ip: `${SUBNET}.10` },
    router: { ip: `${SUBNET}.1` },
    nas: { ips: [`${SUBNET}.20`, `${SUBNET}.21`, `${SUBNET}.22`], sshPort: 22, tftpRoot, tgtControlPorts: [ctlA, ctlB] },
    ssh,
    iscsi,
    iscsiPortals: [`${SUBNET}.20:3260`, `${SUBNET}.21:3260`, `${SUBNET}.22:3260`],
    nonIscsi: [`${SUBNET}.31:3260`, `${SUBNET}.32:3260`],
    closedHosts: [`${SUBNET}.1`, `${SUBNET}.10`, `${SUBNET}.30`],
    names,
    fixedRange: `${SUBNET}.1-${SUBNET}.40`,
  };
  writeFileSync(path.join(dir, 'lab.json'), `${JSON.stringify(info, null, 2)}\n`);
  return info;
}


/** The running lab described by BOOTCHAIN_LAB (path of lab.json), if any. */
export function currentLab(): LabInfo | undefined {
  const file = process.env.BOOTCHAIN_LAB;
  if (!file || !existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as LabInfo;
}

/** Arguments that run a command inside the lab's desk namespace with the lab described. */
export function inDesk(info: LabInfo, cmd: string[]): string[] {
  return ['netns', 'exec', info.namespaces.desk, 'env', `BOOTCHAIN_LAB=${path.join(info.dir, 'lab.json')}`, ...cmd];
}

/**
 * Adds a host to a running lab (tests use it for extra servers, e.g. a second DHCP server):
 * a namespace `${prefix}-${name}` on the lab bridge with the given addresses. `remove` kills
 * what runs in it and deletes it; labDown removes it too.
 */
export async function addLabHost(info: LabInfo, name: string, ips: string[]): Promise<{ ns: string; exec(cmd: string, args: string[]): Promise<string>; daemon(name: string, cmd: string, args: string[]): number; remove(): Promise<void> }> {
  if (!/^[a-z0-9]{1,6}$/.test(name)) throw new Error('lab host names are 1-6 letters/digits');
  if (ips.some((ip) => Number(ip.split('.')[3]) <= 40)) throw new Error(`lab hosts that tests add use .41 and up (${ips.join(', ')}): .1-.40 is the fixed lab`);
  const ns = `${info.prefix}-${name}`;
  await removeNamespace(ns);
  const port = `x${name}`;
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', port, 'netns', info.namespaces.switch]);
  await run('ip', ['-n', info.namespaces.switch, 'link', 'set', port, 'master', 'br0', 'up']);
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  for (const ip of ips) await run('ip', ['-n', ns, 'addr', 'add', `${ip}/${BITS}`, 'dev', 'eth0']);
  await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  // A test before this one may have had a host on the same address: the fixed hosts' neighbour
  // caches would still send its unicast (TFTP, HTTP) to the old host's MAC for a while.
  for (const peer of [info.namespaces.desk, info.namespaces.nas, info.namespaces.router]) {
    for (const ip of ips) await run('ip', ['-n', peer, 'neigh', 'flush', 'to', ip], { allowFail: true });
  }
  return {
    ns,
    exec: (cmd, args) => nsExec(ns, cmd, args),
    daemon: (dname, cmd, args) => daemon(info.dir, ns, `${name}-${dname}`, cmd, args),
    remove: () => removeNamespace(ns),
  };
}

/** Kills everything in a namespace and deletes it (no error when it does not exist). */
async function removeNamespace(ns: string): Promise<void> {
  const pids = (await run('ip', ['netns', 'pids', ns], { allowFail: true })).split(/\s+/).filter(Boolean);
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone already
    }
  }
  if (pids.length > 0) await new Promise((r) => setTimeout(r, 100));
  await run('ip', ['netns', 'del', ns], { allowFail: true });
}
