import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIpxe } from '../../electron/services/build/builder';
import { findIpxeErrors } from '../../electron/services/watch/ipxe-errors';
import { classifyIpxeLine } from '../../electron/services/watch/ipxe-lines';
import { findOvmf } from '../../electron/services/vm/qemu';
import { linkCheck } from '../../electron/services/watch/start';
import { watchJob } from '../../electron/services/watch/watch-job';
import { embedScript } from '../../shared/gen/ipxe';
import { loadProject } from '../../shared/model/project';
import type { WatchItem, WatchReport } from '../../shared/watch';
import { verdictOf } from '../../shared/watch';
import { BOOT_MARKER, UEFI_BOOT_MARKER } from '../lab/disk-images';
import type { LabInfo } from '../lab/lab';
import { labOrSkipReason } from '../support/lab-guard';
import { haveQemu } from '../support/qemu';
import { startSyslogReceiver, type SyslogEvent } from '../../electron/services/watch/syslog';
import { startWatchLab, testWatchContext, watchProject, type WatchLabSpec } from './watch-lab';

// The watch's syslog source end to end: a real iPXE built from IPXE_SRC by Bootchain's builder
// (CONSOLE_SYSLOG on, BIOS included), its embedded script the project's (set syslog <desk>), booted
// by QEMU's NIC ROM on the lab bridge; the watch runs with nothing but its syslog receiver on UDP 514
// (no markers in the scripts, no DHCP listener, no NAS polling), so every stage it reports came
// from iPXE's own console lines.
const FILE = 'syslog-built.int.test.ts';
const lab = labOrSkipReason(FILE);
const SRC = process.env.IPXE_SRC && existsSync(path.join(process.env.IPXE_SRC, 'src/Makefile')) ? process.env.IPXE_SRC : undefined;
const why = !SRC ? 'IPXE_SRC is not set (an iPXE source tree with src/Makefile: the stock and NIC-ROM iPXEs have no syslog console)' : !haveQemu() ? 'QEMU is not installed' : undefined;
if (lab && why) process.stdout.write(`SKIP ${FILE}: ${why}\n`);

/** A syslog-only watched chain: markers off, iPXE's lines to the desk. */
const specOf = (L: LabInfo, name: string, n: number, target: string, firmware: 'bios' | 'uefi' = 'bios'): WatchLabSpec => ({
  name,
  ip: `10.77.0.${170 + n}`,
  mac: `52:54:00:b0:1a:0${n}`,
  markersPort: 0,
  firmware,
  target,
  watch: { syslog: L.desk.ip },
  // QEMU's NIC ROM is an iPXE itself: the generated config gives any iPXE default.ipxe at once, so
  // the ROM would run the scripts without our build. Here an iPXE that is not ours (no user-class
  // "bootchain") gets the built undionly.kpxe instead; ours, which sets the user-class, still gets
  // default.ipxe from the generated `dhcp-boot=tag:bootchain,…` line.
  dnsmasq: (conf) => {
    const from = `dhcp-boot=tag:ipxe,default.ipxe,,10.77.0.${170 + n}`;
    if (!conf.includes(from)) throw new Error(`the generated dnsmasq config has no "${from}" line any more: update this test's edit`);
    return conf.replace(from, `dhcp-boot=tag:ipxe,tag:!bootchain,undionly.kpxe,,10.77.0.${170 + n}`);
  },
});

