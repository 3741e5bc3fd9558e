import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyIpxeLine } from './ipxe-lines';
import { stageOfIpxeLine, Timeline, type WatchEvent } from './timeline';

const ws = [
  { name: 'ws1', mac: '52:54:00:12:34:56', initiatorIqn: 'iqn.2026-11.org.example:ws1' },
  { name: 'ws2', mac: '52:54:00:12:34:57', initiatorIqn: 'iqn.2026-11.org.example:ws2', hostname: 'desk2' },
];
const ev = (at: number, e: Omit<WatchEvent, 'at' | 'evidence'>): WatchEvent => ({ at, evidence: JSON.stringify(e), ...e });

describe('the watch timeline', () => {
  it('merges the sources per station: by MAC, by initiator IQN (the NAS), by hostname (syslog); a later stage implies the earlier', () => {
    const t = new Timeline(ws, { stallMs: 30_000 });
    t.add(ev(0, { source: 'dhcp', mac: '52-54-00-12-34-56', stage: 'dhcp' }));
    t.add(ev(100, { source: 'bootserver', mac: '52:54:00:12:34:56', stage: 'bootfile' }));
    t.add(ev(900, { source: 'syslog', hostname: 'ws1', stage: 'station' }));
    t.add(ev(1200, { source: 'nas', initiator: 'IQN.2026-11.org.example:ws1', stage: 'nas-login' }));
    expect(t.add(ev(1300, { source: 'syslog', hostname: 'nobody', stage: 'san-boot' }))).toBeUndefined();
    const r = t.add(ev(1400, { source: 'marker', mac: '52:54:00:12:34:56', stage: 'san-boot' }))!;
    expect(r.stages.map((s) => s.id)).toEqual(['dhcp', 'bootfile', 'ipxe', 'ipxe-dhcp', 'default', 'station', 'san-login', 'nas-login', 'san-boot']);
    expect(r.stages.find((s) => s.id === 'default')!.evidence).toBe('(implied by a later stage)');
    expect(r.done).toBe(false);
    // The NAS's second login, after the SAN boot, is the OS's own (its initramfs).
    expect(t.add(ev(20_000, { source: 'nas', initiator: 'iqn.2026-11.org.example:ws1', stage: 'nas-login' }))!.done).toBe(true);
    expect(t.all().find((x) => x.station === 'ws2')!.stages).toEqual([]);
  });

  it('an error stops the boot at its link; a boot that stops moving is stopped at the next stage', () => {
    const t = new Timeline(ws, { stallMs: 30_000 });
    t.add(ev(0, { source: 'syslog', hostname: 'desk2', stage: 'default' }));
    const bad = t.add(ev(500, { source: 'syslog', hostname: 'desk2', error: { stage: 'san-login', text: 'Permission denied' } }))!;
    expect(bad.stopped).toEqual({ stage: 'san-login', link: 'target', why: 'Permission denied', at: 500 });
    t.add(ev(0, { source: 'dhcp', mac: '52:54:00:12:34:56', stage: 'dhcp' }));
    expect(t.tick(10_000)).toEqual([]);
    const stalled = t.tick(31_000);
    expect(stalled.map((x) => [x.station, x.stopped?.stage, x.stopped?.link])).toEqual([['ws1', 'bootfile', 'bootfile']]);
    expect(stalled[0]!.stopped!.why).toBe("nothing new for 31 s after the firmware's DHCP");
  });

  it("the OS's own login seen by the NAS implies the SAN boot; an address learnt from DHCP names later lines; a longer quiet spell after the SAN login", () => {
    const t = new Timeline(ws, { stallMs: 10_000, stallMsAfter: { 'nas-login': 30_000 } });
    t.add(ev(0, { source: 'dhcp', mac: '52:54:00:12:34:56', ip: '10.77.0.183', stage: 'ipxe-dhcp' }));
    // A syslog line without a hostname, from the address the DHCP REQUEST asked for.
    expect(t.add(ev(500, { source: 'syslog', ip: '10.77.0.183', stage: 'default' }))?.station).toBe('ws1');
    t.add(ev(1000, { source: 'nas', initiator: 'iqn.2026-11.org.example:ws1', stage: 'nas-login' }));
    expect(t.tick(20_000)).toEqual([]); // 19 s after the NAS login: within its 30 s
    const r = t.add(ev(25_000, { source: 'nas', initiator: 'iqn.2026-11.org.example:ws1', stage: 'os-login' }))!;
    expect(r.done).toBe(true);
    expect(r.stages.map((s) => s.id).slice(-3)).toEqual(['nas-login', 'san-boot', 'os-login']);
    // Never implied: an early stage does not bring the OS's login with it.
    const u = new Timeline(ws, { stallMs: 10_000 });
    expect(u.add(ev(0, { source: 'marker', mac: '52:54:00:12:34:57', stage: 'san-boot' }))!.stages.map((s) => s.id)).not.toContain('os-login');
    expect(u.tick(11_000)[0]!.stopped).toMatchObject({ stage: 'os-login', link: 'kernel' });
  });

  it("iPXE's login seen late by a NAS poll is not the OS's; an inferred end still takes a later failure; the watch's own markers failing are not the boot's", () => {
    const t = new Timeline(ws, { stallMs: 10_000 });
    t.add(ev(1, { source: 'syslog', hostname: 'ws1', stage: 'san-login' }));
    t.add(ev(2, { source: 'syslog', hostname: 'ws1', stage: 'san-boot' }));
    const late = t.add(ev(900, { source: 'nas', initiator: 'iqn.2026-11.org.example:ws1', stage: 'nas-login' }))!;
    expect(late.done).toBe(false);
    expect(late.stages.find((s) => s.id === 'os-login')).toBeUndefined();
    // Done at the SAN boot (nothing could see the OS's login), then iPXE reports a failure after all.
    const u = new Timeline(ws, { stallMs: 10_000, lastStage: 'san-boot' });
    expect(u.add(ev(0, { source: 'marker', mac: '52:54:00:12:34:56', stage: 'san-boot' }))!.done).toBe(true);
    const failed = u.add(ev(40_000, { source: 'marker', mac: '52:54:00:12:34:56', error: { stage: 'san-login', text: 'sanboot failed', link: 'portal' } }))!;
    expect(failed).toMatchObject({ done: false, stopped: { stage: 'san-login', link: 'portal' } });
    // iPXE logging that a marker fetch failed (nothing received it) is no stop of the boot.
    expect(stageOfIpxeLine(classifyIpxeLine('http://10.77.0.10:8080/watch/52-54-00-12-34-56/default... Connection refused (https://ipxe.org/0f0c6039)'))).toEqual({});
    expect(stageOfIpxeLine(classifyIpxeLine('tftp://10.77.0.20/52-54-00-12-34-56.ipxe... No such file or directory (https://ipxe.org/2d12603b)')).error?.stage).toBe('station');
  });

  it("a real console (QEMU's NIC ROM SAN-booting an empty LUN, recorded by e2e/boot/capture-console.ts), line by line", () => {
    const text = readFileSync(path.join(import.meta.dirname, '../vm/fixtures/bios-nicrom-emptylun.console'), 'latin1');
    const t = new Timeline(ws, { stallMs: 30_000 });
    let at = 0;
    // eslint-disable-next-line no-control-regex
    for (const line of text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').split(/\r?\n/)) t.add({ at: (at += 10), source: 'syslog', hostname: 'ws1', evidence: line, ...stageOfIpxeLine(classifyIpxeLine(line)) });
    const r = t.all()[0]!;
    process.stdout.write(`empty LUN console: ${r.stages.map((s) => s.id).join(' ')}; stopped ${JSON.stringify(r.stopped)}\n`);
    expect(r.stages.map((s) => s.id)).toEqual(expect.arrayContaining(['ipxe', 'ipxe-dhcp', 'station', 'san-login']));
    expect(r.stopped?.link).toBe('bootsector');
  });
});
