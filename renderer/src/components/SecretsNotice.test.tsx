import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Channel } from '../../../shared/channels';
import type { JobEvent } from '../../../shared/jobs';
import type { Result } from '../../../shared/result';
import { SAMPLE_SECRETS, sampleProject } from '../../../shared/gen/fixtures';
import { createHandlers, dispatch } from '../../../electron/services/api/handlers';
import { JobRunner } from '../../../electron/services/jobs/runner';
import type { SecretCipher } from '../../../electron/services/secrets/vault';
import { BASIC_TEXT_WARNING } from '../../../electron/main/secret-cipher';
import { keychainStandIn } from '../../../e2e/support/keychain-stand-in';
import { setApi, type Api } from '../api/client';
import { useApp } from '../store/index';
import { SecretsNotice } from './SecretsNotice';

// The window talks to the real handlers in-process with a real vault on disk; the OS keychain
// behind safeStorage cannot run here (no Electron), so an in-memory AES key stands in for it.
function apiWith(cipher: SecretCipher): { api: Api; dataDir: string } {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bc-dom-secrets-'));
  const runner = new JobRunner();
  const handlers = createHandlers(runner, 'electron', { dataDir, secretCipher: () => cipher });
  return {
    dataDir,
    api: {
      transport: 'electron',
      invoke: (channel: Channel, input: unknown) => dispatch(handlers, channel, input, { id: 'dom' }) as Promise<Result<never>>,
      onJobEvent: (fn: (e: JobEvent) => void) => runner.onEvent(fn),
    },
  };
}

afterEach(() => {
  cleanup();
  useApp.getState().resetIdentity();
  useApp.setState({ secrets: { remember: false, allowPlainText: false } });
});

describe('secrets in the window', () => {
  it('keychain: saving a project remembers its CHAP secrets encrypted; opening it brings them back', async () => {
    const { api, dataDir } = apiWith(keychainStandIn());
    setApi(api);
    render(<SecretsNotice what="CHAP" />);
    expect((await screen.findByTestId('secrets-notice')).getAttribute('data-backend')).toBe('keychain');
    expect((screen.getByTestId('secrets-remember') as HTMLInputElement).checked).toBe(true);
    const project = sampleProject();
    act(() => useApp.setState((s) => ({ identity: { ...s.identity, project, secrets: { ...SAMPLE_SECRETS } } })));
    await act(() => useApp.getState().saveProject());
    expect(useApp.getState().identity.projectMessage?.text).toMatch(/2 secrets kept encrypted by the OS keychain/);
    const vault = readFileSync(path.join(dataDir, 'secrets.json'), 'utf8');
    for (const s of Object.values(SAMPLE_SECRETS)) expect(vault).not.toContain(s);
    expect(await screen.findByText(/2 remembered/)).toBeTruthy();
    act(() => useApp.getState().resetIdentity());
    await act(() => useApp.getState().openProject(project.name));
    expect(useApp.getState().identity.secrets).toEqual(SAMPLE_SECRETS);
    // Forget: the next open says which secrets must be typed again.
    await act(async () => fireEvent.click(screen.getByTestId('secrets-forget')));
    await act(() => useApp.getState().openProject(project.name));
    expect(useApp.getState().identity.secrets).toEqual({});
    expect(useApp.getState().identity.projectMessage?.text).toMatch(/2 CHAP secrets are not remembered: type them again/);
  });

  it('basic_text: the warning is shown and nothing is stored until the user accepts it', async () => {
    const { api, dataDir } = apiWith({ ...keychainStandIn(undefined, 'basic_text'), warning: BASIC_TEXT_WARNING });
    setApi(api);
    render(<SecretsNotice what="CHAP" />);
    expect((await screen.findByTestId('secrets-warning')).textContent).toContain('basic_text');
    expect((screen.getByTestId('secrets-remember') as HTMLInputElement).checked).toBe(false);
    const key = 'chap/lab/ws2.chap';
    fireEvent.click(screen.getByTestId('secrets-remember'));
    expect(await useApp.getState().keepSecrets({ [key]: 'Abcdefgh2345' })).toBe('the secret kept for this session only');
    expect(() => readFileSync(path.join(dataDir, 'secrets.json'))).toThrow();
    fireEvent.click(screen.getByTestId('secrets-allow-plain'));
    expect(await useApp.getState().keepSecrets({ [key]: 'Abcdefgh2345' })).toBe('the secret stored UNPROTECTED (no keyring)');
  });
});
