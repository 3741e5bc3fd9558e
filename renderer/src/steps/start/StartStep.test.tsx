import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sampleProject } from '../../../../shared/gen/fixtures';
import { inProcessApi } from '../../../test/in-process-api';
import { setApi } from '../../api/client';
import { App } from '../../app/App';
import { useApp } from '../../store/index';

// The Start screen on the real handlers in-process (a fresh data folder each test): its three
// buttons route to Scan, the saved projects (Reconfigure → Identity) and Diagnostics.
afterEach(() => {
  cleanup();
  useApp.getState().resetIdentity();
  useApp.setState({ wizard: { current: 'start' } });
});

const fresh = () => setApi(inProcessApi({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'bc-dom-start-')) }));

describe('Start screen', () => {
  it('opens first: what you need, the steps, one primary action (New setup) and no Next', async () => {
    fresh();
    render(<App />);
    expect(await screen.findByTestId('step-start')).toBeTruthy();
    expect(screen.getByTestId('start-needs').textContent).toMatch(/iSCSI.*SSH/);
    expect(screen.getByTestId('start-needs').textContent).toMatch(/proxyDHCP/);
    expect(screen.getByTestId('start-needs').textContent).toMatch(/MAC/);
    expect(screen.getByTestId('start-steps').textContent).toMatch(/Router.*minutes/);
    expect(document.querySelectorAll('[data-testid="step-start"] button.primary')).toHaveLength(1);
    expect(screen.queryByTestId('next')).toBeNull();
  });

  it('New setup goes to Scan', async () => {
    fresh();
    render(<App />);
    fireEvent.click(await screen.findByTestId('start-new'));
    expect(screen.getByTestId('step-scan')).toBeTruthy();
  });

  it('Diagnose goes to Diagnostics', async () => {
    fresh();
    render(<App />);
    fireEvent.click(await screen.findByTestId('start-diagnose'));
    expect(screen.getByTestId('view-diagnostics')).toBeTruthy();
  });

  it('Reconfigure is off without a saved project; with one, its Reconfigure opens it at Identity', async () => {
    fresh();
    render(<App />);
    await screen.findByTestId('step-start');
    expect((screen.getByTestId('start-reconfigure') as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByTestId('start-no-saved')).toBeTruthy();
    // Save one (as a user did last time), then come back to the start screen.
    act(() => useApp.setState((s) => ({ identity: { ...s.identity, project: sampleProject({ name: 'homelab2' }) } })));
    await act(() => useApp.getState().saveProject());
    act(() => useApp.getState().resetIdentity());
    await act(() => useApp.getState().listProjects());
    await waitFor(() => expect((screen.getByTestId('start-reconfigure') as HTMLButtonElement).disabled).toBe(false));
    fireEvent.click(screen.getByTestId('start-reconfigure'));
    const row = await screen.findByTestId('recent-project');
    expect(document.activeElement).toBe(screen.getByTestId('recent-reconfigure'));
    expect(row.getAttribute('data-name')).toBe('homelab2');
    fireEvent.click(screen.getByTestId('recent-reconfigure'));
    expect(await screen.findByTestId('step-identity')).toBeTruthy();
    expect(useApp.getState().identity.project.name).toBe('homelab2');
  });
});
