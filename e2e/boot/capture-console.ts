/**
 * Records real QEMU serial consoles as fixtures for the VM console parser's unit test
 * (electron/services/vm/fixtures/). Run inside the lab:
 *   BOOTCHAIN_LAB_PREFIX=bcv npx tsx e2e/lab/cli.ts run -- npx tsx e2e/boot/capture-console.ts [case...]
 * Each case boots QEMU (TCG) with QEMU's own iPXE NIC ROM (Debian ipxe-qemu), OVMF, Debian's
 * snponly.efi/undionly.kpxe, the lab's tgtd LUNs and dnsmasq, and saves the console byte for byte
 * (escape codes and all). Networks: QEMU user mode, the lab bridge, or a namespace made here.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateArtifacts } from '../../shared/gen/artifacts';
import { sampleProject } from '../../shared/gen/fixtures';
import { loadProject, type Project, type ProjectInput } from '../../shared/model/project';
import { qemuArgs, QEMU, type VmBootOptions } from '../../electron/services/vm/qemu';
import { servedFiles } from '../../electron/services/bootfiles/served';
import { BOOT_MARKER } from '../lab/disk-images';
import { addLabHost, currentLab, type LabInfo } from '../lab/lab';
import { withLabTap } from '../support/qemu';

const OUT = process.env.CAPTURE_OUT ?? path.join(__dirname, '../../electron/services/vm/fixtures');

type Ws = { name: string; mac: string; firmware: 'bios' | 'uefi'; target: string };

function project(ws: Ws, router?: ProjectInput['router']): Project {
  const p = loadProject(sampleProject({ name: `cap${ws.name}`, ...(router ? { router } : {}), workstations: [{ ...ws, lun: 1, initiatorIqn: `iqn.2026-11.test.bootchain:${ws.name}`, initramfs: 'genkernel' }] }));
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  return p.value;
}

/** Runs QEMU until it exits, `stopAfter` shows (then `linger` ms more), or `timeoutMs`; returns the raw console. */
function runQemu(args: string[], wrap: string[], o: { stopAfter?: RegExp; linger?: number; timeoutMs: number }): Promise<{ raw: Buffer; how: string; ms: number }> {
  const [cmd, ...pre] = [...wrap, QEMU];
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd!, [...pre, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let how = 'exited';
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      how = why;
      child.kill('SIGKILL');
    };
    const onData = (d: Buffer) => {
      chunks.push(d);
      if (o.stopAfter && !stopping && o.stopAfter.test(Buffer.concat(chunks).toString('latin1'))) setTimeout(() => stop('stopped after marker'), o.linger ?? 1500);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => stop('timeout'), o.timeoutMs);
    child.on('close', () => {
      clearTimeout(timer);
      resolve({ raw: Buffer.concat(chunks), how, ms: Date.now() - t0 });
    });
  });
}

function save(name: string, r: { raw: Buffer; how: string; ms: number }) {
  writeFileSync(path.join(OUT, name), r.raw);
  process.stdout.write(`${name}: ${r.raw.length} bytes, ${r.how} after ${r.ms} ms\n`);
}

const opts = (o: Partial<VmBootOptions> & Pick<VmBootOptions, 'firmware' | 'mac' | 'network'>): VmBootOptions => ({ timeoutMs: 0, ...o });

