import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appError } from '../../../../shared/errors';
import type { DiscoveredTarget, LunInfo, ProbeResult } from '../../../../shared/iscsi';
import { inProcessApi } from '../../../test/in-process-api';
import { setApi } from '../../api/client';
import { useApp } from '../../store/index';
import { identityBlockedWhy } from '../../store/identity-slice';
import { idleJob } from '../../store/job';
import { IdentityStep } from '../identity/IdentityStep';
import { TargetStep } from './TargetStep';

// The Target and Identity steps over a discovery shaped like the lab's tgt NAS: one NAS with two
// addresses that SendTargets lists .22 first (the user chose .20 in Scan), disks on LUN 1 behind
// tgt's controller on LUN 0, a target with CHAP of its own, and targets without a disk. The
// discovery's job events are not replayed here (target-slice.test.ts runs the real job): the
// probe results are set as the job leaves them.
const NAS = [
  { address: '192.168.1.22', port: 3260, tpgt: 1 },
  { address: '192.168.1.20', port: 3260, tpgt: 1 },
];
const IQN = 'iqn.2026-11.test.bootchain';
const controller: LunInfo = { lun: 0, deviceType: 0x0c, deviceTypeName: 'storage array controller', vendor: 'IET', product: 'Controller', revision: '0001' };
const disk = (mib: number, verdict: 'empty' | 'has-os'): LunInfo => ({
  lun: 1,
  deviceType: 0,
  deviceTypeName: 'disk',
  vendor: 'IET',
  product: 'VIRTUAL-DISK',
  revision: '0001',
  blockSize: 512,
  blocks: mib * 2048,
  sizeBytes: mib * 2 ** 20,
  layout: { scheme: verdict === 'empty' ? 'none' : 'mbr', bootSignature: verdict !== 'empty', bootable: verdict !== 'empty', partitions: [], verdict, summary: verdict === 'empty' ? 'empty (all zeros)' : 'MBR, 1 partition' },
});
const probe = (target: string, luns: LunInfo[]): ProbeResult => ({
  portal: { address: NAS[0]!.address, port: 3260 },
  target,
  initiator: 'iqn.2024-01.io.bootchain:discovery',
  luns,
  bootLun: luns.find((l) => l.deviceType === 0)?.lun,
  digests: { header: false, data: false },
  durationMs: 12,
});
const T = { os: `${IQN}:mbr`, empty: `${IQN}:empty`, chap: `${IQN}:chap-one-way`, refused: `${IQN}:chap-mutual` };
const bulk = [1, 2, 3].map((i) => `${IQN}:bulk-0${i}`);
const CHAP_SECRET = 'Tgt0wnSecret42';

function discovered() {
  const targets: DiscoveredTarget[] = [T.os, T.empty, T.chap, T.refused, ...bulk].map((name) => ({ name, portals: NAS }));
  const probes = {
    [T.os]: { ...idleJob, status: 'succeeded' as const, result: probe(T.os, [controller, disk(64, 'has-os')]) },
    [T.empty]: { ...idleJob, status: 'succeeded' as const, result: probe(T.empty, [controller, disk(16, 'empty')]) },
    [T.chap]: { ...idleJob, status: 'succeeded' as const, result: probe(T.chap, [controller, disk(8, 'empty')]) },
    [T.refused]: { ...idleJob, status: 'failed' as const, error: appError('AUTH_FAILED', 'The target refused the login', { hint: 'Enter the CHAP user name and secret set on the NAS.' }) },
    ...Object.fromEntries(bulk.map((n) => [n, { ...idleJob, status: 'succeeded' as const, result: probe(n, [controller]) }])),
  };
  useApp.setState((s) => ({
    scan: { ...s.scan, portals: { '192.168.1.20:3260': { address: '192.168.1.20', port: 3260, iscsi: true } } as never, selected: ['192.168.1.20:3260'] },
    target: {
      ...s.target,
      discover: { ...idleJob, status: 'succeeded', result: { targets, results: [], failures: [] } },
      probes,
      chaps: { [T.chap]: { enabled: true, username: 'ws-chap', secret: CHAP_SECRET, mutual: false, mutualUsername: '', mutualSecret: '' } },
    },
  }));
}

beforeEach(() => {
  setApi(inProcessApi({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'bc-dom-target-')) }));
  discovered();
});
afterEach(() => {
  cleanup();
  useApp.getState().resetTarget();
  useApp.getState().resetIdentity();
});

describe('Target step: disks first, the rest folded, one NAS shown once', () => {
  it('lists the bootable disks (empty first), folds the targets without a disk under a count, names the NAS once by the chosen address', () => {
    render(<TargetStep />);
    expect(screen.getAllByTestId('nas-group')).toHaveLength(1);
    expect(screen.getByTestId('nas-addresses').textContent).toBe('NAS at 192.168.1.20:3260 (also 192.168.1.22:3260)');
    const shown = within(screen.getByTestId('targets'))
      .getAllByTestId('target-row')
      .map((r) => r.getAttribute('data-target'));
    expect(shown).toEqual([T.empty, T.chap, T.os, T.refused]);
    const fold = screen.getByTestId('no-disk');
    expect(fold.tagName).toBe('DETAILS');
    expect((fold as HTMLDetailsElement).open).toBe(false);
    expect(screen.getByTestId('no-disk-count').textContent).toBe('3 targets without a disk');
    expect(within(fold).getAllByTestId('target-row').map((r) => r.getAttribute('data-disk'))).toEqual(['none', 'none', 'none']);
    // A target that refused the login gets CHAP fields of its own; discovery CHAP is named apart.
    const refused = screen.getAllByTestId('target-row').find((r) => r.getAttribute('data-target') === T.refused)!;
    expect(within(refused).getByTestId('row-chap').textContent).toContain('This target needs CHAP');
    expect(screen.getByTestId('discovery-chap').textContent).toMatch(/Discovery needs CHAP.*before it lists its targets/);
  });

  it('a portal refusing discovery says it is discovery CHAP it wants', () => {
    useApp.setState((s) => ({
      target: {
        ...s.target,
        discover: {
          ...s.target.discover,
          result: { ...s.target.discover.result!, failures: [{ portal: { address: '192.168.1.21', port: 3260 }, error: appError('AUTH_FAILED', 'Authentication failed for discovery on 192.168.1.21') }] },
        },
      },
    }));
    render(<TargetStep />);
    expect(screen.getByTestId('discovery-chap-note').textContent).toContain('discovery CHAP before it lists its targets');
  });

  it('the chosen disk is reached by the address chosen in Scan and carries its target’s CHAP', () => {
    useApp.getState().chooseTarget(T.chap);
    expect(useApp.getState().target.chosen).toMatchObject({ target: T.chap, portal: { address: '192.168.1.20', port: 3260 }, lun: 1, chap: { username: 'ws-chap' } });
  });
});

