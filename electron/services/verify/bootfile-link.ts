/**
 * The boot-file link: the firmware loads iPXE over TFTP from next-server. A file whose sha256 is
 * in the build manifest is Bootchain's own build, whatever its read-back finds.
 */
import path from 'node:path';
import { sha256 } from '../bootfiles/hash';
import { readManifest } from '../bootfiles/manifest';
import { readEmbeddedScript } from '../build/readback';
import { tftpGet } from '../tftp/client';
import { errCode, errText, type Walk } from './walk';

/** 2. The boot file over TFTP: sets walk.bin (and the manifest, and the build's artifact it is). */
export async function bootfileLink(walk: Walk): Promise<boolean> {
  const { nextServer, bootFile } = walk;
  let manifestProblem: string | undefined;
  try {
    walk.manifest = readManifest(walk.o.buildDir);
  } catch (e) {
    manifestProblem = errText(e);
  }
  const manifest = walk.manifest;
  try {
    const r = await tftpGet(nextServer, bootFile, { port: walk.tftpPort, timeoutMs: 800, retries: 2, blksize: 1432, ...(walk.o.signal ? { signal: walk.o.signal } : {}) });
    walk.bin = r.data;
    const sum = sha256(r.data);
    const ev = [`TFTP ${nextServer} ${bootFile}: ${r.data.length} bytes, blksize ${r.blksize}, sha256 ${sum}`];
    const built = manifest?.artifacts.find((a) => path.basename(a.file) === path.basename(bootFile));
    const own = (walk.own = manifest?.artifacts.find((a) => a.sha256 === sum));
    const rb = readEmbeddedScript(r.data);
    if (built) ev.push(`built ${built.file}: ${built.size} bytes, sha256 ${built.sha256}`);
    if (own && own !== built) ev.push(`same sha256 as ${own.file} of the build of ${manifest!.builtAt}`);
    if (manifestProblem) ev.push(manifestProblem);
    if (own) {
      walk.set('bootfile', 'pass', `${nextServer} serves ${bootFile}: Bootchain's own build (${own.file}, built ${manifest!.builtAt})`, ev);
    } else if (built) {
      walk.set('bootfile', 'fail', `The TFTP server serves a different ${bootFile} than the one built`, ev, 'Upload again (Upload step): the server holds an older or another iPXE.');
    } else if (!rb.ipxe) {
      walk.set('bootfile', 'warn', `${bootFile} is not an iPXE binary Bootchain recognises`, ev, `Serve iPXE (${walk.expectedFile}) as the boot file.`);
    } else {
      walk.set('bootfile', 'pass', `${nextServer} serves ${bootFile} (iPXE${rb.version ? ` ${rb.version}` : ''}, not built by this project)`, ev);
    }
    return true;
  } catch (e) {
    if (errCode(e) === 'CANCELLED') throw e;
    const code = errCode(e);
    const down = code === 'TIMEOUT';
    walk.set(
      'bootfile',
      'fail',
      down ? `The TFTP server ${nextServer} does not answer` : `${nextServer} has no ${bootFile}: ${errText(e)}`,
      [`TFTP ${nextServer} ${bootFile}: ${errText(e)}`],
      down ? `Start the TFTP service on ${nextServer} (and allow UDP 69 and the ports after it through its firewall).` : `Upload ${bootFile} into the TFTP root (Upload step), or fix the file name in the DHCP config.`,
    );
    walk.skipRest('embedded', 'not reached: iPXE could not be loaded');
    return false;
  }
}
