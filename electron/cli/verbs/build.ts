import { existsSync } from 'node:fs';
import path from 'node:path';
import type { BuildTargetName } from '../../../shared/build';
import { PROJECT_FLAG, projectFrom } from '../inputs';
import { verb } from '../options';
import { print, printJson } from '../render';
import { Session } from '../session';

export const build = verb({
  name: 'build',
  usage: ['build --project FILE'],
  summary: 'build iPXE with the embedded script (see "Building iPXE") into the project\'s build folder, where upload, verify and serve find it.',
  flags: [
    PROJECT_FLAG,
    { name: 'engine', value: 'podman|docker|local', help: 'how to build (default: the first that works here)', field: 'engine' },
    { name: 'source', value: 'DIR|TARBALL', help: 'iPXE source (default: $IPXE_SRC, else the pinned release, downloaded and verified)', field: 'source' },
    { name: 'targets', value: 'LIST', help: 'bios,uefi,ipxe-efi: bin/undionly.kpxe, bin-x86_64-efi/snponly.efi, bin-x86_64-efi/ipxe.efi (default bios)', field: 'targets' },
    { name: 'out', value: 'DIR', help: "where the binaries and manifest.json go (default: the project's build folder, `<data dir>/builds/<project>`)" },
    { name: 'serial', help: 'iPXE console on the serial port too', field: 'serialConsole' },
    { name: 'https', help: 'iPXE with HTTPS', field: 'https' },
    { name: 'base', value: 'IMAGE', help: 'base image of the build container (default: BOOTCHAIN_BUILD_BASE, else debian:bookworm-slim)' },
  ],
  async run(a) {
    const { raw } = projectFrom(a, 'build');
    const src = a.str('source') ?? process.env.IPXE_SRC;
    const source = !src ? { kind: 'release' as const } : { kind: existsSync(path.join(src, 'src', 'Makefile')) ? ('dir' as const) : ('tarball' as const), path: path.resolve(src) };
    const input = {
      project: raw,
      engine: a.str('engine') as 'podman' | 'docker' | 'local' | undefined,
      source,
      targets: (a.str('targets') ?? 'bios').split(',').map((t) => t.trim() as BuildTargetName),
      serialConsole: a.has('serial'),
      https: a.has('https'),
    };
    const out = a.str('out');
    const r = await new Session({ buildDir: out ? path.resolve(out) : undefined, base: a.str('base') }).job('build:start', input, { out: a, logs: 'error' });
    if (a.json) printJson(r);
    else {
      print(`${r.kind === 'full' ? 'built' : 'relinked'} with ${r.engine} from iPXE ${r.version} in ${(r.durationMs / 1000).toFixed(1)} s`);
      for (const x of r.artifacts) print(`  ${x.file}\t${x.size} bytes\tsha256 ${x.sha256}\t${x.embeddedVerified ? 'embedded script verified' : 'EMBEDDED SCRIPT DIFFERS'}`);
      print(`  manifest: ${r.manifest}`);
    }
    const unverified = r.artifacts.filter((x) => !x.embeddedVerified).map((x) => x.file);
    if (unverified.length > 0 && !a.json) {
      process.stderr.write(
        `bootchain build: the script asked for is not inside ${unverified.join(', ')} byte for byte, so this iPXE may not run the boot chain.\n` +
          '  Build again; if it happens again, build from the pinned release (this source handles EMBED differently), or use stock iPXE binaries (the generated DHCP config keeps them from looping).\n',
      );
    }
    return unverified.length === 0 ? 0 : 1;
  },
});
