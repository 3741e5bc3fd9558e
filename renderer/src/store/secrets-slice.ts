import type { StateCreator } from 'zustand';
import type { SecretsStatus } from '../../../shared/secrets';
import { api } from '../api/client';
import type { AppState } from './index';

/**
 * Where secrets go: the main process keeps them (encrypted by the OS keychain when the user asks
 * to remember them); the window only asks for the ones it needs and never writes them anywhere.
 */
export interface SecretsSlice {
  secrets: {
    status?: SecretsStatus | undefined;
    /** Remember secrets on this computer (only meaningful with a keychain, or basic_text accepted). */
    remember: boolean;
    /** basic_text only: the user accepted that remembered secrets are not protected. */
    allowPlainText: boolean;
  };
  loadSecretsStatus(): Promise<void>;
  setRemember(on: boolean): void;
  setAllowPlainText(on: boolean): void;
  /** Hands secrets to the main process; says where they went. */
  keepSecrets(entries: Record<string, string>): Promise<string>;
  /** The secrets the main process knows for these keys. */
  recallSecrets(keys: string[]): Promise<Record<string, string>>;
  forgetSecrets(keys: string[]): Promise<void>;
}

export const createSecretsSlice: StateCreator<AppState, [], [], SecretsSlice> = (set, get) => {
  const patch = (p: Partial<SecretsSlice['secrets']>) => set((st) => ({ secrets: { ...st.secrets, ...p } }));
  return {
    secrets: { remember: false, allowPlainText: false },
    loadSecretsStatus: async () => {
      const first = get().secrets.status === undefined;
      const r = await api().invoke('secrets:status', {});
      if (!r.ok) return;
      // With a keychain, remembering is the default; otherwise the user must choose it.
      patch({ status: r.value, ...(first ? { remember: r.value.backend === 'keychain' } : {}) });
    },
    setRemember: (on) => patch({ remember: on }),
    setAllowPlainText: (on) => patch({ allowPlainText: on }),
    keepSecrets: async (entries) => {
      const { remember, allowPlainText, status } = get().secrets;
      const keys = Object.keys(entries);
      if (keys.length === 0) return '';
      let onDisk = 0;
      let failed = '';
      for (const key of keys) {
        const r = await api().invoke('secrets:set', { key, value: entries[key]!, remember: remember && (status?.backend !== 'basic_text' || allowPlainText), allowPlainText });
        if (!r.ok) failed = r.error.message;
        else if (r.value.kept === 'disk') onDisk++;
      }
      await get().loadSecretsStatus();
      if (failed) return `secrets not remembered: ${failed}`;
      const n = keys.length === 1 ? 'the secret' : `${keys.length} secrets`;
      if (onDisk === keys.length) return status?.backend === 'basic_text' ? `${n} stored UNPROTECTED (no keyring)` : `${n} kept encrypted by the OS keychain`;
      return `${n} kept for this session only`;
    },
    recallSecrets: async (keys) => {
      if (keys.length === 0) return {};
      const r = await api().invoke('secrets:get', { keys });
      return r.ok ? r.value : {};
    },
    forgetSecrets: async (keys) => {
      for (const key of keys) await api().invoke('secrets:forget', { key });
      await get().loadSecretsStatus();
    },
  };
};
