import { create } from 'zustand';
import type { JobEvent } from '../../../shared/jobs';
import { api } from '../api/client';
import { createBuildSlice, type BuildSlice } from './build-slice';
import { createIdentitySlice, type IdentitySlice } from './identity-slice';
import { createScanSlice, type ScanSlice } from './scan-slice';
import { createTargetSlice, type TargetSlice } from './target-slice';
import { createUploadSlice, type UploadSlice } from './upload-slice';
import { createVerifySlice, type VerifySlice } from './verify-slice';
import { createServeSlice, type ServeSlice } from './serve-slice';
import { createSecretsSlice, type SecretsSlice } from './secrets-slice';
import { createPrivilegesSlice, type PrivilegesSlice } from './privileges-slice';
import { createWizardSlice, type WizardSlice } from './wizard-slice';
import { invalidateOnChange } from './stale';

/** The one store, built from typed slices. */
export type AppState = WizardSlice & ScanSlice & TargetSlice & IdentitySlice & BuildSlice & UploadSlice & VerifySlice & ServeSlice & SecretsSlice & PrivilegesSlice;

export const useApp = create<AppState>()((...a) => ({
  ...createWizardSlice(...a),
  ...createScanSlice(...a),
  ...createTargetSlice(...a),
  ...createIdentitySlice(...a),
  ...createBuildSlice(...a),
  ...createUploadSlice(...a),
  ...createVerifySlice(...a),
  ...createServeSlice(...a),
  ...createSecretsSlice(...a),
  ...createPrivilegesSlice(...a),
}));

// A change to what a later step was made from drops that step's result (for the app's lifetime).
invalidateOnChange(useApp);

/** The job bridge: feeds every job event into the slice that owns its kind. Returns unsubscribe. */
export function connectJobEvents(): () => void {
  return api().onJobEvent((e: JobEvent) => {
    const st = useApp.getState();
    if (e.kind === 'scan') st.applyScanEvent(e);
    else if (e.kind === 'discover') st.applyDiscoverEvent(e);
    else if (e.kind === 'probe') st.applyProbeEvent(e);
    else if (e.kind === 'build') st.applyBuildEvent(e);
    else if (e.kind === 'upload') st.applyUploadEvent(e);
    else if (e.kind === 'verify') st.applyVerifyEvent(e);
    else if (e.kind === 'vmboot') st.applyVmEvent(e);
    else if (e.kind === 'serve') st.applyServeEvent(e);
  });
}
