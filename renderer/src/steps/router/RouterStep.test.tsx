import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { sampleProject } from '../../../../shared/gen/fixtures';
import { routerSnippet, type RouterKind } from '../../../../shared/gen/router-snippet';
import { loadProject, ROUTER_KINDS } from '../../../../shared/model/project';
import { CHAIN_LINKS, type ChainLink, type VerifyResult } from '../../../../shared/verify';
import { inProcessApi } from '../../../test/in-process-api';
import { setApi } from '../../api/client';
import { useApp } from '../../store/index';
import { idleJob } from '../../store/job';
import { RouterStep } from './RouterStep';

// The Router step on the real handlers in-process. "Check my router" is not run here (that would
// send DHCP DISCOVERs): its verdicts are drawn from verify results as verify:start returns them.
afterEach(() => {
  cleanup();
  useApp.getState().resetIdentity();
  useApp.getState().resetRouterCheck();
});

const withProject = (over: Parameters<typeof sampleProject>[0] = {}) => act(() => useApp.setState((s) => ({ identity: { ...s.identity, project: sampleProject(over) } })));

/** What marks each dialect's text (none of the others has it). */
const MARK: Record<RouterKind, RegExp> = { mikrotik: /\/ip dhcp-server matcher/, dnsmasq: /^dhcp-boot=/m, isc: /^next-server /m, kea: /"client-classes"/, openwrt: /^set dhcp\./m };
/** What the placement text must say for each router. */
const WHERE: Record<RouterKind, RegExp> = { mikrotik: /WinBox.*\/import/s, dnsmasq: /\/etc\/dnsmasq\.d\/.*Pi-hole/s, isc: /dhcpd -t -cf/, kea: /kea-dhcp4 -t/, openwrt: /uci batch.*LuCI/s };

describe('Router step', () => {
  it.each(ROUTER_KINDS)("shows only the chosen router's snippet (%s) and where it goes for that router", (kind) => {
    setApi(inProcessApi());
    withProject();
    render(<RouterStep />);
    fireEvent.change(screen.getByTestId('router-kind'), { target: { value: kind } });
    expect(useApp.getState().identity.project.router.kind).toBe(kind);
    const p = loadProject(useApp.getState().identity.project);
    if (!p.ok) throw new Error('sample project invalid');
    const text = screen.getByTestId('router-text').textContent!;
    expect(text).toBe(routerSnippet(p.value, kind).text);
    for (const k of ROUTER_KINDS) expect(MARK[k].test(text), `${kind} shows ${k}'s text`).toBe(k === kind);
    expect(screen.getAllByTestId('router-text')).toHaveLength(1);
    expect(screen.getByTestId('router-where').textContent).toMatch(WHERE[kind]);
    expect(screen.getByTestId('router-file').textContent).toBe(routerSnippet(p.value, kind).file);
    expect(screen.getByTestId('router-copy')).toBeTruthy();
    expect(screen.getByTestId('router-save')).toBeTruthy();
  });

  it('the subnet field says what it needs in words, never the internal name', () => {
    setApi(inProcessApi());
    withProject({ router: { kind: 'dnsmasq', rootPath: '' } });
    render(<RouterStep />);
    const msg = () => screen.getByTestId('router-subnet-message').textContent!;
    expect(msg()).toMatch(/does not know your network yet.*like 192\.168\.1\.0\/24/);
    expect(msg()).not.toMatch(/router\.subnet|cidr/);
    fireEvent.change(screen.getByTestId('router-subnet'), { target: { value: '10.77.0.0' } });
    fireEvent.change(screen.getByTestId('router-range-start'), { target: { value: '10.77.0.100' } });
    fireEvent.change(screen.getByTestId('router-range-end'), { target: { value: '10.77.0.150' } });
    expect(msg()).toMatch(/^Your network: a CIDR like 192\.168\.1\.0\/24/);
    expect(msg()).not.toMatch(/router\.subnet/);
    fireEvent.change(screen.getByTestId('router-subnet'), { target: { value: '10.77.0.0/24' } });
    expect(screen.queryByTestId('router-subnet-message')).toBeNull();
    expect(useApp.getState().identity.project.router.subnet?.cidr).toBe('10.77.0.0/24');
  });

  it('Check my router: green from a passing verify result, red with the fix from a failing one', () => {
    setApi(inProcessApi());
    withProject();
    render(<RouterStep />);
    const link = (id: ChainLink['id'], status: ChainLink['status'], summary: string, fix?: string): ChainLink => ({ id, title: CHAIN_LINKS.find((l) => l.id === id)!.title, status, summary, evidence: [], ...(fix ? { fix } : {}) });
    const result = (firmware: 'bios' | 'uefi', dhcp: ChainLink, embedded: ChainLink): VerifyResult => ({
      station: 'ws1',
      mac: '52:54:00:12:34:56',
      firmware,
      links: CHAIN_LINKS.map((l) => (l.id === 'dhcp' ? dhcp : l.id === 'embedded' ? embedded : link(l.id, 'skip', 'not checked: router check only'))),
      identity: { status: 'skip', summary: '', evidence: [] },
      ok: true,
      durationMs: 5,
    });
    act(() =>
      useApp.setState({
        routerCheck: {
          bios: { ...idleJob, status: 'succeeded', result: result('bios', link('dhcp', 'pass', 'The router offers undionly.kpxe from 10.77.0.20'), link('embedded', 'pass', 'Asked as iPXE, the router hands out default.ipxe (no loop)')) },
          uefi: {
            ...idleJob,
            status: 'succeeded',
            result: result('uefi', link('dhcp', 'fail', 'The router offers no boot file to UEFI firmware', 'Add the UEFI line of the snippet (client-arch 7 and 9 get snponly.efi).'), link('embedded', 'pass', 'Asked as iPXE, the router hands out default.ipxe (no loop)')),
          },
        },
      }),
    );
    const bios = screen.getByTestId('router-check-bios');
    expect(bios.getAttribute('data-status')).toBe('pass');
    expect(bios.className).toContain('ok');
    expect(bios.textContent).toMatch(/BIOS: ✓/);
    expect(screen.queryByTestId('router-fix-bios')).toBeNull();
    const uefi = screen.getByTestId('router-check-uefi');
    expect(uefi.getAttribute('data-status')).toBe('fail');
    expect(uefi.className).toContain('warn');
    expect(uefi.textContent).toMatch(/UEFI: ✗/);
    expect(screen.getByTestId('router-fix-uefi').textContent).toMatch(/Fix:.*snponly\.efi/);
    // Another router chosen: the verdicts were of the old one, and go.
    fireEvent.change(screen.getByTestId('router-kind'), { target: { value: 'isc' } });
    expect(screen.queryByTestId('router-check-bios')).toBeNull();
    expect(screen.queryByTestId('router-check-uefi')).toBeNull();
  });

  it('offers the alternative: leave the router alone and serve from this computer (proxyDHCP)', () => {
    setApi(inProcessApi());
    withProject();
    render(<RouterStep />);
    expect(screen.getByTestId('step-router').textContent).toMatch(/leave the router alone/i);
    expect(screen.getByTestId('serve-panel')).toBeTruthy();
    expect(screen.getByTestId('serve-proxy')).toBeTruthy();
  });
});
