/**
 * "Serve from this computer": the project's served set (bootfiles/served) is placed in the
 * workspace's serve folder (atomic writes), then served over TFTP, HTTP and optionally proxyDHCP
 * until the job is cancelled. Every request is a job item (the live panel).
 */
import { mkdirSync } from 'node:fs';
import type { ServeOptions, ServeResult } from '../../../shared/bootserver';
import type { Secrets } from '../../../shared/gen/artifacts';
import { parseMac } from '../../../shared/model/mac';
import type { Project } from '../../../shared/model/project';
import type { JobContext } from '../jobs/runner';
import { placeFiles, servedFiles } from '../bootfiles/served';
import { BootServer } from './server';
import { bootEvents, registerServing } from './events';

/** The project's workstation MACs, canonical: the only clients its proxyDHCP answers. */
export const projectMacs = (p: Project): string[] => p.workstations.map((w) => parseMac(w.mac)).flatMap((m) => (m.ok ? [m.value] : []));

export async function serveJob(
  req: { project: Project; secrets: Secrets; buildDir?: string | undefined; root: string; stockBinaries?: boolean } & Pick<ServeOptions, 'address' | 'tftpPort' | 'httpPort' | 'proxyDhcp'>,
  ctx: Pick<JobContext<'serve'>, 'signal' | 'log' | 'item' | 'progress'>,
): Promise<ServeResult> {
  const t0 = Date.now();
  const { files, notes } = servedFiles(req.project, req.secrets, req.buildDir, req.stockBinaries ? {} : undefined);
  for (const n of notes) ctx.log(n, 'warn');
  mkdirSync(req.root, { recursive: true });
  const placed = placeFiles(req.root, files);
  ctx.log(`serving ${Object.keys(files).length} files from ${req.root} (${placed.add.length} new, ${placed.change.length} changed)`);
  const server = new BootServer(
    { root: req.root, address: req.address, tftpPort: req.tftpPort, httpPort: req.httpPort, proxyDhcp: req.proxyDhcp, biosFile: req.project.boot.biosFile, uefiFile: req.project.boot.uefiFile, userClass: req.project.boot.userClass, macs: projectMacs(req.project) },
    (e) => {
      ctx.item(e);
      bootEvents.emit('event', e);
    },
  );
  const where = await server.start();
  const unregister = registerServing({ address: req.address, tftpPort: req.tftpPort, httpPort: req.httpPort, proxyDhcp: req.proxyDhcp });
  ctx.progress({ phase: `serving on ${where.tftp}${where.http ? ` and ${where.http}` : ''}` });
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) return resolve();
    ctx.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  const stats = { served: (server.tftp?.stats.served ?? 0) + (server.http?.stats.served ?? 0), bytes: (server.tftp?.stats.bytes ?? 0) + (server.http?.stats.bytes ?? 0), failed: (server.tftp?.stats.failed ?? 0) + (server.http?.stats.failed ?? 0) };
  unregister();
  await server.stop();
  return { root: req.root, tftp: where.tftp, http: where.http, ...stats, durationMs: Date.now() - t0 };
}
