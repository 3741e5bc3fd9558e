import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BUILD_TARGET_NAMES, type BuildTargetName } from '../../shared/build';
import { formatBytes } from '../../shared/bytes';
import { BootchainError, isAppError, type AppError } from '../../shared/errors';
import { generateFromRaw } from '../../shared/gen/artifacts';
import { checkKernelConfig } from '../../shared/gen/kernel';
import { checkIqn, DEFAULT_IQN_TEMPLATE, generateIqn } from '../../shared/model/iqn';
import { parseMac } from '../../shared/model/mac';
import { describeFieldErrors, loadProject, type Project } from '../../shared/model/project';
import { HostKeyInput, UploadTarget, type SshAuth } from '../../shared/upload';
import { VM_STAGES } from '../../shared/vm';
import type { BuildTarget } from '../services/build/builder';
import { buildProject } from '../services/build/job';
import type { SourceSpec } from '../services/build/source';
import { defaultDataDir } from '../services/project/store';
import { parseIPv4, parsePorts } from '../../shared/ipv4';
import type { JobProgress } from '../../shared/jobs';
import { ISCSI_PORT, PortalCheckInput, ScanStartInput, type Portal, type ScanResult } from '../../shared/scan';
import { DISCOVERY_INITIATOR, DiscoverInput, ProbeInput } from '../../shared/iscsi';
import type { JobKinds } from '../../shared/jobs';
import { toAppError } from '../services/errors';
import { checkTargetName } from '../services/iscsi/discovery';
import { checkInitiatorName, discoverJob, probeJob } from '../services/iscsi/jobs';
import type { JobContext } from '../services/jobs/runner';
import { describeLanInterfaces, listInterfaces } from '../services/net/interfaces';
import { checkPortal, scan } from '../services/scan/scanner';
import { backupsOf, rollbackOn, uploadFiles, uploadJob } from '../services/upload/job';
import { KnownHosts } from '../services/upload/known-hosts';
import { hostKeyStatus, trustHostKey } from '../services/upload/ssh';
import { verifyStation } from '../services/verify/verify';
import { vmBootJob } from '../services/vm/job';
import { BootServer } from '../services/bootserver/server';
import { projectMacs } from '../services/bootserver/job';
import { ServeInput, type ServeEvent } from '../../shared/bootserver';
import { keepServing } from '../services/net/guard';
import { DHCP_WAIT_MS, reportMarkdown } from '../../shared/verify';
import { promptSecret } from './prompt';
import { keyNeedsPassphrase } from '../services/upload/keyfile';
import { defaultGrantHelper, grantPrivilege, privilegeStatus } from '../services/privileges/privileges';
import { PrivilegeStatusInput } from '../../shared/privileges';
import { chapRefs, secretEnvName } from '../../shared/secrets';

