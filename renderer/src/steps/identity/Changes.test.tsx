import { act, cleanup, render, screen } from '@testing-library/react';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Channel } from '../../../../shared/channels';
import type { JobEvent } from '../../../../shared/jobs';
import type { Result } from '../../../../shared/result';
import { SAMPLE_SECRETS, sampleProject } from '../../../../shared/gen/fixtures';
import { createHandlers, dispatch } from '../../../../electron/services/api/handlers';
import { JobRunner } from '../../../../electron/services/jobs/runner';
import { keychainStandIn } from '../../../../e2e/support/keychain-stand-in';
import { setApi } from '../../api/client';
import { useApp } from '../../store/index';
import { Changes } from './Changes';

// Reconfiguring a workstation in the window, on the real handlers (the keychain behind
// safeStorage cannot run here: an in-memory AES key stands in for it). The Playwright spec
// reconfigure.spec.ts covers a target change end to end against the lab.
afterEach(() => {
  cleanup();
  useApp.getState().resetIdentity();
});

const changed = () => screen.queryAllByTestId('change').map((c) => c.getAttribute('data-file'));
const diffOf = (file: string) => screen.getAllByTestId('change').find((c) => c.getAttribute('data-file') === file)?.textContent ?? '';

describe('reconfigure: the diff of every file that will change', () => {
  it('IQN, CHAP secret and BIOS to UEFI on an opened project; the router config when it changes', async () => {
    const runner = new JobRunner();
    const handlers = createHandlers(runner, 'electron', { dataDir: mkdtempSync(path.join(os.tmpdir(), 'bc-dom-reconf-')), secretCipher: () => keychainStandIn() });
    setApi({
      transport: 'electron',
      invoke: (channel: Channel, input: unknown) => dispatch(handlers, channel, input, { id: 'dom' }) as Promise<Result<never>>,
      onJobEvent: (fn: (e: JobEvent) => void) => runner.onEvent(fn),
    });
    useApp.setState({ secrets: { remember: true, allowPlainText: false } });
    const project = sampleProject();
    act(() => useApp.setState((s) => ({ identity: { ...s.identity, project, secrets: { ...SAMPLE_SECRETS } } })));
    await act(() => useApp.getState().saveProject());
    act(() => useApp.getState().resetIdentity());
    // Open it as a user would next time: its secrets come back from the keychain.
    await act(() => useApp.getState().openProject(project.name));
    expect(useApp.getState().identity.secrets).toEqual(SAMPLE_SECRETS);
    render(<Changes />);
    expect(screen.getByTestId('changes-none')).toBeTruthy();

    const s = useApp.getState();
    act(() => s.updateWorkstation(0, { firmware: 'uefi' }));
    act(() => s.setInitiatorIqn(1, 'iqn.2026-11.test.bootchain:ws2-renamed'));
    act(() => s.setSecret('ws2.chap', 'Newsecret5678'));
    // Per-MAC scripts and kernel parameters change; the router's DHCP config does not (it keys on
    // architecture, not on the workstation), so it is not listed.
    expect(changed().sort()).toEqual(['52-54-00-12-34-56.ipxe', '52-54-00-ab-cd-ef.ipxe', 'kernel/ws2.txt']);
    expect(diffOf('52-54-00-12-34-56.ipxe')).toContain('- # workstation ws1 (52:54:00:12:34:56, BIOS)');
    expect(diffOf('52-54-00-12-34-56.ipxe')).toContain('+ # workstation ws1 (52:54:00:12:34:56, UEFI)');
    expect(diffOf('52-54-00-ab-cd-ef.ipxe')).toContain('+ set initiator-iqn iqn.2026-11.test.bootchain:ws2-renamed');
    expect(diffOf('52-54-00-ab-cd-ef.ipxe')).toContain('+ set password Newsecret5678');
    expect(diffOf('kernel/ws2.txt')).toContain('rd.iscsi.initiator=iqn.2026-11.test.bootchain:ws2-renamed');

    // The NAS moves: every script and the router's configs change with it.
    act(() => s.setProjectField({ nas: { ...useApp.getState().identity.project.nas, address: '10.77.0.99' } }));
    const files = changed();
    expect(files).toEqual(expect.arrayContaining(['dhcp/dnsmasq.conf', 'dhcp/dhcpd.conf', 'dhcp/kea-dhcp4.json', 'dhcp/mikrotik.rsc', 'dhcp/openwrt-dhcp.uci', 'kernel/ws1.txt']));
    expect(diffOf('dhcp/dnsmasq.conf')).toContain('10.77.0.99');
  });
});
