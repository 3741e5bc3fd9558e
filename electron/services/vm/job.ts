/**
 * The VM test boot job: for the user-mode dry run, the project's served files (scripts and the
 * built iPXE, else QEMU's own iPXE ROM starts default.ipxe directly) go into a temporary TFTP
 * folder; for a tap device, the real DHCP and TFTP servers answer. Stages stream as job items.
 * What is known about the iPXE binaries that may run (the build's files and sha256s, the
 * versions of Debian's iPXE and of QEMU's NIC ROM) goes to the console reader, which says which ran.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fail } from '../../../shared/errors';
import type { Secrets } from '../../../shared/gen/artifacts';
import type { Project } from '../../../shared/model/project';
import type { VmBootResult, VmStage } from '../../../shared/vm';
import { embedScript } from '../../../shared/gen/ipxe';
import { sha256 } from '../bootfiles/hash';
import { servedFiles } from '../bootfiles/served';
import { ipxeVersionIn, type ConsoleContext } from './console';
import { vmBoot, type VmNetwork } from './qemu';

/** Where Debian keeps QEMU's NIC ROMs (package ipxe-qemu) and its iPXE binaries (package ipxe). */
const QEMU_ROMS = '/usr/lib/ipxe/qemu';
const DEBIAN_IPXE = ['/usr/lib/ipxe/snponly.efi', '/usr/lib/ipxe/ipxe.efi'];

/** The banner version of the first of these iPXE binaries that exists and stores it uncompressed. */
function versionOf(files: string[]): string | undefined {
  for (const f of files) {
    const v = existsSync(f) ? ipxeVersionIn(readFileSync(f)) : undefined;
    if (v) return v;
  }
  return undefined;
}

/** What the console reader needs to tell the NIC ROM, Bootchain's build and a stock iPXE apart. */
function consoleContext(req: VmJobRequest, firmware: 'bios' | 'uefi', files: Record<string, Buffer>, served: boolean): ConsoleContext {
  const binaries = Object.entries(files).filter(([name]) => !name.endsWith('.ipxe'));
  let embedEcho: string | undefined;
  try {
    embedEcho = embedScript(req.project)
      .split('\n')
      .find((l) => l.startsWith('echo ') && !l.includes('${'))
      ?.slice(5);
  } catch {
    // a project whose script cannot be written has no build to recognise either
  }
  return {
    embedEcho,
    known: {
      // QEMU gives the e1000 and virtio-net NICs these ROMs (their EFI part keeps the version readable).
      nicRom: versionOf([`${QEMU_ROMS}/${firmware === 'uefi' ? 'efi-virtio.rom' : 'efi-e1000.rom'}`]),
      debian: versionOf(DEBIAN_IPXE),
      built: binaries.map(([, data]) => ipxeVersionIn(data)).find((v) => v !== undefined),
    },
    // servedFiles took the binaries from the build folder only after checking them against its manifest.
    manifest: binaries.map(([file, data]) => ({ file, sha256: sha256(data) })),
    served: served ? Object.fromEntries(Object.entries(files).map(([name, data]) => [name, sha256(data)])) : undefined,
  };
}

export interface VmJobRequest {
  project: Project;
  secrets: Secrets;
  station: string;
  network: { kind: 'user' } | { kind: 'tap'; ifname: string };
  buildDir?: string | undefined;
  timeoutMs: number;
  until?: RegExp | undefined;
  wrap?: string[] | undefined;
}

/** On a tap the LAN's servers serve: the build's files only help to recognise its iPXE, so a project that cannot be generated still boots. */
function tapFiles(req: VmJobRequest): Record<string, Buffer> {
  try {
    return servedFiles(req.project, req.secrets, req.buildDir).files;
  } catch {
    return {};
  }
}

export async function vmBootJob(req: VmJobRequest, ctx: { signal: AbortSignal; log(line: string): void; item(s: VmStage): void; progress(p: { phase: string }): void }): Promise<VmBootResult> {
  const w = req.project.workstations.find((x) => x.name === req.station);
  if (!w) fail('NOT_FOUND', `The project has no workstation "${req.station}"`, { field: 'station' });
  let dir: string | undefined;
  let network: VmNetwork;
  const files = req.network.kind === 'user' ? servedFiles(req.project, req.secrets, req.buildDir).files : tapFiles(req);
  if (req.network.kind === 'user') {
    dir = mkdtempSync(path.join(os.tmpdir(), 'bootchain-vm-'));
    for (const [name, data] of Object.entries(files)) writeFileSync(path.join(dir, name), data);
    const built = w.firmware === 'uefi' ? req.project.boot.uefiFile : req.project.boot.biosFile;
    // With a built iPXE, boot it (its embedded script runs); else QEMU's NIC ROM — a stock iPXE —
    // gets default.ipxe straight from QEMU's DHCP, as the generated router rule would give it.
    const bootfile = files[built] ? built : 'default.ipxe';
    network = { kind: 'user', tftpDir: dir, bootfile };
    ctx.log(`user-mode network: QEMU's DHCP gives ${bootfile} from ${dir} (${Object.keys(files).join(', ')})`);
  } else {
    network = req.network;
    ctx.log(`tap ${req.network.ifname}: the LAN's DHCP and TFTP servers answer`);
  }
  ctx.progress({ phase: `booting ${w.name} (${w.firmware.toUpperCase()}, ${w.mac}) in QEMU` });
  try {
    return await vmBoot({
      firmware: w.firmware,
      mac: w.mac.toLowerCase().replace(/-/g, ':'),
      network,
      timeoutMs: req.timeoutMs,
      until: req.until,
      console: consoleContext(req, w.firmware, files, req.network.kind === 'user'),
      signal: ctx.signal,
      wrap: req.wrap,
      onStage: (s) => {
        ctx.item(s);
        ctx.progress({ phase: s.what });
      },
    });
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