const HELP = `bootchain — diskless iSCSI boot wizard, headless

Usage: bootchain <verb> [options]

Verbs:
  scan <target>... [options]   TCP connect scan for iSCSI portals, then an iSCSI login check
                               of each open port. Targets: 10.0.0.0/24, 10.0.0.5, 10.0.0.5-10.0.0.20
      --ports LIST             ports to scan, e.g. 3260 or 3260,860 or 3260-3262 (default 3260)
      --timeout MS             longest wait per connect (default 1000)
      --min-timeout MS         shortest adaptive wait per connect (default 250)
      --concurrency N          connects in flight (default 256)
      --check-timeout MS       wait for the iSCSI login response of an open port (default 500)
      --no-check               do not check open ports for iSCSI (iscsi: null)
      --no-names               skip reverse-DNS names
      --yes-large              allow more than a /16 (at most a /8)
      --yes-public             allow addresses outside private ranges (only networks you own)
  check <address>[:port]       check one portal: connect, iSCSI login check, name
  discover <portal>... [options]
                               SendTargets discovery on each portal (address[:port], IPv6 in
                               brackets); prints "IP:PORT,TPGT IQN" lines like iscsiadm -m discovery
      --initiator IQN          initiator name to log in as (default ${DISCOVERY_INITIATOR})
  probe <portal> <target-iqn> --initiator IQN [options]
                               log in as IQN and describe the target: LUNs, vendor, serial, size,
                               partition table, EFI system partition, which LUN holds the disk
      --digests none|prefer|require   CRC32C header and data digests (default none)
  CHAP (discover and probe):
      --chap-user U            CHAP user; the secret comes from BOOTCHAIN_CHAP_SECRET, is asked
                               for on the terminal (not echoed), or
      --chap-secret S          (visible to other users of this machine in the process list)
      --mutual-user U          mutual CHAP: the target's user (optional) and its secret from
      --mutual-secret S        BOOTCHAIN_MUTUAL_SECRET, the terminal prompt or this flag
      --timeout MS             deadline of each protocol step (default 10000)
      --deadline MS            deadline of the whole job per portal, however the target keeps it
                               going (default 6 x --timeout for discover, 12 x for probe)
  iqn new --domain D --date YYYY-MM --host H [--mac M] [--template T]
                               make an initiator IQN (default template iqn.%date%.%domain%:%hostname%-%hexraw%;
                               tokens %date% %domain% %hostname% %mac% %hexraw%)
  iqn check <iqn>              exit 0 when valid (prints it normalised), 2 with the reason
  generate --project FILE --out DIR [--secrets FILE]
                               write every artifact: embed.ipxe, default.ipxe, <mac-hexhyp>.ipxe per
                               workstation, dhcp/<dialect> for MikroTik, dnsmasq (+ proxy), ISC, Kea,
                               OpenWrt, kernel/<station>.txt. Secrets by reference come from the JSON
                               file --secrets ({"ref": "secret"}), BOOTCHAIN_SECRET_<REF> (upper case,
                               other characters as _), or are asked for on the terminal (upload,
                               verify too). Any invalid value: nothing is written, the field
                               is named, exit 2.
  build --project FILE [options]
                               build iPXE with the project's embedded script (embed.ipxe)
      --engine podman|docker|local   how to build (default: the first that works here)
      --source DIR|TARBALL     iPXE source (default: $IPXE_SRC, else the pinned release, downloaded
                               and verified)
      --targets LIST           bios,uefi,ipxe-efi: bin/undionly.kpxe, bin-x86_64-efi/snponly.efi,
                               bin-x86_64-efi/ipxe.efi (default bios)
      --out DIR                where the binaries and manifest.json go (default ./ipxe-build)
      --serial                 iPXE console on the serial port too
      --base IMAGE             base image of the build container (BOOTCHAIN_BUILD_BASE)
  upload --project FILE [options]
                               put the boot files on the NAS's TFTP root over SSH/SFTP (or into a
                               folder): the served scripts (default.ipxe, autoexec.ipxe, one per
                               workstation) and the built binaries. Shows the plan (+ new, ~ changed,
                               = unchanged, ? ours but no longer in the project), keeps a backup set of
                               every replaced file, writes each file atomically, checks the server's
                               copy (sha256sum, or read back) and fetches every file over TFTP.
      --dry-run                only print the plan
      --secrets FILE           CHAP secrets, as for generate
      --build DIR              build output with manifest.json (default: the app's build folder of
                               the project, else ./ipxe-build when it exists)
      --folder DIR             export into this folder instead of SSH
      --host H --port P --user U   SSH server (default: the project's nas.ssh)
      --root PATH              TFTP root on the server (default: the project's nas.tftpRoot)
      --key FILE               log in with this private key (passphrase from BOOTCHAIN_SSH_PASSPHRASE,
                               else asked for on the terminal when the key is encrypted)
      --agent                  log in with the SSH agent (SSH_AUTH_SOCK)
      --password               log in with a password: BOOTCHAIN_SSH_PASSWORD, else asked for
                               (default: --key if given, else the agent if running, else the password)
      --trust SHA256:...       trust the server's host key on first use if it has this fingerprint
                               (compare with ssh-keygen -lf on the NAS); a changed key is always refused
      --known-hosts FILE       Bootchain's known hosts (default: <data dir>/known_hosts)
      --no-tftp-check          skip fetching the files back over TFTP
  rollback --project FILE [--id ID] [target options as upload]
                               restore the files the newest upload (or backup set ID) replaced and
                               remove the ones it added
  backups --project FILE [target options as upload]
                               list the backup sets on the server, newest first
  hostkey HOST[:PORT]          print the server's host key fingerprint and whether it is trusted
      --known-hosts FILE
  verify --project FILE --station NAME [options]
                               walk the workstation's boot chain against the live servers as its
                               firmware and iPXE would: DHCP (as the firmware and as iPXE; nothing is
                               leased), the boot file over TFTP, the embedded script, default.ipxe,
                               the per-MAC script, the iSCSI portal, a login as the workstation, its
                               LUN and boot sector, the kernel parameters. Prints each link with
                               PASS/WARN/FAIL and the fix; exit 1 when a link fails.
      --secrets FILE           CHAP secrets, as for generate
      --build DIR              build output (manifest.json) to compare the served boot file with
      --kernel-cmdline TEXT    the kernel command line in use (default: the generated one)
      --no-dhcp                do not send DHCP (next-server and boot file from the project)
      --dhcp-wait MS           collect DHCP offers for at most MS per DISCOVER (default 4000); the wait
                               ends sooner once the project's server has answered and no new offer
                               came for 0.5 s, so a slow router is heard beside a fast stranger
      --interface NAME         send the DISCOVERs out of NAME, to its subnet's broadcast address (for a
                               computer with several networks, or none with a default route)
      --markdown               print the report as Markdown
      --vm                     then test-boot the workstation in QEMU (BIOS: SeaBIOS, UEFI: OVMF) and
                               print how far it got (firmware, iPXE, DHCP, scripts, SAN boot, the disk)
      --vm-net user|tap:IFNAME user: QEMU's own DHCP/TFTP serve the project's files, the NAS is reached
                               through QEMU's NAT (offline dry run; default); tap:IFNAME: an existing
                               tap device on the LAN bridge, so the real DHCP/TFTP servers answer
      --vm-timeout S           give up after S seconds (default 180)
      (DHCP needs UDP port 68: run as root or grant cap_net_bind_service; without it the DHCP
      link is skipped with that reason and the rest is still checked.)
  serve --root DIR [options]   serve the boot files from this computer until Ctrl-C: TFTP (RFC 1350 +
                               blksize, tsize, timeout, windowsize), HTTP for iPXE, and optionally
                               proxyDHCP, so a workstation boots with no NAS TFTP and no router change
      --address IP             the address to serve on (default: the --proxy-dhcp interface's, else 0.0.0.0)
      --tftp-port N            TFTP port (default 69; below 1024 needs root or cap_net_bind_service)
      --http PORT              HTTP port for iPXE (default 8080; 0: no HTTP)
      --proxy-dhcp IFACE       answer PXE clients on IFACE as a proxyDHCP server (ports 67 and 4011):
                               the firmware gets iPXE over TFTP, any iPXE gets http://ADDRESS:PORT/
                               default.ipxe (default.ipxe over TFTP without HTTP), Bootchain's iPXE
                               also option 17 = http://ADDRESS:PORT (set the project's root path to
                               it); never hands out addresses
      --project FILE           take the boot file names and user-class from the project, and let
                               proxyDHCP answer only its workstations' MACs
      --json                   one JSON line per event (client, file, status, bytes)
  privileges [grant ports|tap] [options]
                               the rights beyond an ordinary user's that Bootchain uses (ports below
                               1024; a tap device for the VM test boot), whether this process has
                               them and why; "grant" runs the one-time grant through pkexec (or
                               directly as root) with the bootchain-grant helper
      --tap NAME               the tap device (default bctap0)
      --bridge BR              the LAN bridge the tap device joins
      --exe PATH               the binary that gets cap_net_bind_service (default: this node)
      --json                   the status as JSON
  kernel-check <.config>       list the kernel options the recipe needs: built in, module or missing
                               (exit 0 when nothing required is missing, 1 otherwise)
  interfaces                   list this machine's interfaces and IPv4 subnets
  help                         this text

Common options:
  --json                       print one JSON document on stdout (scripts rely on its shape)
  --quiet                      no progress on stderr
  --verbose                    protocol log on stderr (never shows secrets)

Exit codes: 0 done; 2 bad input (the message says which); 1 failure or cancelled (Ctrl-C).
JSON of scan: { "portals": [ { "address", "port", "iscsi": true|false|null, "name"?, "evidence"? } ],
                "probed", "closed", "silent", "durationMs", "blocks", "ports" }
`;

