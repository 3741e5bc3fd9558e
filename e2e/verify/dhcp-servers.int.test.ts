import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from '../../electron/cli/run-cli';
import { ProxyDhcpServer } from '../../electron/services/bootserver/proxydhcp';
import { verifyStation } from '../../electron/services/verify/verify';
import { VerifyInput, type ChainLink, type LinkId, type VerifyResult } from '../../shared/verify';
import { chainProject, startChainLab } from '../lab/chain-lab';
import { addLabHost } from '../lab/lab';
import { labOrSkipReason } from '../support/lab-guard';

// Verify's DHCP link against several real DHCP servers (dnsmasq) and Bootchain's own proxyDHCP:
// whose offer is whose, who is named to be switched off, two boot servers at once, and where the
// DISCOVERs go (--interface) on a desk without a default route. Lab hosts .121-.126, MACs b0:15:*.
const lab = labOrSkipReason('dhcp-servers.int.test.ts');

const link = (r: VerifyResult, id: LinkId): ChainLink => r.links.find((l) => l.id === id)!;
const show = (what: string, r: VerifyResult) => {
  const d = link(r, 'dhcp');
  process.stdout.write(`${what} (${r.durationMs} ms): ${r.links.map((l) => `${l.id}:${l.status}`).join(' ')}\n  DHCP: ${d.summary}\n  fix: ${d.fix ?? ''}\n${d.evidence.map((e) => `  | ${e}`).join('\n')}\n`);
};

/** A stranger's own DHCP server: another PXE box (its own pxelinux.0, its TFTP switched off). */
const strangerConf = (ip: string) => ['interface=eth0', 'dhcp-range=10.77.0.200,10.77.0.220,255.255.255.0,1h', 'no-ping', `dhcp-boot=pxelinux.0,,${ip}`, ''].join('\n');

