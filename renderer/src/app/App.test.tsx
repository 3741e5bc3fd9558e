import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { inProcessApi } from '../../test/in-process-api';
import { setApi } from '../api/client';
import { useApp } from '../store/index';
import { App } from './App';

// No transport here: the renderer calls the real handlers in-process (the e2e tests cover the
// WebSocket and the browser). Nothing is faked.

afterEach(() => {
  cleanup();
  useApp.getState().resetScan();
  useApp.setState({ wizard: { current: 'scan' } });
});

describe('wizard shell', () => {
  it('opens on the Start screen; New setup leads to Scan with later steps locked; Diagnostics is reachable at any time', async () => {
    setApi(inProcessApi());
    render(<App />);
    expect(await screen.findByTestId('step-start')).toBeTruthy();
    fireEvent.click(screen.getByTestId('start-new'));
    expect(screen.getByTestId('step-scan')).toBeTruthy();
    expect((screen.getByTestId('nav-target') as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByTestId('next') as HTMLButtonElement).disabled).toBe(true);
    // Diagnostics is a view, reachable at any time: the chain picture, nothing checked yet.
    fireEvent.click(screen.getByTestId('nav-diagnostics'));
    expect(screen.getByTestId('view-diagnostics')).toBeTruthy();
    expect(screen.getByTestId('node-dhcp').getAttribute('data-status')).toBe('idle');
    expect((screen.getByTestId('verify-start') as HTMLButtonElement).disabled).toBe(true);
  });

  it('shows instant validation of the targets box', async () => {
    setApi(inProcessApi());
    render(<App />);
    const input = await screen.findByTestId('scan-targets');
    fireEvent.change(input, { target: { value: '192.168.1.0/24, 10.0.0.300' } });
    expect(screen.getByTestId('scan-form-error').textContent).toMatch(/300 is larger than 255/);
    fireEvent.change(input, { target: { value: '8.8.8.0/24' } });
    expect(screen.getByTestId('confirm-public')).toBeTruthy();
  });

  it('a found iSCSI portal completes the step and unlocks Next', async () => {
    setApi(inProcessApi());
    render(<App />);
    await screen.findByTestId('step-scan');
    act(() => {
      useApp.setState((s) => ({
        scan: { ...s.scan, portals: { '10.0.0.2:3260': { address: '10.0.0.2', port: 3260, iscsi: true } }, selected: ['10.0.0.2:3260'] },
      }));
    });
    expect((screen.getByTestId('next') as HTMLButtonElement).disabled).toBe(false);
    expect((screen.getByTestId('nav-target') as HTMLButtonElement).disabled).toBe(false);
    expect((screen.getByTestId('nav-identity') as HTMLButtonElement).disabled).toBe(true);
  });
});