describe.skipIf(!lab || !!why)('the watch reads a built iPXE\'s own syslog lines', () => {
  if (!lab || why) return void it.skip('needs the lab, IPXE_SRC and QEMU (see the SKIP line above)', () => undefined);
  const L = lab;
  const out = mkdtempSync(path.join(os.tmpdir(), 'bc-syslog-built-'));
  const built = path.join(out, 'undionly.kpxe');
  const noUefi = L.iscsi.uefiBootMissing ? `the lab has no UEFI boot LUN: ${L.iscsi.uefiBootMissing}` : !findOvmf() ? 'OVMF is not installed (apt-get install ovmf)' : undefined;
  if (noUefi) process.stdout.write(`SKIP ${FILE} UEFI: ${noUefi}\n`);

  /** Builds one target with the project's embedded script (the same for every case: same router, same boot settings). */
  async function build(target: 'bin/undionly.kpxe' | 'bin-x86_64-efi/snponly.efi') {
    const p = loadProject(watchProject(L, specOf(L, 'slb', 1, L.iscsi.targets.boot)));
    if (!p.ok) throw new Error(JSON.stringify(p.errors));
    const embed = embedScript(p.value);
    expect(embed).toContain(`set syslog ${L.desk.ip}`);
    expect(embed).not.toContain('imgfetch');
    const r = await buildIpxe(
      { engine: 'local', sourceDir: SRC!, sourceVersion: 'IPXE_SRC', targets: [target], embed, options: {}, outDir: out, cacheDir: path.join(os.tmpdir(), 'bootchain-ipxe-cache') },
      { signal: new AbortController().signal, progress: () => undefined, log: () => undefined },
    );
    expect(r.artifacts[0]!.embeddedVerified).toBe(true);
  }
  beforeAll(() => build('bin/undionly.kpxe'), 900_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  /** One watched boot: the watch (syslog only) and the VM; the report, the items and the VM's console. */
  async function watchOne(spec: WatchLabSpec, o: { until?: RegExp; vmTimeoutMs: number }) {
    // OVMF's PXE is not iPXE: it gets snponly.efi by the generated rules, the build's in place of the stock one.
    const file = spec.firmware === 'uefi' ? 'snponly.efi' : 'undionly.kpxe';
    const wl = await startWatchLab(L, { ...spec, tftp: (root) => copyFileSync(path.join(out, file), path.join(root, file)) });
    const { ctx, items, listening } = testWatchContext();
    const stop = new AbortController();
    const vmStop = new AbortController();
    try {
      const watching = watchJob(
        {
          project: wl.project,
          stations: wl.project.workstations,
          syslog: { address: L.desk.ip, port: 514 },
          stallMs: 60_000,
          timeoutMs: o.vmTimeoutMs + 30_000,
          check: (w, link, signal) => linkCheck(wl.project, wl.secrets, w, link, { signal }),
          stop: stop.signal,
        },
        ctx,
      );
      await listening;
      const vm = wl.boot({ timeoutMs: o.vmTimeoutMs, until: o.until, signal: vmStop.signal }).catch((e: unknown) => ({ console: `(the VM failed: ${String(e)})` }));
      // A boot that stops ends the watch by itself; one that boots has no later stage without an OS
      // disk (no NAS polling here), so the watch is stopped once the VM saw the disk's marker.
      const first = await Promise.race([watching.then(() => 'watch' as const), vm.then(() => 'vm' as const)]);
      if (first === 'vm') {
        await new Promise((r) => setTimeout(r, 2000));
        stop.abort();
      }
      const report = await watching;
      vmStop.abort();
      const boot = await vm;
      return { report, items, console: boot.console };
    } finally {
      vmStop.abort();
      await wl.stop();
    }
  }

  /** Prints the iPXE lines the watch took from syslog, the drops and the stage list. */
  const print = (name: string, r: WatchReport, items: WatchItem[]) => {
    const lines = items.flatMap((i) => (i.type === 'event' && i.source === 'syslog' ? [`  ${(i.at / 1000).toFixed(1)}s ${i.station ?? '(no station)'}${i.stage ? ` [${i.stage}]` : ''}: ${i.evidence}`] : []));
    const t = r.stations[0]!;
    process.stdout.write(
      `syslog-built ${name}: ${lines.length} iPXE lines received, dropped ${JSON.stringify(r.dropped)}; sources ${r.sources.map((s) => `${s.source}:${s.state}`).join(' ')}\n${lines.join('\n')}\n` +
        `  verdict ${verdictOf(t)} (ended ${r.ended}); stages ${t.stages.map((s) => `${s.id}@${(s.at / 1000).toFixed(1)}s(${s.source})`).join(' ')}\n` +
        `${t.stopped ? `  stopped at ${t.stopped.link} (${t.stopped.stage}): ${t.stopped.why}\n  check: ${t.stopped.check?.status} ${t.stopped.check?.summary}${t.stopped.check?.fix ? `\n  fix: ${t.stopped.check.fix}` : ''}\n` : ''}`,
    );
    return lines;
  };

  const HEALTHY = [
    { name: 'bios', n: 1, firmware: 'bios' as const, marker: BOOT_MARKER, skip: undefined },
    { name: 'uefi', n: 4, firmware: 'uefi' as const, marker: UEFI_BOOT_MARKER, skip: noUefi },
  ];
  for (const h of HEALTHY) {
    it.skipIf(!!h.skip)(`healthy ${h.name.toUpperCase()} boot, markers off: every iPXE stage from its own lines, tied to the station by its hostname`, { timeout: 600_000 }, async () => {
      if (h.firmware === 'uefi') await build('bin-x86_64-efi/snponly.efi');
      const spec = specOf(L, `slok${h.n}`, h.n, h.firmware === 'uefi' ? L.iscsi.targets.uefiBoot : L.iscsi.targets.boot, h.firmware);
      const { report, items, console: screen } = await watchOne(spec, { until: new RegExp(h.marker), vmTimeoutMs: 180_000 });
      print(`healthy ${h.name}`, report, items);
      const t = report.stations[0]!;
      try {
        expect(report.sources.find((s) => s.source === 'syslog')).toMatchObject({ state: 'listening' });
        expect(report.sources.find((s) => s.source === 'marker')?.state).toBe('off');
        expect(screen).toContain(h.marker);
        expect(t.stopped).toBeUndefined();
        const ids = t.stages.map((x) => x.id);
        for (const id of ['ipxe', 'ipxe-dhcp', 'default', 'station', 'san-login', 'san-boot'] as const) expect(ids).toContain(id);
        expect(t.stages.every((x) => x.source === 'syslog')).toBe(true);
        // Seen, not implied: each of these stages has one of iPXE's own lines as its evidence. The
      // DHCP, default.ipxe and per-MAC fetch lines go out before the per-MAC script's `set hostname`,
      // so they carry no hostname (the raw case below): a watch that drops unnamed lines fails here.
        // iPXE's banner goes out before its embedded script turns the syslog console on: "running" is
        // implied by its DHCP line. Every later stage was on the wire (see the raw case below).
        for (const id of ['ipxe-dhcp', 'default', 'station', 'san-login', 'san-boot'] as const) expect(t.stages.find((x) => x.id === id)!.evidence, id).toMatch(/^iPXE( \S+)?: /);
        // The per-MAC script's `set hostname pc` names the lines from then on.
        const events = items.filter((i): i is Extract<WatchItem, { type: 'event' }> => i.type === 'event' && i.source === 'syslog');
        expect(events.some((e) => e.station === 'pc' && /^iPXE pc: Registered SAN device 0x80/.test(e.evidence))).toBe(true);
        expect(events.some((e) => e.station === 'pc' && /^iPXE pc: Booting from SAN device 0x80/.test(e.evidence))).toBe(true);
        expect(t.stages.map((x) => x.at)).toEqual([...t.stages.map((x) => x.at)].sort((a, b) => a - b));
      } catch (e) {
        process.stdout.write(`--- healthy ${h.name}: the VM's console (not seen by the watch) ---\n${screen.slice(-3000)}\n`);
        throw e;
      }
    });
  }

  it('empty LUN: stopped at the boot sector from iPXE\'s own failure line, its error URL decoded', { timeout: 480_000 }, async () => {
    const spec = specOf(L, 'slem', 2, L.iscsi.targets.empty);
    const { report, items, console: screen } = await watchOne(spec, { vmTimeoutMs: 150_000 });
    const lines = print('empty LUN', report, items);
    const t = report.stations[0]!;
    try {
      expect(t.stopped).toMatchObject({ stage: 'san-boot', link: 'bootsector' });
      expect(`${t.stopped!.check?.summary} ${t.stopped!.check?.fix ?? ''}`).toMatch(/Put the operating system on this disk first|empty/);
      // The line that stopped it is iPXE's, with an ipxe.org error URL that decodes.
      const failLine = lines.find((l) => / \[san-boot\]: iPXE pc: (Boot from SAN device 0x80 failed|Could not boot)/.test(l));
      expect(failLine).toBeDefined();
      const text = failLine!.replace(/^.*?: iPXE pc: /, '');
      const errs = findIpxeErrors(text);
      expect(errs.length).toBeGreaterThan(0);
      process.stdout.write(`  decoded: ${errs.map((e) => `${e.url} = ${e.words}`).join('; ')}; classified ${classifyIpxeLine(text).kind}\n`);
      expect(report.ended).toBe('all-done');
    } catch (e) {
      process.stdout.write(`--- empty LUN: the VM's console (not seen by the watch) ---\n${screen.slice(-3000)}\n`);
      throw e;
    }
  });

  // What the built iPXE puts on the wire, read by the receiver alone (no station filter), with a
  // DHCP server that also hands out a domain name, as most routers do: iPXE then names itself
  // "<hostname>.<domain>" (net/udp/syslog.c syslog_send()).
  it('raw: every datagram the built iPXE sends parses; lines before `set hostname` carry none, later ones "pc.<domain>"', { timeout: 480_000 }, async () => {
    const base = specOf(L, 'slraw', 3, L.iscsi.targets.boot);
    const spec: WatchLabSpec = { ...base, dnsmasq: (c) => `${base.dnsmasq!(c)}domain=lab.test\n`, tftp: (root) => copyFileSync(built, path.join(root, 'undionly.kpxe')) };
    const wl = await startWatchLab(L, spec);
    const rxStop = new AbortController();
    const got: Extract<SyslogEvent, { kind: 'ipxe' }>[] = [];
    try {
      const rx = await startSyslogReceiver({ address: L.desk.ip, port: 514, signal: rxStop.signal, onEvent: (e) => (e.kind === 'ipxe' ? void got.push(e) : undefined) });
      const boot = await wl.boot({ timeoutMs: 180_000, until: new RegExp(BOOT_MARKER) });
      await new Promise((r) => setTimeout(r, 1000));
      const stats = rx.stats();
      process.stdout.write(
        `syslog-built raw: ${stats.received} datagrams, ${stats.accepted} accepted, dropped ${JSON.stringify(stats.dropped)}\n` +
          `${got.map((e) => `  <${e.severity}> ${e.hostname ?? '(no hostname)'} from ${e.from.address}: ${e.text}  => ${e.class.kind}${e.class.stage ? `/${e.class.stage}` : ''}${e.class.ok === undefined ? '' : e.class.ok ? ' ok' : ' FAILED'}`).join('\n')}\n`,
      );
      expect(boot.console).toContain(BOOT_MARKER);
      expect(stats.dropped).toEqual({});
      const text = got.map((e) => e.text);
      expect(text.some((t) => /^Configuring \(net0 52:54:00:b0:1a:03\)[. ]* ok$/.test(t))).toBe(true);
      expect(text).toContain('Registered SAN device 0x80');
      // From the client's own address; unnamed until the per-MAC script's `set hostname pc`.
      expect(got.every((e) => e.from.address === got[0]!.from.address)).toBe(true);
      const named = got.findIndex((e) => e.hostname !== undefined);
      expect(named).toBeGreaterThan(0);
      expect(got.slice(0, named).every((e) => e.hostname === undefined)).toBe(true);
      expect(got.slice(named).every((e) => e.hostname === 'pc.lab.test')).toBe(true);
    } finally {
      rxStop.abort();
      await wl.stop();
    }
  });
});

