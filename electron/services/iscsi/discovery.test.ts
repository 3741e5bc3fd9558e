import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeGptDisk, writeMbrDisk } from '../../../e2e/lab/disk-images';
import { analyseLayout } from './disk-layout';
import { mergeDiscoveries, parseSendTargets } from './discovery';
import { editDistance } from './probe';
import { parseTargetAddress } from './session';
import { loginStatusError, parseSense } from './status';

const dp = { address: '10.0.0.5', port: 3260 };

describe('SendTargets parsing (RFC 7143 appendix C)', () => {
  it('collects every portal of a target, IPv6 in brackets, default port and tag', () => {
    const r = parseSendTargets(
      [
        ['TargetName', 'iqn.2004-04.com.qnap:ts-453:iscsi.disk1'],
        ['TargetAddress', '10.0.0.5:3260,1'],
        ['TargetAddress', '[fe80::1:2]:3261,2'],
        ['TargetAddress', 'nas.example.lan,3'],
        ['TargetName', 'eui.02004567A425678D'],
      ],
      dp,
    );
    expect(r.targets).toEqual([
      {
        name: 'iqn.2004-04.com.qnap:ts-453:iscsi.disk1',
        portals: [
          { address: '10.0.0.5', port: 3260, tpgt: 1 },
          { address: 'fe80::1:2', port: 3261, tpgt: 2 },
          { address: 'nas.example.lan', port: 3260, tpgt: 3 },
        ],
      },
      // No address given: reachable on the portal that was asked.
      { name: 'eui.02004567A425678D', portals: [dp] },
    ]);
    expect(r.warnings).toEqual([]);
  });

  it('drops hostile names and addresses with a warning', () => {
    const r = parseSendTargets(
      [
        ['TargetName', 'iqn.2020-01.x:ok'],
        ['TargetAddress', '10.0.0.5:99999'],
        ['TargetAddress', '10.0.0.5:3260 ; rm -rf /'],
        ['TargetName', 'iqn.2020-01.x:bad name\n#!ipxe'],
        ['TargetAddress', '10.0.0.6'],
        ['TargetName', `iqn.2020-01.x:${'a'.repeat(230)}`],
        ['TargetName', 'iqn.2020-01.x:${17}'],
      ],
      dp,
    );
    expect(r.targets.map((t) => t.name)).toEqual(['iqn.2020-01.x:ok']);
    expect(r.targets[0]!.portals).toEqual([dp]);
    expect(r.warnings).toHaveLength(5);
  });

  it.each([
    ['10.0.0.1', { address: '10.0.0.1', port: 3260 }],
    ['10.0.0.1:3261', { address: '10.0.0.1', port: 3261 }],
    ['10.0.0.1:3261,7', { address: '10.0.0.1', port: 3261, tpgt: 7 }],
    ['[::1]:3260,1', { address: '::1', port: 3260, tpgt: 1 }],
    ['[::1]', { address: '::1', port: 3260 }],
  ])('parses TargetAddress %s', (v, want) => expect(parseTargetAddress(v)).toEqual(want));
  it.each(['', '10.0.0.1:0', '10.0.0.1:70000', '[::1', 'a b', '10.0.0.1:3260,1,2'])('refuses TargetAddress %j', (v) => expect(parseTargetAddress(v)).toBeUndefined());

  it('merges the same target seen through two portals', () => {
    const mk = (address: string) => ({
      portal: { address, port: 3260 },
      targets: [{ name: 'iqn.2020-01.x:a', portals: [{ address, port: 3260, tpgt: 1 }] }],
      warnings: [],
      replyBytes: 0,
      replyPdus: 1,
      durationMs: 1,
    });
    expect(mergeDiscoveries([mk('10.0.0.1'), mk('10.0.0.2'), mk('10.0.0.1')])).toEqual([
      { name: 'iqn.2020-01.x:a', portals: [{ address: '10.0.0.1', port: 3260, tpgt: 1 }, { address: '10.0.0.2', port: 3260, tpgt: 1 }] },
    ]);
  });

  it('measures edit distance for "did you mean"', () => {
    expect(editDistance('iqn.x:ws2-uefi', 'iqn.x:ws2-uefl')).toBe(1);
    expect(editDistance('abc', 'abc')).toBe(0);
    expect(editDistance('', 'abc')).toBe(3);
  });
});

