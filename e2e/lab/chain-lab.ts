/**
 * A boot chain in the lab for one virtual workstation: a lab host running dnsmasq with the
 * *generated* DHCP config (restricted to the workstation's MAC, so parallel tests never answer
 * each other's clients) and TFTP from its own root holding the generated scripts and a boot file;
 * the iSCSI side is the lab NAS's tgtd. Variants of the fault lab change one thing each.
 */
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateArtifacts } from '../../shared/gen/artifacts';
import { sampleProject } from '../../shared/gen/fixtures';
import { loadProject, type Project, type ProjectInput } from '../../shared/model/project';
import { addLabHost, type LabInfo } from './lab';

export interface ChainLab {
  project: Project;
  secrets: Record<string, string>;
  /** The generated files (before the variant changed any on the server). */
  files: Record<string, string>;
  tftpRoot: string;
  host: Awaited<ReturnType<typeof addLabHost>>;
  /**
   * Starts one more DHCP server for the same MAC on another lab host (the "second DHCP server"):
   * by default with the same generated config, or with `conf`, a stranger's own dnsmasq config
   * (the lines restricting it to this chain's workstations are added).
   */
  addRogueDhcp(ip: string, conf?: string): Promise<void>;
  stop(): Promise<void>;
}

export interface ChainLabSpec {
  /** 1-6 letters/digits: the lab host's name. */
  name: string;
  /** This host's address: DHCP server, TFTP server and the project's nas.address. */
  ip: string;
  project: ProjectInput;
  secrets?: Record<string, string>;
  /** The boot file served (default: Debian's undionly.kpxe, a stock iPXE). */
  bootFile?: string;
  /** Edits the generated dnsmasq config (a variant). */
  dnsmasq?: (conf: string) => string;
  /** Edits the TFTP root after the generated files are in place (a variant). */
  tftp?: (root: string, files: Record<string, string>) => void;
  /** No TFTP server at all (the "TFTP down" variant). */
  noTftp?: boolean;
}

export async function startChainLab(L: LabInfo, spec: ChainLabSpec): Promise<ChainLab> {
  const p = loadProject(spec.project);
  if (!p.ok) throw new Error(`chain lab ${spec.name}: ${JSON.stringify(p.errors)}`);
  const secrets = spec.secrets ?? {};
  const g = generateArtifacts(p.value, secrets);
  if (!g.ok) throw new Error(`chain lab ${spec.name}: ${JSON.stringify(g.errors)}`);
  const dir = path.join(L.dir, `chain-${spec.name}`);
  rmSync(dir, { recursive: true, force: true });
  const tftpRoot = path.join(dir, 'tftp');
  mkdirSync(tftpRoot, { recursive: true });
  for (const [f, text] of Object.entries(g.files)) if (f.endsWith('.ipxe') && !f.includes('/') && f !== 'embed.ipxe') writeFileSync(path.join(tftpRoot, f), text);
  copyFileSync(spec.bootFile ?? '/usr/lib/ipxe/undionly.kpxe', path.join(tftpRoot, p.value.boot.biosFile));
  copyFileSync('/usr/lib/ipxe/snponly.efi', path.join(tftpRoot, p.value.boot.uefiFile));
  spec.tftp?.(tftpRoot, g.files);
  const macs = p.value.workstations.map((w) => w.mac.toLowerCase());
  const restrict = ['', '# Test lab: answer only this chain\'s workstations.', ...macs.map((m) => `dhcp-host=${m}`), 'dhcp-ignore=tag:!known', ''].join('\n');
  const conf = (spec.dnsmasq ?? ((c) => c))(g.files['dhcp/dnsmasq.conf']!) + restrict;
  const start = async (hostName: string, ip: string, withTftp: boolean, text = conf) => {
    const h = await addLabHost(L, hostName, [ip]);
    const confFile = path.join(dir, `${hostName}.conf`);
    writeFileSync(confFile, text);
    h.daemon('dnsmasq', '/usr/sbin/dnsmasq', [
      '--keep-in-foreground',
      `--conf-file=${confFile}`,
      '--port=0',
      '--user=root',
      '--log-dhcp',
      `--log-facility=${path.join(dir, `${hostName}.log`)}`,
      `--dhcp-leasefile=${path.join(dir, `${hostName}.leases`)}`,
      ...(withTftp ? ['--enable-tftp', `--tftp-root=${tftpRoot}`] : []),
    ]);
    return h;
  };
  const host = await start(spec.name, spec.ip, !spec.noTftp);
  const extra: Array<Awaited<ReturnType<typeof addLabHost>>> = [];
  await new Promise((r) => setTimeout(r, 400));
  return {
    project: p.value,
    secrets,
    files: g.files,
    tftpRoot,
    host,
    addRogueDhcp: async (ip, own) => {
      extra.push(await start(`${spec.name.slice(0, 4)}r`, ip, false, own === undefined ? conf : own + restrict));
      await new Promise((r) => setTimeout(r, 400));
    },
    stop: async () => {
      for (const h of [host, ...extra]) await h.remove();
    },
  };
}

/**
 * A one-workstation project for a chain lab on `ip`: its DHCP/TFTP host is the project's NAS
 * address, the disk is on the lab NAS's tgtd (the workstation's portal).
 */
export function chainProject(L: LabInfo, o: { name: string; ip: string; mac: string; target: string; station?: string; ws?: Record<string, unknown> }): ProjectInput {
  return sampleProject({
    name: o.name,
    nas: { address: o.ip, iscsiPort: 3260, tftpRoot: '/srv/tftp' },
    router: { kind: 'dnsmasq', rootPath: '', subnet: { cidr: L.subnet, rangeStart: '10.77.0.180', rangeEnd: '10.77.0.199', interface: 'eth0' } },
    workstations: [
      {
        name: o.station ?? 'vm',
        mac: o.mac,
        firmware: 'bios',
        target: o.target,
        lun: 1,
        initiatorIqn: `iqn.2026-11.test.bootchain:${o.name}`,
        portals: [{ address: L.nas.ips[0]!, port: 3260 }],
        initramfs: 'genkernel',
        ...(o.ws ?? {}),
      },
    ],
  } as Partial<ProjectInput>);
}
