import type { StateCreator } from 'zustand';
import { STEPS, type StepId } from '../steps/registry';
import type { AppState } from './index';

/** Which step shows, and the rule that a step opens only when all before it are complete. */
export interface WizardSlice {
  wizard: { current: StepId };
  goTo(id: StepId): void;
  next(): void;
  /**
   * Called when an earlier choice changes: the later steps built on it must be redone. Scan and
   * Target reach the later steps only through the project, so they reset Target alone; what
   * Identity generates is watched by `invalidateOnChange` (stale.ts), which calls this with
   * 'identity' (embed.ipxe changed) or 'build' (a served file changed).
   */
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

/** The wizard step Next leads to from step index `i`: the following one, passing over those with nothing to do (skip, and complete). */
export function nextStepAfter(state: AppState, i: number): (typeof STEPS)[number] | undefined {
  let j = i + 1;
  while (STEPS[j]?.kind === 'wizard' && STEPS[j]!.skip?.(state) && STEPS[j]!.isComplete(state) && STEPS[j + 1]?.kind === 'wizard') j++;
  return STEPS[j];
}

export const createWizardSlice: StateCreator<AppState, [], [], WizardSlice> = (set, get) => ({
  wizard: { current: 'start' },
  goTo: (id) => {
    const target = STEPS.find((s) => s.id === id);
    if (target && (target.kind === 'view' || isReachable(get(), id))) set({ wizard: { current: id } });
  },
  next: () => {
    const st = get();
    const i = STEPS.findIndex((s) => s.id === st.wizard.current);
    const cur = STEPS[i];
    const nxt = nextStepAfter(st, i);
    if (cur && nxt && nxt.kind === 'wizard' && cur.isComplete(st)) set({ wizard: { current: nxt.id } });
  },
  invalidateAfter: (id) => {
    // Each step after `id` that `id` feeds starts over; Identity is the user's own data, never reset.
    const order = STEPS.map((s) => s.id);
    const after = (x: StepId) => order.indexOf(x) > order.indexOf(id);
    const st = get();
    if (after('target')) st.resetTarget();
    if (id === 'scan' || id === 'target') return;
    if (after('build')) st.resetBuildRun();
    if (after('upload')) {
      st.resetUploadRun();
      // The server serves the copy it made when it started: switched off, it cannot serve stale files.
      if (st.serve.running) void st.stopServe("Stopped: the project's files changed since serving started. Switch it on again to serve the new ones.");
    }
    if (after('verify')) st.resetVerifyRun();
    if (after('install')) st.resetInstallRun();
  },
});