describe('disk layout', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bc-layout-'));
  const head = (file: string, sectors: number) => readFileSync(file).subarray(0, sectors * 512);

  it('sees an MBR with a bootable partition', () => {
    const f = path.join(dir, 'mbr.img');
    writeMbrDisk(f, 8 * 1048576);
    const h = head(f, 2);
    const l = analyseLayout(h.subarray(0, 512), h.subarray(512, 1024), undefined, 512);
    expect(l).toMatchObject({ scheme: 'mbr', bootSignature: true, bootable: true, verdict: 'has-os' });
    expect(l.partitions[0]).toMatchObject({ type: 'Linux', startLba: 2048, bootFlag: true });
  });

  it('sees GPT and its EFI system partition', () => {
    const f = path.join(dir, 'gpt.img');
    writeGptDisk(f, 32 * 1048576, 8);
    const h = head(f, 34);
    const l = analyseLayout(h.subarray(0, 512), h.subarray(512, 1024), h.subarray(1024), 512);
    expect(l).toMatchObject({ scheme: 'gpt', bootable: true, verdict: 'has-os', esp: { index: 1, startLba: 2048, sectors: 16384 } });
    expect(l.summary).toMatch(/EFI system partition #1 \(8 MiB\)/);
  });

  it('tells an empty disk from unknown data', () => {
    expect(analyseLayout(Buffer.alloc(512), Buffer.alloc(512), undefined, 512).verdict).toBe('empty');
    const junk = Buffer.alloc(512, 7);
    expect(analyseLayout(junk, Buffer.alloc(512), undefined, 512).verdict).toBe('unknown-data');
  });
});

describe('login status mapping (RFC 7143 §11.13.5)', () => {
  const ctx = { peer: '10.0.0.5:3260', initiatorName: 'iqn.2020-01.x:ws1', targetName: 'iqn.2020-01.x:t', sessionType: 'Normal' as const, usedChap: true };
  it.each([
    [2, 1, 'AUTH_FAILED', /CHAP secret or user wrong/],
    [2, 2, 'PERMISSION_DENIED', /ACL does not allow initiator IQN iqn\.2020-01\.x:ws1: add it/],
    [2, 3, 'TARGET_NOT_FOUND', /typo/],
    [2, 4, 'TARGET_NOT_FOUND', /no longer exists/],
    [2, 6, 'BUSY', /Too many connections/],
    [3, 1, 'COMMAND_FAILED', /temporarily unavailable/],
    [3, 2, 'COMMAND_FAILED', /out of resources/],
    [9, 9, 'PROTOCOL_ERROR', /iSCSI target/],
  ])('0x%s%s -> %s', (cls, detail, code, hint) => {
    const e = loginStatusError(cls, detail, ctx);
    expect(e.code).toBe(code);
    expect(e.hint).toMatch(hint);
  });
  it('asks for CHAP when none was given', () => {
    expect(loginStatusError(2, 1, { ...ctx, usedChap: false }).hint).toMatch(/requires CHAP/);
  });
  it('parses fixed and descriptor sense data', () => {
    const fixed = Buffer.alloc(18);
    fixed[0] = 0x70;
    fixed[2] = 0x06;
    fixed[12] = 0x29;
    expect(parseSense(fixed)).toEqual({ key: 6, asc: 0x29, ascq: 0 });
    expect(parseSense(Buffer.from([0x72, 0x05, 0x24, 0x00]))).toEqual({ key: 5, asc: 0x24, ascq: 0 });
    expect(parseSense(Buffer.from([0x00]))).toBeUndefined();
  });
});
