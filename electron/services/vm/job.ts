/**
 * The VM test boot job: for the user-mode dry run, the project's served files (scripts and the
 * built iPXE, else QEMU's own iPXE ROM starts default.ipxe directly) go into a temporary TFTP
 * folder; for a tap device, the real DHCP and TFTP servers answer. Stages stream as job items.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fail } from '../../../shared/errors';
import type { Secrets } from '../../../shared/gen/artifacts';
import type { Project } from '../../../shared/model/project';
import type { VmBootResult, VmStage } from '../../../shared/vm';
import { uploadFiles } from '../upload/job';
import { vmBoot, type VmNetwork } from './qemu';

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

export async function vmBootJob(req: VmJobRequest, ctx: { signal: AbortSignal; log(line: string): void; item(s: VmStage): void; progress(p: { phase: string }): void }): Promise<VmBootResult> {
  const w = req.project.workstations.find((x) => x.name === req.station);
  if (!w) fail('NOT_FOUND', `The project has no workstation "${req.station}"`, { field: 'station' });
  let dir: string | undefined;
  let network: VmNetwork;
  if (req.network.kind === 'user') {
    dir = mkdtempSync(path.join(os.tmpdir(), 'bootchain-vm-'));
    const { files } = uploadFiles(req.project, req.secrets, req.buildDir);
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
