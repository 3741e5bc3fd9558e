import { act, cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { SAMPLE_SECRETS, sampleProject } from '../../../../shared/gen/fixtures';
import { CHAIN_LINKS, type VerifyResult } from '../../../../shared/verify';
import { inProcessApi } from '../../../test/in-process-api';
import { setApi } from '../../api/client';
import { useApp } from '../../store/index';
import { idleJob } from '../../store/job';
import { isReachable } from '../../store/wizard-slice';
import { DoneStep } from './DoneStep';

afterEach(() => {
  cleanup();
  useApp.getState().resetIdentity();
  useApp.setState((s) => ({ verify: { ...s.verify, ...idleJob } }));
});

const green: VerifyResult = {
  station: 'ws1',
  mac: '52:54:00:12:34:56',
  firmware: 'bios',
  links: CHAIN_LINKS.map((l) => ({ id: l.id, title: l.title, status: 'pass', summary: 'holds', evidence: [] })),
  identity: { status: 'pass', summary: 'same IQN everywhere', evidence: [] },
  ok: true,
  durationMs: 800,
};

describe('Done screen', () => {
  it('opens only after a green Verify, then says what was set up and what comes next', () => {
    setApi(inProcessApi());
    act(() => useApp.setState((s) => ({ identity: { ...s.identity, project: sampleProject(), secrets: { ...SAMPLE_SECRETS } }, verify: { ...s.verify, status: 'failed', result: { ...green, ok: false, firstBroken: 'dhcp' } } })));
    expect(isReachable(useApp.getState(), 'done')).toBe(false);
    render(<DoneStep />);
    expect(screen.getByTestId('done-blocked')).toBeTruthy();
    act(() => useApp.setState((s) => ({ verify: { ...s.verify, status: 'succeeded', result: green } })));
    expect(screen.getAllByTestId('done-station').map((e) => e.textContent)).toEqual([expect.stringMatching(/^ws1 .*BIOS.*LUN 1 — verified$/), expect.stringMatching(/^ws2 .*UEFI/)]);
    const next = screen.getByTestId('done-next').textContent!;
    expect(next).toMatch(/Power on the PC/);
    expect(next).toMatch(/the Install step writes an image onto it, runs your installer in a VM/);
    expect(next).toMatch(/Watch a boot .*later/);
    // The kernel parameters to give the installed system, with no CHAP secret in clear.
    const kernel = screen.getAllByTestId('done-kernel').map((e) => e.textContent!);
    expect(kernel).toHaveLength(2);
    expect(kernel.join(' ')).toMatch(/ip=dhcp|iscsi|rd\.iscsi|root=/);
    expect(kernel.join(' ')).toContain('netroot=iscsi:ws2-user:********:nas:********@');
    for (const v of Object.values(SAMPLE_SECRETS)) expect(screen.getByTestId('step-done').textContent).not.toContain(v);
    expect(screen.getByTestId('done-router').textContent).toMatch(/dnsmasq or Pi-hole, with the Bootchain snippet/);
    for (const id of ['done-save', 'done-export', 'done-report', 'done-add']) expect(screen.getByTestId(id)).toBeTruthy();
  });
});