describe.skipIf(!lab)('verify: every DHCP server, and the right one blamed', () => {
  if (!lab) return void it.skip('needs the lab (see the SKIP line above)', () => undefined);
  const L = lab;

  it("two DHCP servers, the project's answering 2 s late: the stranger is named, the project's kept", { timeout: 90_000 }, async () => {
    const ip = '10.77.0.121';
    const stranger = '10.77.0.122';
    const project = chainProject(L, { name: 'dlate', ip, mac: '52:54:00:b0:15:01', target: L.iscsi.targets.boot });
    // A slow router: dnsmasq's own reply delay (the kernel here has no netem for `tc ... delay`).
    const chain = await startChainLab(L, { name: 'dlate', ip, project, dnsmasq: (c) => `${c}\ndhcp-reply-delay=2\n` });
    try {
      await chain.addRogueDhcp(stranger, strangerConf(stranger));
      // The contract's default window (what the Verify step uses), then a long one.
      const windows = [VerifyInput.parse({ project: {}, station: 'vm' }).dhcpWaitMs, 6000];
      for (const wait of windows) {
        const r = await verifyStation(chain.project, chain.secrets, 'vm', { dhcp: true, dhcpWaitMs: wait });
        show(`two servers, --dhcp-wait ${wait}`, r);
        const d = link(r, 'dhcp');
        expect(r.firstBroken).toBe('dhcp');
        expect(d.status).toBe('fail');
        // Both were seen: the late one too.
        expect(d.evidence.some((e) => e.startsWith(`offer from ${ip}`))).toBe(true);
        expect(d.evidence.some((e) => e.startsWith(`offer from ${stranger}`))).toBe(true);
        expect(d.summary).toMatch(/^2 DHCP servers answer: /);
        expect(d.summary).toContain(`${ip} (the project's NAS)`);
        expect(d.summary).toContain(`${stranger} (a stranger)`);
        // The stranger is the one to switch off; the project's server is named as the one that stays.
        expect(d.fix).toMatch(new RegExp(`switch off DHCP on ${stranger.replace(/\./g, '\\.')}\\b`));
        expect(d.fix).not.toMatch(new RegExp(`switch off DHCP on [^.;]*${ip.replace(/\./g, '\\.')}\\b`));
        expect(d.fix).toContain(`${ip} (the project's NAS)`);
        // The walk goes on with the project's server, not the stranger's TFTP.
        expect(link(r, 'bootfile').status).toBe('pass');
        expect(link(r, 'bootfile').summary).toContain(`${ip} serves`);
        expect(link(r, 'bootsector').status).toBe('pass');
      }
    } finally {
      await chain.stop();
    }
  });

  it("router PXE options pointing at the NAS while Bootchain's proxyDHCP points at this computer: the conflict is named", { timeout: 60_000 }, async () => {
    const ip = '10.77.0.123';
    const mac = '52:54:00:b0:15:02';
    const project = chainProject(L, { name: 'dboth', ip, mac, target: L.iscsi.targets.boot });
    const chain = await startChainLab(L, { name: 'dboth', ip, project });
    // Bootchain's own proxyDHCP, here on the desk (this computer), for this workstation only.
    const here = L.desk.ip;
    const proxy = new ProxyDhcpServer({ address: here, biosFile: 'undionly.kpxe', uefiFile: 'snponly.efi', ipxeFile: `http://${here}:8080/default.ipxe`, rootPath: `http://${here}:8080`, userClass: chain.project.boot.userClass, macs: [mac] });
    await proxy.start();
    try {
      const r = await verifyStation(chain.project, chain.secrets, 'vm', { dhcp: true, dhcpWaitMs: 3000 });
      show('router PXE + proxyDHCP', r);
      expect(proxy.stats.answered).toBeGreaterThan(0);
      const d = link(r, 'dhcp');
      expect(d.evidence.some((e) => e.startsWith(`proxyDHCP offer from ${here}`))).toBe(true);
      expect(r.firstBroken).toBe('dhcp');
      expect(d.status).toBe('fail');
      expect(d.summary).toMatch(/two boot servers/i);
      expect(d.summary).toContain(ip);
      expect(d.summary).toContain(here);
      expect(d.fix).toMatch(new RegExp(`remove the PXE options .*from the DHCP server ${ip.replace(/\./g, '\\.')}`));
      expect(d.fix).toMatch(/switch off proxyDHCP/);
      expect(d.fix).toMatch(/Serve from this computer/);
    } finally {
      await proxy.stop();
      await chain.stop();
    }
  });

  it('a desk without a default route: the error names --interface; --interface eth0 sends to its subnet broadcast', { timeout: 90_000 }, async (ctx) => {
    if (!existsSync(CLI)) {
      process.stdout.write(`SKIP dhcp-servers.int.test.ts --interface: ${CLI} is not built (npm run build)\n`);
      return ctx.skip();
    }
    const ip = '10.77.0.126';
    const project = chainProject(L, { name: 'droute', ip, mac: '52:54:00:b0:15:03', target: L.iscsi.targets.boot });
    const chain = await startChainLab(L, { name: 'droute', ip, project });
    // A second desk with an address on the lab and no route at all beyond its own subnet.
    const desk = await addLabHost(L, 'dnort', ['10.77.0.125']);
    try {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-verify-iface-'));
      const file = path.join(dir, 'project.json');
      writeFileSync(file, JSON.stringify(project));
      const cli = (args: string[]) =>
        new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
          execFile('ip', ['netns', 'exec', desk.ns, process.execPath, CLI, 'verify', '--project', file, '--station', 'vm', '--dhcp-wait', '2000', ...args], { env: { ...process.env, BOOTCHAIN_DATA_DIR: dir }, timeout: 60_000 }, (e, stdout, stderr) =>
            resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, stdout, stderr }),
          );
        });
      const noRoute = await cli([]);
      process.stdout.write(`no route:\n${noRoute.stdout}${noRoute.stderr}\n`);
      expect(noRoute.stdout).toMatch(/^FAIL  DHCP +DHCP could not be probed: no route for the DHCP broadcast/m);
      expect(noRoute.stdout).toMatch(/fix: .*--interface NAME.*Verify step/);
      expect(noRoute.stdout + noRoute.stderr).not.toContain('ENETUNREACH');
      const chosen = await cli(['--interface', 'eth0', '--verbose']);
      process.stdout.write(`--interface eth0:\n${chosen.stdout}${chosen.stderr}\n`);
      expect(chosen.stdout).toMatch(/^PASS  DHCP /m);
      expect(chosen.stdout).toContain('to 10.77.0.255 (eth0)');
      expect(chosen.code).toBe(0);
      const unknown = await cli(['--interface', 'nosuch0']);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/--interface: there is no interface "nosuch0".*eth0/);
    } finally {
      await desk.remove();
      await chain.stop();
    }
  });
});
