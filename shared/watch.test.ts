import { describe, expect, it } from 'vitest';
import { verdictOf, watchMarkdown, WatchStartInput, type WatchReport } from './watch';

const report: WatchReport = {
  project: 'lab',
  startedAt: '2026-12-02T05:00:00.000Z',
  durationMs: 20_280,
  ended: 'all-done',
  sources: [
    { source: 'marker', state: 'listening', detail: "the scripts' stage markers on http://10.77.0.10:18222/watch/" },
    { source: 'dhcp', state: 'failed', detail: 'Bootchain may not listen on UDP port 67 | the ports right' },
  ],
  stations: [
    {
      station: 'pc',
      mac: '52:54:00:b0:19:22',
      stages: [
        { id: 'ipxe-dhcp', at: 3425, source: 'dhcp', evidence: 'DHCP DISCOVER from 52:54:00:b0:19:22' },
        { id: 'station', at: 20128, source: 'marker', evidence: 'the script fetched its "station" marker' },
      ],
      stopped: { stage: 'san-boot', link: 'bootsector', why: 'sanboot failed: Input/output error (EIO) in the BIOS\'s SAN boot (INT 13 disk) (int13.c) (https://ipxe.org/err/1d8520)', at: 20280, check: { link: 'bootsector', status: 'fail', summary: 'LUN 1 is empty: nothing to boot', fix: 'Put the operating system on this disk first' } },
      done: false,
      evidence: ['marker: marker fail-sanboot e=0x1d852039'],
    },
    { station: 'idle', mac: '52:54:00:b0:19:23', stages: [], done: false, evidence: [] },
  ],
  dropped: { 'dhcp:foreign': 3, 'marker:refused': 0 },
};

describe('a watched boot as a report', () => {
  it('verdicts', () => {
    expect(report.stations.map(verdictOf)).toEqual(['stopped', 'not-seen']);
    expect(verdictOf({ ...report.stations[1]!, stages: report.stations[0]!.stages })).toBe('watching');
    expect(verdictOf({ ...report.stations[1]!, done: true })).toBe('booted');
  });
  it('Markdown: sources, stages in a table (pipes escaped), the stop point with its check and fix, the drops', () => {
    const md = watchMarkdown(report);
    expect(md).toContain('# Boot watch: lab');
    expect(md).toContain('| dhcp | failed | Bootchain may not listen on UDP port 67 \\| the ports right |');
    expect(md).toContain('## pc (52:54:00:b0:19:22): stopped at bootsector');
    expect(md).toContain("| 20.1 s | the per-MAC script fetched | marker | the script fetched its \"station\" marker |");
    expect(md).toMatch(/\*\*Stopped at bootsector\*\* \(booting from the SAN disk\) after 20\.3 s: sanboot failed: .*1d8520/);
    expect(md).toContain("Verify's check of bootsector: FAIL — LUN 1 is empty: nothing to boot\n\nFix: Put the operating system on this disk first");
    expect(md).toContain('## idle (52:54:00:b0:19:23): not seen');
    expect(md).toContain('Dropped: dhcp:foreign 3.');
  });
  it('evidence cannot break out of its fence in the Markdown', () => {
    const md = watchMarkdown({ ...report, stations: [{ ...report.stations[0]!, evidence: ['iPXE pc: ````\n# injected', 'plain'] }] });
    expect(md).toContain('`````\niPXE pc: ````');
    expect(md).toMatch(/plain\n`````\n<\/details>/);
  });
  it('the input: defaults, and bounds refused', () => {
    expect(WatchStartInput.parse({ project: {} })).toMatchObject({ markers: true, dhcp: true, stallSeconds: 60, minutes: 20, check: true, secrets: {} });
    expect(WatchStartInput.safeParse({ project: {}, stallSeconds: 1 }).success).toBe(false);
    expect(WatchStartInput.safeParse({ project: {}, syslog: { address: 'nas.local' } }).success).toBe(false);
    expect(WatchStartInput.safeParse({ project: {}, stations: [] }).success).toBe(false);
  });
});