type ChapInput = { username: string; secret: string; mutual?: { username?: string; secret: string } };

/** Parsed command line: positionals and --flags (a flag takes the next word when it has a value). */
interface Args {
  verb: string | undefined;
  pos: string[];
  flags: Map<string, string | true>;
}

const VALUE_FLAGS = new Set([
  'ports',
  'timeout',
  'deadline',
  'min-timeout',
  'concurrency',
  'check-timeout',
  'initiator',
  'chap-user',
  'chap-secret',
  'mutual-user',
  'mutual-secret',
  'digests',
  'domain',
  'date',
  'host',
  'mac',
  'template',
  'project',
  'out',
  'secrets',
  'engine',
  'source',
  'targets',
  'base',
  'build',
  'folder',
  'port',
  'user',
  'root',
  'key',
  'trust',
  'known-hosts',
  'id',
  'station',
  'kernel-cmdline',
  'tap',
  'bridge',
  'exe',
  'dhcp-wait',
  'interface',
  'vm-net',
  'vm-timeout',
  'address',
  'tftp-port',
  'http',
  'proxy-dhcp',
]);

function parseArgs(argv: string[]): Args {
  const pos: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const [k, v] = a.slice(2).split('=', 2) as [string, string | undefined];
      if (v !== undefined) flags.set(k, v);
      else if (VALUE_FLAGS.has(k)) {
        const next = argv[++i];
        if (next === undefined) throw usage(`--${k} needs a value`);
        flags.set(k, next);
      } else flags.set(k, true);
    } else pos.push(a);
  }
  return { verb: pos.shift(), pos, flags };
}

class UsageError extends Error {}
const usage = (m: string) => new UsageError(m);
/** A usage error listing zod's complaints by field. */
const zodUsage = (issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>) => usage(issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('; '));

/** Reads the JSON file of --project (or --secrets); a bad file is a usage error naming it. */
function readJsonFlagFile(flag: string, file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw usage(`--${flag} ${file}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    // The parser's message quotes the text around the fault: of a secrets file, secrets.
    throw usage(`--${flag} ${file}: ${flag === 'secrets' ? 'not valid JSON; it must hold one object {"ref": "secret"} (what the parser found is not shown: it would quote the secrets)' : (e as Error).message}`);
  }
}

function intFlag(args: Args, name: string): number | undefined {
  const v = args.flags.get(name);
  if (v === undefined) return undefined;
  if (v === true || !/^\d+$/.test(v)) throw usage(`--${name} takes a whole number`);
  return Number(v);
}

function printError(e: AppError, json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify({ error: e }, null, 2)}\n`);
  process.stderr.write(`bootchain: ${e.message}\n  ${e.hint}\n`);
}

function progressLine(p: JobProgress): string {
  const pct = p.total ? Math.floor(((p.done ?? 0) * 100) / p.total) : 0;
  return `\r${p.phase} ${p.done ?? 0}/${p.total ?? '?'} (${pct}%) ${p.message ?? ''}   `;
}

async function cmdScan(args: Args, json: boolean, quiet: boolean): Promise<number> {
  if (args.pos.length === 0) throw usage('scan needs at least one target, e.g. bootchain scan 192.168.1.0/24');
  const portsText = args.flags.get('ports');
  let ports = [ISCSI_PORT];
  if (portsText !== undefined) {
    if (portsText === true) throw usage('--ports needs a list');
    const p = parsePorts(portsText);
    if (!p.ok) throw usage(`--ports: ${p.reason}`);
    ports = p.value;
  }
  const parsed = ScanStartInput.safeParse({
    targets: args.pos,
    ports,
    timeoutMs: intFlag(args, 'timeout'),
    minTimeoutMs: intFlag(args, 'min-timeout'),
    concurrency: intFlag(args, 'concurrency'),
    confirmIscsi: !args.flags.has('no-check'),
    checkTimeoutMs: intFlag(args, 'check-timeout'),
    resolveNames: !args.flags.has('no-names'),
    confirmLarge: args.flags.has('yes-large'),
    confirmPublic: args.flags.has('yes-public'),
  });
  if (!parsed.success) throw zodUsage(parsed.error.issues);
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  const tty = process.stderr.isTTY && !quiet;
  const result: ScanResult = await scan(parsed.data, {
    signal: ac.signal,
    progress: (p) => {
      if (tty) process.stderr.write(progressLine(p));
    },
    item: () => undefined,
    log: (line) => {
      if (!quiet && !json) process.stderr.write(`${tty ? '\r' : ''}${line}\n`);
    },
  });
  if (tty) process.stderr.write('\n');
  if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else printPortals(result.portals, result);
  return 0;
}

function printPortals(portals: Portal[], r?: ScanResult): void {
  for (const p of portals) {
    const kind = p.iscsi === true ? 'iSCSI' : p.iscsi === false ? 'not-iSCSI' : 'open';
    process.stdout.write(`${p.address}:${p.port}\t${kind}\t${p.name ?? ''}\n`);
  }
  if (r) process.stdout.write(`# ${r.portals.length} open, ${r.closed} closed, ${r.silent} silent, ${r.probed} probed in ${r.durationMs} ms\n`);
}

async function cmdCheck(args: Args, json: boolean): Promise<number> {
  const t = args.pos[0];
  if (!t || args.pos.length > 1) throw usage('check takes one address[:port]');
  const m = /^([\d.]+)(?::(\d+))?$/.exec(t);
  if (!m) throw usage(`"${t}" is not address[:port]`);
  const parsed = PortalCheckInput.safeParse({ address: m[1], port: m[2] ? Number(m[2]) : ISCSI_PORT });
  if (!parsed.success) throw zodUsage(parsed.error.issues);
  const ip = parseIPv4(parsed.data.address);
  if (!ip.ok) throw usage(ip.reason);
  const p = await checkPortal(parsed.data.address, parsed.data.port, { timeoutMs: parsed.data.timeoutMs });
  if (json) process.stdout.write(`${JSON.stringify(p, null, 2)}\n`);
  else printPortals([p]);
  return p.iscsi ? 0 : 1;
}

