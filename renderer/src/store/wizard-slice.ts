import type { StateCreator } from 'zustand';
import { STEPS, type StepId } from '../steps/registry';
import type { AppState } from './index';

/** Which step shows, and the rule that a step opens only when all before it are complete. */
export interface WizardSlice {
  wizard: { current: StepId };
  goTo(id: StepId): void;
  next(): void;
  /** Called when an earlier choice changes: later steps must be redone (they reset here as they are built). */
  invalidateAfter(id: StepId): void;
}

/** True when every wizard step before `id` is complete. */
export function isReachable(state: AppState, id: StepId): boolean {
  for (const s of STEPS) {
    if (s.id === id) return true;
    if (s.kind === 'wizard' && !s.isComplete(state)) return false;
  }
  return false;
}

export const createWizardSlice: StateCreator<AppState, [], [], WizardSlice> = (set, get) => ({
  wizard: { current: 'scan' },
  goTo: (id) => {
    const target = STEPS.find((s) => s.id === id);
    if (target && (target.kind === 'view' || isReachable(get(), id))) set({ wizard: { current: id } });
  },
  next: () => {
    const st = get();
    const i = STEPS.findIndex((s) => s.id === st.wizard.current);
    const cur = STEPS[i];
    const nxt = STEPS[i + 1];
    if (cur && nxt && nxt.kind === 'wizard' && cur.isComplete(st)) set({ wizard: { current: nxt.id } });
  },
  invalidateAfter: (id) => {
    // Each built step after `id` starts over; steps not built yet hold no state.
    const order = STEPS.map((s) => s.id);
    const after = (x: StepId) => order.indexOf(x) > order.indexOf(id);
    if (after('target')) get().resetTarget();
  },
});
