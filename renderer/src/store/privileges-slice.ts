import type { StateCreator } from 'zustand';
import type { AppError } from '../../../shared/errors';
import type { PrivilegeId, PrivilegeStatus } from '../../../shared/privileges';
import { api } from '../api/client';
import type { AppState } from './index';

/** The rights panel: what this computer gives Bootchain, and the one-time grants. */
export interface PrivilegesSlice {
  privileges: {
    status?: PrivilegeStatus | undefined;
    /** The LAN bridge a new tap device joins (optional). */
    bridge: string;
    granting?: PrivilegeId | undefined;
    error?: AppError | undefined;
  };
  loadPrivileges(): Promise<void>;
  setPrivilegeBridge(bridge: string): void;
  grant(id: PrivilegeId): Promise<void>;
}

export const createPrivilegesSlice: StateCreator<AppState, [], [], PrivilegesSlice> = (set, get) => {
  const patch = (p: Partial<PrivilegesSlice['privileges']>) => set((st) => ({ privileges: { ...st.privileges, ...p } }));
  /** The tap device is the one the VM test boot is set to use. */
  const where = () => {
    const tap = get().vm.ifname.trim() || 'bctap0';
    const bridge = get().privileges.bridge.trim();
    return { tap, ...(bridge ? { bridge } : {}) };
  };
  return {
    privileges: { bridge: '' },
    loadPrivileges: async () => {
      const r = await api().invoke('privileges:status', where());
      patch(r.ok ? { status: r.value, error: undefined } : { error: r.error });
    },
    setPrivilegeBridge: (bridge) => patch({ bridge }),
    grant: async (id) => {
      patch({ granting: id, error: undefined });
      const r = await api().invoke('privileges:grant', { id, ...where() });
      patch(r.ok ? { granting: undefined, status: r.value } : { granting: undefined, error: r.error });
    },
  };
};