/** Parses `address[:port]` or `[v6]:port`. */
function parsePortal(t: string): { address: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+|[A-Za-z0-9.-]+))(?::(\d{1,5}))?$/.exec(t);
  if (!m) throw usage(`"${t}" is not a portal (address[:port])`);
  const port = m[3] ? Number(m[3]) : ISCSI_PORT;
  if (port < 1 || port > 65535) throw usage(`port ${port} is out of range: ports are 1 to 65535`);
  return { address: (m[1] ?? m[2])!, port };
}

function stringFlag(args: Args, name: string): string | undefined {
  const v = args.flags.get(name);
  if (v === true) throw usage(`--${name} needs a value`);
  return v;
}

/** CHAP from flags, the environment or a prompt on the terminal; secrets never echoed. */
async function chapFrom(args: Args): Promise<ChapInput | undefined> {
  const user = stringFlag(args, 'chap-user');
  if (!user) {
    if (args.flags.has('chap-secret') || args.flags.has('mutual-secret')) throw usage('--chap-user is needed with a CHAP secret');
    return undefined;
  }
  const secret = stringFlag(args, 'chap-secret') ?? (process.env.BOOTCHAIN_CHAP_SECRET || (await promptSecret(`CHAP secret for ${user}: `)));
  if (!secret) throw usage('--chap-user needs a secret: set BOOTCHAIN_CHAP_SECRET (or --chap-secret), or run on a terminal to be asked');
  const chap: ChapInput = { username: user, secret };
  const mUser = stringFlag(args, 'mutual-user');
  const mSecret = stringFlag(args, 'mutual-secret') ?? (process.env.BOOTCHAIN_MUTUAL_SECRET || (mUser ? await promptSecret(`Mutual CHAP secret (the target's, user ${mUser}): `) : undefined));
  if (mSecret) chap.mutual = mUser ? { username: mUser, secret: mSecret } : { secret: mSecret };
  else if (mUser) throw usage('--mutual-user needs a secret: set BOOTCHAIN_MUTUAL_SECRET (or --mutual-secret), or run on a terminal to be asked');
  return chap;
}

/** Runs a job body headless: Ctrl-C cancels, log lines go to stderr unless --quiet/--json. */
async function headless<K extends 'discover' | 'probe'>(kind: K, body: (ctx: JobContext<K>) => Promise<JobKinds[K]['result']>, verbose: boolean): Promise<JobKinds[K]['result']> {
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  return body({
    signal: ac.signal,
    progress: () => undefined,
    item: () => undefined,
    log: (line) => {
      if (verbose) process.stderr.write(`${kind}: ${line}\n`);
    },
  });
}

