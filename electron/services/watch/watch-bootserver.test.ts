import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SAMPLE_SECRETS, sampleProject } from '../../../shared/gen/fixtures';
import { loadProject } from '../../../shared/model/project';
import type { WatchItem } from '../../../shared/watch';
import { serveJob } from '../bootserver/job';
import { watchJob } from './watch-job';

const pexec = promisify(execFile);
const why = !existsSync('/usr/bin/tftp') ? 'the tftp client (tftp-hpa) is not installed' : !existsSync('/usr/bin/curl') ? 'curl is not installed' : undefined;
if (why) process.stdout.write(`SKIP watch-bootserver.test.ts: ${why}\n`);

// The app's own boot server and a watch in one process, on loopback: the watch reads the serve
// job's events (it does not bind the HTTP port a second time) and the markers arrive through the
// server's HTTP. The clients are real ones — tftp-hpa's `tftp` fetching the scripts, `curl`
// fetching the marker URLs exactly as the generated scripts name them (iPXE itself boots in
// e2e/watch/watch.int.test.ts).
describe.skipIf(!!why)("the watch and the app's own boot server", () => {
  it("the serve job's TFTP and marker events reach the watch's timeline; the markers' port is shared", { timeout: 30_000 }, async () => {
    const port = 18000 + Math.floor(Math.random() * 1000);
    const tftpPort = port + 1000;
    const p = loadProject(sampleProject({ boot: { biosFile: 'undionly.kpxe', uefiFile: 'snponly.efi', userClass: 'bootchain', watch: { markers: `http://127.0.0.1:${port}` } } }));
    if (!p.ok) throw new Error(JSON.stringify(p.errors));
    const root = mkdtempSync(path.join(os.tmpdir(), 'bc-watch-serve-'));
    const serving = new AbortController();
    let up!: () => void;
    const listening = new Promise<void>((r) => (up = r));
    const served = serveJob(
      { project: p.value, secrets: SAMPLE_SECRETS, root, address: '127.0.0.1', tftpPort, httpPort: port, proxyDhcp: false, stockBinaries: true },
      { signal: serving.signal, log: () => undefined, item: () => undefined, progress: () => up() },
    );
    await listening;
    const items: WatchItem[] = [];
    let watching!: () => void;
    const ready = new Promise<void>((r) => (watching = r));
    const stop = new AbortController();
    const w = p.value.workstations[0]!;
    const job = watchJob(
      { project: p.value, stations: [w], markers: { address: '127.0.0.1', port }, stallMs: 20_000, timeoutMs: 25_000, stop: stop.signal },
      { signal: new AbortController().signal, log: () => undefined, item: (i) => items.push(i), progress: (x) => (x.phase.startsWith('watching') ? watching() : undefined) },
    );
    try {
      await ready;
      const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-watch-get-'));
      const get = (f: string) => pexec('tftp', ['-m', 'binary', '127.0.0.1', String(tftpPort), '-c', 'get', f, path.join(dir, f)]);
      const mark = (m: string) => pexec('curl', ['-fsS', `http://127.0.0.1:${port}/watch/52-54-00-12-34-56/${m}`]);
      // The per-MAC file's TFTP names the MAC; the address it came from names the later lines.
      await mark('default');
      await get('default.ipxe');
      await get('52-54-00-12-34-56.ipxe');
      expect((await mark('fail-sanboot?e=0x2c0d603b')).stdout).toBe('#!ipxe\n');
      const report = await job;
      rmSync(dir, { recursive: true, force: true });
      expect(report.sources.find((s) => s.source === 'marker')).toMatchObject({ state: 'listening', detail: expect.stringContaining("through the boot server's HTTP") });
      expect(report.sources.find((s) => s.source === 'bootserver')).toMatchObject({ state: 'listening' });
      const t = report.stations[0]!;
      expect(t.stages.map((s) => [s.id, s.source])).toEqual([
        ['dhcp', 'marker'],
        ['bootfile', 'marker'],
        ['ipxe', 'marker'],
        ['ipxe-dhcp', 'marker'],
        ['default', 'marker'],
        ['station', 'bootserver'],
      ]);
      expect(t.stages.find((s) => s.id === 'station')!.evidence).toMatch(/^TFTP 52-54-00-12-34-56\.ipxe to 127\.0\.0\.1:\d+: done/);
      expect(t.stopped).toMatchObject({ stage: 'san-login', link: 'target', why: expect.stringMatching(/No such device \(ENODEV\) in the iSCSI session/) });
      expect(report.ended).toBe('all-done');
      expect(items.some((i) => i.type === 'event' && i.source === 'bootserver' && /default\.ipxe/.test(i.evidence))).toBe(true);
    } finally {
      stop.abort();
      await job.catch(() => undefined);
      serving.abort();
      await served;
      rmSync(root, { recursive: true, force: true });
    }
  });
});