/** The app's dry run: QEMU's DHCP and TFTP serve the project's files (and a build's) from a fresh folder and give `bootfile`. */
async function dryRun(name: string, ws: Ws, o: { bootfile: string; buildDir?: string; stopAfter?: RegExp; linger?: number }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bootchain-cap-'));
  for (const [file, data] of Object.entries(servedFiles(project(ws), {}, o.buildDir).files)) writeFileSync(path.join(dir, file), data);
  try {
    const args = qemuArgs(opts({ firmware: ws.firmware, mac: ws.mac, network: { kind: 'user', tftpDir: dir, bootfile: o.bootfile } }));
    save(`${name}.console`, await runQemu(args, [], { ...(o.stopAfter ? { stopAfter: o.stopAfter } : {}), ...(o.linger ? { linger: o.linger } : {}), timeoutMs: 150000 }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The dry run with a real build of the sample project (BUILD_DIR: default options;
 * BUILD_DIR_SERIAL: built with serialConsole): QEMU's DHCP gives the built iPXE.
 */
function builtCase(env: 'BUILD_DIR' | 'BUILD_DIR_SERIAL', name: string, ws: Ws, bootfile: string, stopAfter?: RegExp): Promise<void> {
  const buildDir = process.env[env];
  if (!buildDir) return Promise.resolve(void process.stdout.write(`${name}: skipped, ${env} is not set\n`));
  return dryRun(name, ws, { bootfile, buildDir, ...(stopAfter ? { stopAfter } : {}) });
}

const CASES: Record<string, (L: LabInfo) => Promise<void>> = {
  /** BIOS: the NIC ROM loads the built undionly.kpxe, its embedded script chains the scripts, SAN boot. */
  'bios-built-sanboot': (L) => builtCase('BUILD_DIR', 'bios-built-sanboot', { name: 'biosb', mac: '52:54:00:b0:07:28', firmware: 'bios', target: L.iscsi.targets.boot }, 'undionly.kpxe', new RegExp(BOOT_MARKER)),
  /** UEFI: the NIC ROM's iPXE loads the built snponly.efi, which SAN-boots the GRUB LUN; GRUB halts, QEMU exits. */
  'uefi-built-sanboot-exit': (L) => builtCase('BUILD_DIR', 'uefi-built-sanboot-exit', { name: 'uefib', mac: '52:54:00:b0:07:29', firmware: 'uefi', target: L.iscsi.targets.uefiBoot }, 'snponly.efi'),
  /** The same with CONSOLE_SERIAL: under SeaBIOS and OVMF each of its lines comes twice, interleaved. */
  'bios-built-serial-sanboot': (L) => builtCase('BUILD_DIR_SERIAL', 'bios-built-serial-sanboot', { name: 'biosb', mac: '52:54:00:b0:07:26', firmware: 'bios', target: L.iscsi.targets.boot }, 'undionly.kpxe', new RegExp(BOOT_MARKER)),
  'uefi-built-serial-sanboot-exit': (L) => builtCase('BUILD_DIR_SERIAL', 'uefi-built-serial-sanboot-exit', { name: 'uefib', mac: '52:54:00:b0:07:27', firmware: 'uefi', target: L.iscsi.targets.uefiBoot }, 'snponly.efi'),
  /** BIOS, QEMU's NIC ROM gets default.ipxe from QEMU's DHCP (the app's dry run), SAN boot of the marker LUN. */
  'bios-nicrom-sanboot': (L) => dryRun('bios-nicrom-sanboot', { name: 'c1', mac: '52:54:00:b0:07:21', firmware: 'bios', target: L.iscsi.targets.boot }, { bootfile: 'default.ipxe', stopAfter: new RegExp(BOOT_MARKER) }),
  /** BIOS dry run, SAN boot of a LUN whose first sector is empty: no disk code runs. */
  'bios-nicrom-emptylun': (L) => dryRun('bios-nicrom-emptylun', { name: 'c6', mac: '52:54:00:b0:07:2a', firmware: 'bios', target: L.iscsi.targets.empty }, { bootfile: 'default.ipxe', stopAfter: /No bootable device|iPXE>/, linger: 1000 }),
  /** UEFI (OVMF), the NIC ROM's iPXE gets default.ipxe (the app's dry run); GRUB on the LUN prints its marker and halts: QEMU exits. */
  'uefi-nicrom-sanboot-exit': (L) => dryRun('uefi-nicrom-sanboot-exit', { name: 'c2', mac: '52:54:00:b0:07:22', firmware: 'uefi', target: L.iscsi.targets.uefiBoot }, { bootfile: 'default.ipxe' }),
  /**
   * UEFI as a real workstation: no iPXE ROM on the NIC (romfile=), OVMF's own PXE asks the lab's
   * dnsmasq (the generated config) and loads Debian's snponly.efi, which gets default.ipxe, the
   * per-MAC script and SAN-boots the GRUB LUN; GRUB halts: QEMU exits right after the marker.
   */
  'uefi-snponly-sanboot-exit': async (L) => {
    const mac = '52:54:00:b0:07:23';
    const p = project({ name: 'c3', mac, firmware: 'uefi', target: L.iscsi.targets.uefiBoot }, { kind: 'dnsmasq', rootPath: '', subnet: { cidr: L.subnet, rangeStart: '10.77.0.176', rangeEnd: '10.77.0.178', interface: 'eth0' } });
    const g = generateArtifacts(p, {});
    if (!g.ok) throw new Error(JSON.stringify(g.errors));
    for (const f of ['default.ipxe', '52-54-00-b0-07-23.ipxe']) writeFileSync(path.join(L.nas.tftpRoot, f), g.files[f]!);
    copyFileSync('/usr/lib/ipxe/snponly.efi', path.join(L.nas.tftpRoot, 'snponly.efi'));
    const conf = path.join(L.dir, 'cap-dnsmasq.conf');
    writeFileSync(conf, `${g.files['dhcp/dnsmasq.conf']!}\ndhcp-host=${mac}\ndhcp-ignore=tag:!known\n`);
    const host = await addLabHost(L, 'capd', ['10.77.0.45']);
    try {
      host.daemon('dnsmasq', '/usr/sbin/dnsmasq', ['--keep-in-foreground', `--conf-file=${conf}`, '--port=0', '--user=root', '--log-dhcp', `--log-facility=${path.join(L.dir, 'cap-dnsmasq.log')}`, `--dhcp-leasefile=${path.join(L.dir, 'cap.leases')}`]);
      await new Promise((r) => setTimeout(r, 500));
      const tap = 'tapcap3';
      const args = qemuArgs(opts({ firmware: 'uefi', mac, network: { kind: 'tap', ifname: tap } })).map((a) => (a.startsWith('virtio-net-pci,') ? `${a},romfile=` : a));
      save('uefi-snponly-sanboot-exit.console', await withLabTap(L, tap, (wrap) => runQemu(args, wrap, { timeoutMs: 150000 })));
    } finally {
      await host.remove();
    }
  },
  /** BIOS NIC ROM on a tap in a namespace made here, with no DHCP server: "Configuring (net0 …)" and no "ok". */
  'bios-dhcp-noanswer': async () => {
    const ns = 'bcv-capiso';
    const ip = (a: string[]) => execFileSync('ip', a, { stdio: 'ignore' });
    try {
      ip(['netns', 'del', ns]);
    } catch {
      // not there
    }
    ip(['netns', 'add', ns]);
    try {
      ip(['-n', ns, 'tuntap', 'add', 'dev', 'tapiso', 'mode', 'tap']);
      ip(['-n', ns, 'link', 'set', 'tapiso', 'up']);
      const args = qemuArgs(opts({ firmware: 'bios', mac: '52:54:00:b0:07:24', network: { kind: 'tap', ifname: 'tapiso' } }));
      save('bios-dhcp-noanswer.console', await runQemu(args, ['ip', 'netns', 'exec', ns], { stopAfter: /No bootable device/, linger: 1000, timeoutMs: 120000 }));
    } finally {
      ip(['netns', 'del', ns]);
    }
  },
  /** BIOS, QEMU's DHCP gives everyone Debian's undionly.kpxe: the NIC ROM chains it, which asks DHCP and gets itself again (the DHCP loop). */
  'bios-stock-undionly-loop': async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bootchain-cap-'));
    copyFileSync('/usr/lib/ipxe/undionly.kpxe', path.join(dir, 'undionly.kpxe'));
    try {
      const args = qemuArgs(opts({ firmware: 'bios', mac: '52:54:00:b0:07:25', network: { kind: 'user', tftpDir: dir, bootfile: 'undionly.kpxe', restrict: true } }));
      save('bios-stock-undionly-loop.console', await runQemu(args, ['unshare', '-n'], { timeoutMs: 30000 }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

async function main() {
  const L = currentLab();
  if (!L) throw new Error('run inside the lab: BOOTCHAIN_LAB_PREFIX=bcv npx tsx e2e/lab/cli.ts run -- npx tsx e2e/boot/capture-console.ts');
  const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(CASES);
  for (const n of names) {
    const c = CASES[n];
    if (!c) throw new Error(`no case ${n}: ${Object.keys(CASES).join(', ')}`);
    await c(L);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