async function cmdDiscover(args: Args, json: boolean, quiet: boolean): Promise<number> {
  if (args.pos.length === 0) throw usage('discover needs at least one portal, e.g. bootchain discover 192.168.1.20');
  const parsed = DiscoverInput.safeParse({
    portals: args.pos.map(parsePortal),
    initiatorName: stringFlag(args, 'initiator'),
    chap: await chapFrom(args),
    timeoutMs: intFlag(args, 'timeout'),
    deadlineMs: intFlag(args, 'deadline'),
  });
  if (!parsed.success) throw zodUsage(parsed.error.issues);
  checkInitiatorName(parsed.data.initiatorName);
  const r = await headless('discover', (ctx) => discoverJob(parsed.data, ctx), args.flags.has('verbose') && !quiet);
  if (json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  else {
    // The same lines as `iscsiadm -m discovery -t st`: one per target and portal.
    for (const t of r.targets) for (const p of t.portals) process.stdout.write(`${p.address.includes(':') ? `[${p.address}]` : p.address}:${p.port},${p.tpgt ?? 1} ${t.name}\n`);
  }
  for (const f of r.failures) process.stderr.write(`bootchain: ${f.portal.address}:${f.portal.port}: ${f.error.message}\n  ${f.error.hint}\n`);
  return r.failures.length === 0 ? 0 : 1;
}

async function cmdProbe(args: Args, json: boolean, quiet: boolean): Promise<number> {
  const [portalText, target, ...rest] = args.pos;
  if (!portalText || !target || rest.length > 0) throw usage('probe takes <portal> <target-iqn> --initiator IQN');
  const initiator = stringFlag(args, 'initiator');
  if (!initiator) throw usage('probe needs --initiator IQN (the workstation\'s initiator name)');
  const portal = parsePortal(portalText);
  const parsed = ProbeInput.safeParse({
    address: portal.address,
    port: portal.port,
    target,
    initiatorName: initiator,
    chap: await chapFrom(args),
    digests: stringFlag(args, 'digests'),
    timeoutMs: intFlag(args, 'timeout'),
    deadlineMs: intFlag(args, 'deadline'),
  });
  if (!parsed.success) throw zodUsage(parsed.error.issues);
  checkInitiatorName(parsed.data.initiatorName);
  checkTargetName(parsed.data.target);
  const r = await headless('probe', (ctx) => probeJob(parsed.data, ctx), args.flags.has('verbose') && !quiet);
  if (json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  else {
    process.stdout.write(`${r.target} on ${r.portal.address}:${r.portal.port} as ${r.initiator}\n`);
    for (const l of r.luns) {
      const size = l.sizeBytes !== undefined ? ` ${formatBytes(l.sizeBytes)} (${l.blocks} x ${l.blockSize})` : '';
      process.stdout.write(`  LUN ${l.lun}: ${l.deviceTypeName}, ${l.vendor} ${l.product} ${l.revision}${l.serial ? `, serial ${l.serial}` : ''}${size}${l.layout ? `, ${l.layout.summary}` : ''}\n`);
    }
    process.stdout.write(r.bootLun !== undefined ? `  boot disk: LUN ${r.bootLun}\n` : '  no disk LUN\n');
  }
  return 0;
}

async function cmdIqn(args: Args, json: boolean): Promise<number> {
  const [sub, ...rest] = args.pos;
  if (sub === 'check') {
    if (rest.length !== 1) throw usage('iqn check takes one name');
    const r = checkIqn(rest[0]!);
    if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
    if (!r.ok) {
      if (!json) process.stderr.write(`bootchain: invalid iSCSI name: ${r.reason}\n`);
      return 2;
    }
    if (!json) process.stdout.write(`${r.value}\n`);
    return 0;
  }
  if (sub === 'new') {
    const domain = stringFlag(args, 'domain');
    const date = stringFlag(args, 'date');
    const host = stringFlag(args, 'host');
    if (!domain || !date || !host) throw usage('iqn new needs --domain, --date YYYY-MM and --host');
    const macText = stringFlag(args, 'mac');
    let mac: string | undefined;
    if (macText !== undefined) {
      const m = parseMac(macText);
      if (!m.ok) throw usage(`--mac: ${m.reason}`);
      mac = m.value;
    }
    const template = stringFlag(args, 'template') ?? (mac ? DEFAULT_IQN_TEMPLATE : 'iqn.%date%.%domain%:%hostname%');
    const r = generateIqn({ domain, date, hostname: host, mac }, template);
    if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
    if (!r.ok) {
      if (!json) process.stderr.write(`bootchain: ${r.reason}\n`);
      return 2;
    }
    if (!json) process.stdout.write(`${r.value}\n`);
    return 0;
  }
  throw usage('iqn takes "new" or "check"');
}

/** CHAP secrets by reference: a JSON file, then BOOTCHAIN_SECRET_<REF> variables, then a prompt on the terminal. */
async function secretsFrom(args: Args, refs: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const file = stringFlag(args, 'secrets');
  if (file) {
    const parsed = readJsonFlagFile('secrets', file);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw usage('--secrets holds one JSON object {"ref": "secret"}');
    for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') out[k] = v;
  }
  for (const ref of refs) {
    const v = process.env[secretEnvName(ref)] || (out[ref] === undefined ? await promptSecret(`CHAP secret "${ref}" (or set ${secretEnvName(ref)}): `) : undefined);
    if (v !== undefined && out[ref] === undefined) out[ref] = v;
  }
  return out;
}

async function cmdGenerate(args: Args, json: boolean): Promise<number> {
  const projectFile = stringFlag(args, 'project');
  const outDir = stringFlag(args, 'out');
  if (!projectFile || !outDir) throw usage('generate needs --project FILE and --out DIR');
  const raw = readJsonFlagFile('project', projectFile);
  const refs = JSON.stringify(raw).match(/"secretRef":"([^"]+)"/g)?.map((m) => m.slice(13, -1)) ?? [];
  const r = generateFromRaw(raw, await secretsFrom(args, refs));
  if (!r.ok) {
    if (json) process.stdout.write(`${JSON.stringify({ errors: r.errors }, null, 2)}\n`);
    for (const e of r.errors) process.stderr.write(`bootchain: ${e.field || 'project'}: ${e.message}\n`);
    process.stderr.write('Nothing was written.\n');
    return 2;
  }
  // Write into a fresh folder beside the target, then move the files in: a failure leaves DIR as it was.
  const out = path.resolve(outDir);
  const staging = mkdtempSync(path.join(path.dirname(out), '.bootchain-gen-'));
  try {
    for (const [rel, text] of Object.entries(r.files)) {
      const f = path.join(staging, rel);
      mkdirSync(path.dirname(f), { recursive: true });
      writeFileSync(f, text, { mode: 0o644 });
    }
    for (const rel of Object.keys(r.files)) {
      const dest = path.join(out, rel);
      mkdirSync(path.dirname(dest), { recursive: true });
      renameSync(path.join(staging, rel), dest);
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  if (json) process.stdout.write(`${JSON.stringify({ out, files: Object.keys(r.files).sort(), warnings: r.warnings }, null, 2)}\n`);
  else {
    for (const f of Object.keys(r.files).sort()) process.stdout.write(`${path.join(out, f)}\n`);
    for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
  }
  return 0;
}

async function cmdBuild(args: Args, json: boolean, quiet: boolean): Promise<number> {
  const projectFile = stringFlag(args, 'project');
  if (!projectFile) throw usage('build needs --project FILE');
  const p = loadProject(readJsonFlagFile('project', projectFile));
  if (!p.ok) {
    for (const e of p.errors) process.stderr.write(`bootchain: ${e.field}: ${e.message}\n`);
    return 2;
  }
  const engine = stringFlag(args, 'engine');
  if (engine !== undefined && !['podman', 'docker', 'local'].includes(engine)) throw usage('--engine is podman, docker or local');
  const targets = (stringFlag(args, 'targets') ?? 'bios').split(',').map((t) => {
    const g: BuildTarget | undefined = BUILD_TARGET_NAMES[t.trim() as BuildTargetName];
    if (!g) throw usage(`--targets: "${t}" is not bios, uefi or ipxe-efi`);
    return g;
  });
  const srcText = stringFlag(args, 'source') ?? process.env.IPXE_SRC;
  const source: SourceSpec = !srcText ? { kind: 'release' } : existsSync(path.join(srcText, 'src', 'Makefile')) ? { kind: 'dir', path: srcText } : { kind: 'tarball', path: srcText };
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  const tty = process.stderr.isTTY && !quiet;
  const r = await buildProject(
    p.value,
    {
      engine: engine as 'podman' | 'docker' | 'local' | undefined,
      source,
      targets,
      serialConsole: args.flags.has('serial'),
      outDir: stringFlag(args, 'out') ?? 'ipxe-build',
      cacheDir: path.join(defaultDataDir(), 'build-cache'),
      base: stringFlag(args, 'base'),
    },
    {
      signal: ac.signal,
      progress: (pr) => {
        if (tty) process.stderr.write(progressLine(pr));
      },
      log: (line, level) => {
        if (!quiet && !json && (level === 'error' || args.flags.has('verbose'))) process.stderr.write(`${line}\n`);
      },
    },
  );
  if (tty) process.stderr.write('\n');
  if (json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  else {
    process.stdout.write(`${r.kind === 'full' ? 'built' : 'relinked'} with ${r.engine} from iPXE ${r.version} in ${(r.durationMs / 1000).toFixed(1)} s\n`);
    for (const a of r.artifacts) process.stdout.write(`  ${a.file}\t${a.size} bytes\tsha256 ${a.sha256}\t${a.embeddedVerified ? 'embedded script verified' : 'EMBEDDED SCRIPT DIFFERS'}\n`);
    process.stdout.write(`  manifest: ${r.manifest}\n`);
  }
  return r.artifacts.every((a) => a.embeddedVerified) ? 0 : 1;
}

/** The upload target from flags and the project's nas settings; secrets from the environment or a prompt. */
async function uploadTargetFrom(args: Args, p: Project): Promise<UploadTarget> {
  const folder = stringFlag(args, 'folder');
  if (folder) return { kind: 'folder', path: path.resolve(folder) };
  const host = stringFlag(args, 'host') ?? p.nas.ssh?.host;
  const user = stringFlag(args, 'user') ?? p.nas.ssh?.user;
  if (!host || !user) throw usage('no SSH server: set nas.ssh in the project, or give --host and --user (or --folder DIR)');
  const key = stringFlag(args, 'key');
  let auth: SshAuth;
  if (key) {
    const passphrase = process.env.BOOTCHAIN_SSH_PASSPHRASE || (keyIsEncrypted(path.resolve(key)) ? await promptSecret(`Passphrase for ${key}: `) : undefined);
    auth = { kind: 'key', path: path.resolve(key), ...(passphrase ? { passphrase } : {}) };
  } else if (args.flags.has('agent') || (!args.flags.has('password') && process.env.SSH_AUTH_SOCK)) auth = { kind: 'agent' };
  else {
    const password = process.env.BOOTCHAIN_SSH_PASSWORD || (args.flags.has('password') ? await promptSecret(`Password for ${user}@${host}: `) : undefined);
    if (!password) throw usage('no way to log in: give --key FILE, run an SSH agent, or use --password (asked on the terminal, or set BOOTCHAIN_SSH_PASSWORD)');
    auth = { kind: 'password', password };
  }
  const r = UploadTarget.safeParse({ kind: 'ssh', host, port: intFlag(args, 'port') ?? p.nas.ssh?.port ?? 22, user, root: stringFlag(args, 'root') ?? p.nas.tftpRoot, auth });
  if (!r.success) throw zodUsage(r.error.issues);
  return r.data;
}

/** Whether a private key file needs a passphrase (unreadable files are left to the login to report). */
function keyIsEncrypted(file: string): boolean {
  try {
    return keyNeedsPassphrase(readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
}

function projectFrom(args: Args, verb: string): Project {
  const projectFile = stringFlag(args, 'project');
  if (!projectFile) throw usage(`${verb} needs --project FILE`);
  const p = loadProject(readJsonFlagFile('project', projectFile));
  if (!p.ok) throw usage(describeFieldErrors(p.errors));
  return p.value;
}

/** Known hosts file, and --trust applied (first use) before connecting. */
async function knownHostsFor(args: Args, target: UploadTarget): Promise<string> {
  const file = stringFlag(args, 'known-hosts') ?? path.join(defaultDataDir(), 'known_hosts');
  const trust = stringFlag(args, 'trust');
  if (trust && target.kind === 'ssh') await trustHostKey(target.host, target.port, trust, new KnownHosts(file));
  return file;
}

/** A host-key refusal from the CLI says how to go on with the CLI. */
function cliHostKeyHint(e: unknown): never {
  if (e instanceof BootchainError && e.appError.code === 'HOST_UNTRUSTED') {
    throw new BootchainError({ ...e.appError, hint: `Compare it with the NAS's own key (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the NAS); if they match, run again with --trust ${e.appError.detail}` });
  }
  throw e;
}

async function cmdUpload(args: Args, json: boolean, quiet: boolean): Promise<number> {
  const p = projectFrom(args, 'upload');
  const refs = chapRefs(p.workstations);
  const fallbackBuild = path.join(defaultDataDir(), 'builds', p.name);
  const buildDir = stringFlag(args, 'build') ?? (existsSync(fallbackBuild) ? fallbackBuild : existsSync('ipxe-build') ? path.resolve('ipxe-build') : undefined);
  const { files, notes } = uploadFiles(p, await secretsFrom(args, refs), buildDir);
  const target = await uploadTargetFrom(args, p);
  const knownHostsFile = await knownHostsFor(args, target);
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  const tty = process.stderr.isTTY && !quiet;
  for (const n of notes) if (!quiet && !json) process.stderr.write(`note: ${n}\n`);
  const r = await uploadJob(
    { files, target, dryRun: args.flags.has('dry-run'), tftpHost: target.kind === 'ssh' && !args.flags.has('no-tftp-check') ? p.nas.address : undefined },
    { knownHostsFile },
    {
      signal: ac.signal,
      progress: (pr) => {
        if (tty) process.stderr.write(progressLine(pr));
      },
      log: (line, level) => {
        if (!quiet && !json && (level !== 'info' || args.flags.has('verbose'))) process.stderr.write(`${line}\n`);
      },
      item: () => undefined,
    },
  ).catch(cliHostKeyHint);
  if (tty) process.stderr.write('\n');
  if (json) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  } else {
    const mark = (sym: string, list: string[]) => list.forEach((f) => process.stdout.write(`${sym} ${f}\n`));
    mark('+', r.plan.add);
    mark('~', r.plan.change);
    mark('=', r.plan.same);
    mark('?', r.plan.extra);
    if (r.dryRun) process.stdout.write(`plan for ${r.target}: ${r.plan.add.length} new, ${r.plan.change.length} changed, ${r.plan.same.length} unchanged, ${r.plan.bytes} bytes to write (nothing written)\n`);
    else {
      process.stdout.write(`uploaded ${r.bytes} bytes to ${r.target} in ${(r.durationMs / 1000).toFixed(1)} s; verified by ${r.files.find((f) => f.action !== 'same')?.verified ?? 'nothing written'}${r.backup ? `; backup set ${r.backup} (bootchain rollback restores it)` : ''}\n`);
      if (r.tftp) process.stdout.write(r.tftp.ok ? `TFTP: ${r.tftp.host} serves all ${r.tftp.checked} files as uploaded\n` : `TFTP: ${r.tftp.problems.join('\nTFTP: ')}\n`);
    }
  }
  return r.tftp && !r.tftp.ok ? 1 : 0;
}

async function cmdRollback(args: Args, json: boolean, list: boolean): Promise<number> {
  const p = projectFrom(args, list ? 'backups' : 'rollback');
  const target = await uploadTargetFrom(args, p);
  const deps = { knownHostsFile: await knownHostsFor(args, target) };
  if (list) {
    const sets = await backupsOf(target, deps).catch(cliHostKeyHint);
    if (json) process.stdout.write(`${JSON.stringify(sets, null, 2)}\n`);
    else for (const s of sets) process.stdout.write(`${s.id}\t${s.created}\treplaced ${s.replaced.length}, added ${s.added.length}\n`);
    return 0;
  }
  const id = stringFlag(args, 'id');
  const r = await rollbackOn(target, deps, id).catch(cliHostKeyHint);
  if (json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  else process.stdout.write(`rolled back ${r.id}: restored ${r.restored.join(', ') || 'nothing'}; removed ${r.removed.join(', ') || 'nothing'}\n`);
  return 0;
}

async function cmdPrivileges(args: Args, json: boolean): Promise<number> {
  const parsed = PrivilegeStatusInput.safeParse({ tap: stringFlag(args, 'tap') ?? 'bctap0', ...(stringFlag(args, 'bridge') ? { bridge: stringFlag(args, 'bridge') } : {}) });
  if (!parsed.success) throw zodUsage(parsed.error.issues);
  const exe = stringFlag(args, 'exe');
  const o = { helper: defaultGrantHelper(__dirname), tap: parsed.data.tap, bridge: parsed.data.bridge, ...(exe ? { exe: path.resolve(exe) } : {}) };
  let st;
  if (args.pos[0] === 'grant') {
    const what = args.pos[1];
    if (what !== 'ports' && what !== 'tap') throw usage('privileges grant takes "ports" or "tap"');
    st = await grantPrivilege(what === 'ports' ? 'low-ports' : 'tap', o);
  } else if (args.pos.length > 0) throw usage('privileges takes nothing, or "grant ports|tap"');
  else st = privilegeStatus(o);
  if (json) process.stdout.write(`${JSON.stringify(st, null, 2)}\n`);
  else
    for (const i of st.items) {
      process.stdout.write(`${i.granted ? 'granted' : 'missing'}  ${i.title}: ${i.evidence}\n`);
      if (!i.granted) process.stdout.write(`         needed for ${i.neededFor}\n         grant once: ${i.commands[0]}\n`);
    }
  return st.items.every((i) => i.granted) ? 0 : 1;
}

async function cmdHostKey(args: Args, json: boolean): Promise<number> {
  const arg = args.pos[0];
  if (!arg) throw usage('hostkey takes HOST[:PORT]');
  const [host, portText] = arg.split(':') as [string, string | undefined];
  const parsed = HostKeyInput.safeParse({ host, port: portText ? Number(portText) : 22 });
  if (!parsed.success) throw zodUsage(parsed.error.issues);
  const s = await hostKeyStatus(parsed.data.host, parsed.data.port, new KnownHosts(stringFlag(args, 'known-hosts') ?? path.join(defaultDataDir(), 'known_hosts')));
  if (json) process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
  else process.stdout.write(`${s.host}:${s.port} ${s.keyType} ${s.fingerprint} ${s.status}${s.knownFingerprint ? ` (trusted before: ${s.knownFingerprint})` : ''}\n`);
  return s.status === 'changed' ? 1 : 0;
}

async function cmdVerify(args: Args, json: boolean, quiet: boolean): Promise<number> {
  const p = projectFrom(args, 'verify');
  const station = stringFlag(args, 'station') ?? (p.workstations.length === 1 ? p.workstations[0]!.name : undefined);
  if (!station) throw usage(`verify needs --station NAME (${p.workstations.map((w) => w.name).join(', ')})`);
  const iface = stringFlag(args, 'interface');
  if (iface !== undefined && !listInterfaces().some((i) => i.name === iface && i.subnets.length > 0)) throw usage(`--interface: there is no interface "${iface}" with an IPv4 address here (${describeLanInterfaces()}; see bootchain interfaces)`);
  const refs = chapRefs(p.workstations);
  // Asked once (the generated files of the whole project are compared with what is served).
  const secrets = await secretsFrom(args, refs);
  const fallbackBuild = path.join(defaultDataDir(), 'builds', p.name);
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  const r = await verifyStation(p, secrets, station, {
    buildDir: stringFlag(args, 'build') ?? (existsSync(fallbackBuild) ? fallbackBuild : undefined),
    kernelCmdline: stringFlag(args, 'kernel-cmdline'),
    dhcp: !args.flags.has('no-dhcp'),
    dhcpWaitMs: intFlag(args, 'dhcp-wait') ?? DHCP_WAIT_MS,
    interface: iface,
    signal: ac.signal,
    onLink: (l) => {
      if (!json && !quiet && !args.flags.has('markdown') && process.stderr.isTTY) process.stderr.write(`  ${l.title}: ${l.status}\r\x1b[K`);
    },
  });
  if (json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  else if (args.flags.has('markdown')) process.stdout.write(reportMarkdown(r));
  else {
    const mark = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'skip' } as const;
    for (const l of [...r.links, { title: 'Identity', ...r.identity }]) {
      process.stdout.write(`${mark[l.status]}  ${l.title.padEnd(18)} ${l.summary}\n`);
      if (l.fix && l.status !== 'pass') process.stdout.write(`      fix: ${l.fix}\n`);
      if (args.flags.has('verbose')) for (const e of l.evidence) process.stdout.write(`      | ${e}\n`);
    }
    process.stdout.write(r.ok ? `every link holds (${r.durationMs} ms)\n` : `the boot stops at ${r.links.find((l) => l.id === r.firstBroken)?.title ?? 'the identity check'} (${r.durationMs} ms)\n`);
  }
  if (!args.flags.has('vm')) return r.ok ? 0 : 1;
  const netText = stringFlag(args, 'vm-net') ?? 'user';
  const tap = /^tap:([A-Za-z0-9_.-]{1,15})$/.exec(netText);
  if (netText !== 'user' && !tap) throw usage('--vm-net is user or tap:IFNAME');
  const vm = await vmBootJob(
    {
      project: p,
      secrets,
      station,
      network: tap ? { kind: 'tap', ifname: tap[1]! } : { kind: 'user' },
      buildDir: stringFlag(args, 'build') ?? (existsSync(fallbackBuild) ? fallbackBuild : undefined),
      timeoutMs: (intFlag(args, 'vm-timeout') ?? 180) * 1000,
    },
    {
      signal: ac.signal,
      log: (l) => {
        if (!json && !quiet) process.stderr.write(`${l}\n`);
      },
      progress: () => undefined,
      item: (st) => {
        if (!json && !quiet) process.stderr.write(`  VM ${(st.atMs / 1000).toFixed(1)} s: ${st.what} — ${st.line}\n`);
      },
    },
  );
  if (json) process.stdout.write(`${JSON.stringify({ vm: { ...vm, console: vm.console.slice(-4096) } }, null, 2)}\n`);
  else {
    process.stdout.write(`VM test boot: reached "${vm.stages.at(-1)?.what ?? 'nothing'}" (${vm.ended}, ${(vm.durationMs / 1000).toFixed(1)} s)\n`);
    if (vm.failure) process.stdout.write(`  stopped at "${VM_STAGES.find((s) => s.id === vm.failure!.stage)?.what ?? vm.failure.stage}": ${vm.failure.line}${vm.failure.why ? ` (${vm.failure.why})` : ''}\n`);
    for (const x of vm.ipxe ?? []) process.stdout.write(`  iPXE that ran: ${x.what}\n`);
  }
  const far = ['sanboot', 'booted'].includes(vm.reached);
  return r.ok && far ? 0 : 1;
}

async function cmdServe(args: Args, json: boolean, quiet: boolean): Promise<number> {
  const root = stringFlag(args, 'root');
  if (!root) throw usage('serve needs --root DIR (the folder with the boot files)');
  const iface = stringFlag(args, 'proxy-dhcp');
  let address = stringFlag(args, 'address');
  if (iface) {
    const ni = listInterfaces().find((i) => i.name === iface);
    if (!ni) throw usage(`--proxy-dhcp: there is no interface "${iface}" (see bootchain interfaces)`);
    address ??= ni.subnets[0]?.address;
    if (!address) throw usage(`--proxy-dhcp: ${iface} has no IPv4 address`);
  }
  const projectFile = stringFlag(args, 'project');
  const p = projectFile ? projectFrom(args, 'serve') : undefined;
  const parsed = ServeInput.safeParse({
    root: path.resolve(root),
    address: address ?? '0.0.0.0',
    tftpPort: intFlag(args, 'tftp-port') ?? 69,
    httpPort: intFlag(args, 'http') ?? 8080,
    proxyDhcp: iface !== undefined,
    ...(p ? { biosFile: p.boot.biosFile, uefiFile: p.boot.uefiFile, userClass: p.boot.userClass, macs: projectMacs(p) } : {}),
  });
  if (!parsed.success) throw zodUsage(parsed.error.issues);
  if (parsed.data.proxyDhcp && parsed.data.address === '0.0.0.0') throw usage('proxyDHCP needs the address clients should boot from: give --address');
  const print = (e: ServeEvent) => {
    if (json) process.stdout.write(`${JSON.stringify(e)}\n`);
    else if (!quiet) process.stdout.write(`${new Date(e.at).toISOString().slice(11, 23)} ${e.kind.padEnd(9)} ${e.status.padEnd(9)} ${e.client}${e.file ? ` ${e.file}` : ''}${e.bytes ? ` ${e.bytes} bytes` : ''}${e.message ? ` — ${e.message}` : ''}\n`);
  };
  const server = new BootServer(parsed.data, print);
  await server.start();
  // Anyone on the LAN can send to it: a bug one request reaches is reported, the rest are served.
  const unguard = keepServing((message) => {
    print({ kind: 'server', client: parsed.data.address, status: 'failed', bytes: 0, message, at: Date.now() });
    if (quiet && !json) process.stderr.write(`bootchain serve: ${message}\n`);
  });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  unguard();
  await server.stop();
  return 0;
}

/** Runs the CLI with the given arguments and returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  let json = argv.includes('--json');
  try {
    const args = parseArgs(argv);
    json = args.flags.has('json');
    const quiet = args.flags.has('quiet');
    switch (args.verb) {
      case undefined:
      case 'help':
        process.stdout.write(HELP);
        return 0;
      case 'scan':
        return await cmdScan(args, json, quiet);
      case 'check':
        return await cmdCheck(args, json);
      case 'discover':
        return await cmdDiscover(args, json, quiet);
      case 'iqn':
        return await cmdIqn(args, json);
      case 'generate':
        return await cmdGenerate(args, json);
      case 'build':
        return await cmdBuild(args, json, quiet);
      case 'upload':
        return await cmdUpload(args, json, quiet);
      case 'rollback':
        return await cmdRollback(args, json, false);
      case 'backups':
        return await cmdRollback(args, json, true);
      case 'hostkey':
        return await cmdHostKey(args, json);
      case 'verify':
        return await cmdVerify(args, json, quiet);
      case 'serve':
        return await cmdServe(args, json, quiet);
      case 'privileges':
        return await cmdPrivileges(args, json);
      case 'kernel-check': {
        const file = args.pos[0];
        if (!file || args.pos.length > 1) throw usage('kernel-check takes the path of a kernel .config');
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (e) {
          throw usage(`${file}: ${(e as Error).message}`);
        }
        const r = checkKernelConfig(text);
        if (json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        else {
          for (const c of r.checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(24)} ${c.state.padEnd(8)} ${c.why}; ${c.note}\n`);
          if (r.needsInitramfs) process.stdout.write('iSCSI is built as modules: boot with an initramfs that has iSCSI (genkernel --iscsi initramfs).\n');
          if (!r.hostname) process.stdout.write('advised: CONFIG_DEFAULT_HOSTNAME="name" (the recipe)\n');
        }
        return r.checks.every((c) => c.ok) ? 0 : 1;
      }
      case 'probe':
        return await cmdProbe(args, json, quiet);
      case 'interfaces': {
        const list = listInterfaces();
        if (json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        else for (const i of list) for (const s of i.subnets) process.stdout.write(`${i.name}\t${s.address}\t${s.cidr}\n`);
        return 0;
      }
      default:
        if (argv.includes('--help')) {
          process.stdout.write(HELP);
          return 0;
        }
        throw usage(`unknown verb "${args.verb}" (see bootchain --help)`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      printError({ code: 'INVALID_INPUT', message: e.message, hint: 'See bootchain --help.', retryable: false }, json);
      return 2;
    }
    const a = isAppError(e) ? e : toAppError(e);
    printError(a, json);
    return a.code === 'INVALID_INPUT' || a.code === 'NEEDS_CONFIRMATION' ? 2 : 1;
  }
}

// `bootchain discover ... | head` closes our stdout early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`bootchain: ${String(e)}\n`);
    process.exitCode = 1;
  },
);
