import { create } from 'zustand';
import type { JobEvent } from '../../../shared/jobs';
import { api } from '../api/client';
import { createScanSlice, type ScanSlice } from './scan-slice';
import { createWizardSlice, type WizardSlice } from './wizard-slice';

/** The one store, built from typed slices. */
export type AppState = WizardSlice & ScanSlice;

export const useApp = create<AppState>()((...a) => ({
  ...createWizardSlice(...a),
  ...createScanSlice(...a),
}));

/** The job bridge: feeds every job event into the slice that owns its kind. Returns unsubscribe. */
export function connectJobEvents(): () => void {
  return api().onJobEvent((e: JobEvent) => {
    if (e.kind === 'scan') useApp.getState().applyScanEvent(e);
  });
}