describe('Identity step: prefilled, disks chosen, secrets masked and checked', () => {
  it('prefills the NAS address from the chosen portal (.20), not the NAS’s first address (.22)', () => {
    useApp.getState().chooseTarget(T.empty);
    render(<IdentityStep />);
    expect((screen.getByTestId('nas-address') as HTMLInputElement).value).toBe('192.168.1.20');
  });

  it('a disk chosen from the discovered targets fills the target IQN, the LUN of the probe’s verdict and the target’s CHAP', () => {
    useApp.getState().chooseTarget(T.empty);
    render(<IdentityStep />);
    fireEvent.click(screen.getByTestId('add-workstation'));
    const ws = screen.getByTestId('workstation');
    expect((within(ws).getByTestId('ws-target') as HTMLInputElement).value).toBe(T.empty);
    const options = within(within(ws).getByTestId('ws-disk'))
      .getAllByRole('option')
      .map((o) => (o as HTMLOptionElement).value);
    expect(options).toEqual([T.chap, T.empty, T.os]);
    fireEvent.change(within(ws).getByTestId('ws-disk'), { target: { value: T.chap } });
    expect((within(ws).getByTestId('ws-target') as HTMLInputElement).value).toBe(T.chap);
    expect((within(ws).getByTestId('ws-lun') as HTMLInputElement).value).toBe('1');
    expect((within(ws).getByTestId('ws-chap') as HTMLInputElement).checked).toBe(true);
    const w = useApp.getState().identity.project.workstations![0]!;
    expect(w.chap?.username).toBe('ws-chap');
    expect(useApp.getState().identity.secrets[w.chap!.secretRef] === CHAP_SECRET).toBe(true);
    // The IQN and LUN are expert fields: under Advanced, closed while they are right.
    expect((within(ws).getByTestId('ws-advanced') as HTMLDetailsElement).open).toBe(false);
    // A second workstation on the same disk is told so.
    fireEvent.click(screen.getByTestId('add-workstation'));
    const second = screen.getAllByTestId('workstation')[1]!;
    fireEvent.change(within(second).getByTestId('ws-disk'), { target: { value: T.chap } });
    expect(within(second).getByTestId('ws-disk-shared').textContent).toContain('ws1 boots this disk too');
  });

  it('the CHAP secret is masked, shown on demand, and checked as it is typed against iPXE’s rule', () => {
    useApp.getState().chooseTarget(T.empty);
    render(<IdentityStep />);
    fireEvent.click(screen.getByTestId('add-workstation'));
    fireEvent.click(screen.getByTestId('ws-chap'));
    const input = screen.getByTestId('ws-chap-secret') as HTMLInputElement;
    expect(input.type).toBe('password');
    expect(screen.getByTestId('ws-chap-secret-check').getAttribute('data-level')).toBe('ok');
    fireEvent.click(screen.getByTestId('ws-chap-secret-show'));
    expect(input.type).toBe('text');
    fireEvent.click(screen.getByTestId('ws-chap-secret-show'));
    expect(input.type).toBe('password');
    const typed = (v: string) => {
      fireEvent.change(input, { target: { value: v } });
      const c = screen.getByTestId('ws-chap-secret-check');
      return [c.getAttribute('data-level'), c.textContent];
    };
    expect(typed('abc${17}')).toEqual(['error', expect.stringContaining('no spaces, $')]);
    expect(screen.getByTestId('preview-blocked')).toBeTruthy();
    expect(typed('short1')).toEqual(['warn', expect.stringContaining('at least 12')]);
    expect(typed('a'.repeat(40))).toEqual(['warn', expect.stringContaining('at most 16')]);
    expect(typed('a'.repeat(256))).toEqual(['error', expect.stringContaining('255')]);
    expect(typed('Abcdefgh2345')).toEqual(['ok', '12 characters: every initiator accepts it']);
    // The label states the rule the generator applies.
    expect(input.closest('label')!.textContent).toContain('1 to 255');
  });

  it('Next says in words what is missing', () => {
    useApp.getState().chooseTarget(T.empty);
    render(<IdentityStep />);
    expect(identityBlockedWhy(useApp.getState().identity)).toBe('Add a workstation: its MAC address and its disk.');
    fireEvent.click(screen.getByTestId('add-workstation'));
    const why = identityBlockedWhy(useApp.getState().identity)!;
    expect(why).toContain('ws1’s MAC address');
    expect(why).not.toMatch(/workstations\[|initiatorIqn/);
  });
});
