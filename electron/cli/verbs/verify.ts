import path from 'node:path';
import { DHCP_WAIT_MS, reportMarkdown, type VerifyResult } from '../../../shared/verify';
import { VM_STAGES, type VmBootResult } from '../../../shared/vm';
import { PROJECT_FLAG, projectFrom, projectSecrets, SECRETS_FLAG } from '../inputs';
import { usage, verb } from '../options';
import { print, printJson } from '../render';
import { Session } from '../session';

const MARK = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'skip' } as const;

function printReport(r: VerifyResult, evidence: boolean): void {
  for (const l of [...r.links, { title: 'Identity', ...r.identity }]) {
    print(`${MARK[l.status]}  ${l.title.padEnd(18)} ${l.summary}`);
    if (l.fix && l.status !== 'pass') print(`      fix: ${l.fix}`);
    if (evidence) for (const e of l.evidence) print(`      | ${e}`);
  }
  print(r.ok ? `every link holds (${r.durationMs} ms)` : `the boot stops at ${r.links.find((l) => l.id === r.firstBroken)?.title ?? 'the identity check'} (${r.durationMs} ms)`);
}

function printVm(vm: VmBootResult): void {
  print(`VM test boot: reached "${vm.stages.at(-1)?.what ?? 'nothing'}" (${vm.ended}, ${(vm.durationMs / 1000).toFixed(1)} s)`);
  if (vm.failure) print(`  stopped at "${VM_STAGES.find((s) => s.id === vm.failure!.stage)?.what ?? vm.failure.stage}": ${vm.failure.line}${vm.failure.why ? ` (${vm.failure.why})` : ''}`);
  for (const x of vm.ipxe ?? []) print(`  iPXE that ran: ${x.what}`);
}

export const verify = verb({
  name: 'verify',
  usage: ['verify --project FILE --station NAME'],
  summary:
    "walk the workstation's boot chain against the live servers and print each link with PASS/WARN/FAIL and its fix; exit 1 when a link fails (see \"Verifying the boot chain\").",
  about:
    'As its firmware and iPXE would: DHCP (as the firmware and as iPXE; nothing is leased), the boot file over TFTP, the embedded script, default.ipxe, the per-MAC script, the iSCSI portal, a login as the workstation, its LUN and boot sector, the kernel parameters. DHCP needs UDP port 68: run as root or grant cap_net_bind_service; without it the DHCP link is skipped with that reason and the rest is still checked.',
  flags: [
    PROJECT_FLAG,
    { name: 'station', value: 'NAME', help: 'the workstation (default: the only one)', field: 'station' },
    SECRETS_FLAG,
    { name: 'build', value: 'DIR', help: "a build folder (manifest.json) to compare the served boot file with instead of the project's" },
    { name: 'kernel-cmdline', value: 'TEXT', help: 'the kernel command line in use (default: the generated one)', field: 'kernelCmdline' },
    { name: 'no-dhcp', help: 'do not send DHCP (next-server and boot file from the project)' },
    {
      name: 'dhcp-wait',
      value: 'MS',
      help: `collect DHCP offers for at most MS per DISCOVER (default ${DHCP_WAIT_MS}); the wait ends sooner once the project's server has answered and no new offer came for 0.5 s, so a slow router is heard beside a fast stranger`,
      field: 'dhcpWaitMs',
    },
    { name: 'interface', value: 'NAME', help: "send the DISCOVERs out of NAME, to its subnet's broadcast address (a computer with several networks, or none with a default route)", field: 'interface' },
    { name: 'markdown', help: 'print the report as Markdown' },
    { name: 'vm', help: 'then test-boot the workstation in QEMU (BIOS: SeaBIOS, UEFI: OVMF) and print how far it got (firmware, iPXE, DHCP, scripts, SAN boot, the disk)' },
    {
      name: 'vm-net',
      value: 'user|tap:IFNAME',
      help: "user: QEMU's own DHCP/TFTP serve the project's files, the NAS is reached through QEMU's NAT (offline dry run; default); tap:IFNAME: an existing tap device on the LAN bridge, so the real DHCP/TFTP servers answer",
      field: 'network',
    },
    { name: 'vm-timeout', value: 'S', help: 'give up the test boot after S seconds, 10 to 900 (default 180)', field: 'timeoutMs' },
  ],
  async run(a) {
    const { raw, project: p } = projectFrom(a, 'verify');
    const station = a.str('station') ?? (p.workstations.length === 1 ? p.workstations[0]!.name : undefined);
    if (!station) throw usage(`verify needs --station NAME (${p.workstations.map((w) => w.name).join(', ')})`);
    const netText = a.str('vm-net') ?? 'user';
    const tap = /^tap:(.+)$/.exec(netText);
    if (netText !== 'user' && !tap) throw usage('--vm-net is user or tap:IFNAME');
    // Asked once, for the walk and the VM boot (the whole project's files are compared with what is served).
    const secrets = await projectSecrets(a, p);
    const build = a.str('build');
    const s = new Session({ buildDir: build ? path.resolve(build) : undefined, secrets });
    const live = !a.json && !a.quiet && !a.has('markdown') && process.stderr.isTTY;
    const iface = a.str('interface');
    const input = { project: raw, station, kernelCmdline: a.str('kernel-cmdline'), dhcp: !a.has('no-dhcp'), dhcpWaitMs: a.int('dhcp-wait'), ...(iface !== undefined ? { interface: iface } : {}) };
    const r = await s.job('verify:start', input, { out: a, logs: 'verbose', item: (l) => live && process.stderr.write(`  ${l.title}: ${l.status}\r\x1b[K`) });
    if (a.json) printJson(r);
    else if (a.has('markdown')) process.stdout.write(reportMarkdown(r));
    else printReport(r, a.verbose);
    if (!a.has('vm')) return r.ok ? 0 : 1;
    const timeout = a.int('vm-timeout');
    const network = tap ? { kind: 'tap' as const, ifname: tap[1]! } : { kind: 'user' as const };
    const vm = await s.job('vm:boot', { project: raw, station, network, timeoutMs: (timeout ?? 180) * 1000 }, {
      out: a,
      logs: 'all',
      item: (st) => !a.json && !a.quiet && process.stderr.write(`  VM ${(st.atMs / 1000).toFixed(1)} s: ${st.what} — ${st.line}\n`),
    });
    if (a.json) printJson({ vm: { ...vm, console: vm.console.slice(-4096) } });
    else printVm(vm);
    return r.ok && ['sanboot', 'booted'].includes(vm.reached) ? 0 : 1;
  },
});
