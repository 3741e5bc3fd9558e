import { copyFileSync, existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildIpxe } from '../../electron/services/build/builder';
import { verifyStation } from '../../electron/services/verify/verify';
import { embedScript } from '../../shared/gen/ipxe';
import { loadProject } from '../../shared/model/project';
import { chainProject, startChainLab } from '../lab/chain-lab';
import { labOrSkipReason } from '../support/lab-guard';
import { standInTree } from '../support/standin';

// Verify agrees with Build: the binary a build made (its sha256 in the build manifest) is
// Bootchain's own iPXE, carrying the project's script — never "stock iPXE" nor "a DHCP loop".
// With IPXE_SRC the binaries come from a real iPXE build; without it from the stand-in tree,
// which lays the script out as iPXE does (no terminator, data right after it).
const lab = labOrSkipReason('own-build.int.test.ts');
const SRC = process.env.IPXE_SRC && existsSync(path.join(process.env.IPXE_SRC, 'src/Makefile')) ? process.env.IPXE_SRC : undefined;
if (lab && !SRC) process.stdout.write('own-build.int.test.ts: IPXE_SRC unset, the stand-in tree builds the binaries (a real iPXE build runs where IPXE_SRC is set)\n');

describe.skipIf(!lab)('verify recognises Bootchain\'s own build', () => {
  if (!lab) return void it.skip('needs the lab (see the SKIP line above)', () => undefined);
  const L = lab;

  const cases = [
    { name: 'bios', n: 1, firmware: 'bios', file: 'undionly.kpxe' },
    { name: 'uefi', n: 2, firmware: 'uefi', file: 'snponly.efi' },
  ] as const;
  for (const c of cases) {
    it(`${c.name}: the served ${c.file} is the build's, its script the project's; a stale build is told apart`, { timeout: 600_000 }, async () => {
      const ip = `10.77.0.${150 + c.n}`;
      const input = chainProject(L, {
        name: `ob${c.name}`,
        ip,
        mac: `52:54:00:b0:15:0${c.n}`,
        target: c.firmware === 'uefi' ? L.iscsi.targets.gpt : L.iscsi.targets.boot,
        // A user-class whose script length hit the old read-back's blind spot.
        ws: { firmware: c.firmware, ...(c.firmware === 'uefi' ? { uefiFilename: '\\EFI\\BOOT\\BOOTX64.EFI' } : {}) },
      });
      (input as { boot?: Record<string, unknown> }).boot = { ...((input as { boot?: Record<string, unknown> }).boot ?? {}), userClass: 'hb-chain.8x' };
      const p = loadProject(input);
      if (!p.ok) throw new Error(JSON.stringify(p.errors));
      const out = mkdtempSync(path.join(os.tmpdir(), 'bc-own-build-'));
      const target = c.firmware === 'uefi' ? 'bin-x86_64-efi/snponly.efi' : 'bin/undionly.kpxe';
      const build = (embed: string) =>
        buildIpxe(
          { engine: 'local', sourceDir: SRC ?? standInTree({ objects: 2 }), sourceVersion: SRC ? 'IPXE_SRC' : 'stand-in', targets: [target], embed, options: {}, outDir: out, cacheDir: path.join(os.tmpdir(), SRC ? 'bootchain-ipxe-cache' : `bc-own-cache-${c.name}`) },
          { signal: new AbortController().signal, progress: () => undefined, log: () => undefined },
        );
      const r = await build(embedScript(p.value));
      expect(r.artifacts[0]!.embeddedVerified).toBe(true);
      const built = path.join(out, c.file);
      const chain = await startChainLab(L, { name: `ob${c.n}`, ip, project: input, tftp: (root) => copyFileSync(built, path.join(root, c.file)) });
      try {
        const v = await verifyStation(chain.project, chain.secrets, 'vm', { dhcp: true, dhcpWaitMs: 700, buildDir: out });
        const line = (id: string) => v.links.find((l) => l.id === id)!;
        process.stdout.write(`own build ${c.name} (${SRC ? 'real iPXE' : 'stand-in'}): ${v.links.map((l) => `${l.id}:${l.status}`).join(' ')}\n  bootfile: ${line('bootfile').summary}\n  embedded: ${line('embedded').summary}\n`);
        expect(line('bootfile')).toMatchObject({ status: 'pass', summary: expect.stringContaining("Bootchain's own build") });
        expect(line('embedded')).toMatchObject({ status: 'pass', summary: expect.stringContaining("is the project's") });
        expect(line('default').status).toBe('pass');

        // The project moves on (another user-class): the served binary is still the build's, and
        // its script is told apart from the project's — not taken for stock iPXE.
        const moved = { ...chain.project, boot: { ...chain.project.boot, userClass: 'hb-chain.9y' } };
        const v2 = await verifyStation(moved, chain.secrets, 'vm', { dhcp: false, dhcpWaitMs: 700, buildDir: out });
        const e2 = v2.links.find((l) => l.id === 'embedded')!;
        process.stdout.write(`  project changed: embedded ${e2.status}: ${e2.summary}\n`);
        expect(v2.links.find((l) => l.id === 'bootfile')!.status).toBe('pass');
        expect(e2.summary).not.toMatch(/Stock iPXE|DHCP loop/);
      } finally {
        await chain.stop();
      }
    });
  }
});
