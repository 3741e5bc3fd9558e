import { create } from 'zustand';
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
import { createRouterSlice, type RouterSlice } from './router-slice';
import { createInstallSlice, type InstallSlice } from './install-slice';
import { createWatchSlice, type WatchSlice } from './watch-slice';
import { invalidateOnChange } from './stale';
import { rememberOnChange } from './remember';

/** The one store, built from typed slices. */
export type AppState = WizardSlice & ScanSlice & TargetSlice & IdentitySlice & BuildSlice & UploadSlice & VerifySlice & ServeSlice & SecretsSlice & PrivilegesSlice & RouterSlice & InstallSlice & WatchSlice;

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
  ...createRouterSlice(...a),
  ...createInstallSlice(...a),
  ...createWatchSlice(...a),
}));

// A change to what a later step was made from drops that step's result (for the app's lifetime).
invalidateOnChange(useApp);
// An opened project's remembered Upload/Build settings and results come back; a change to them is saved (remember.ts).
rememberOnChange(useApp);
// Job events reach the slices through the job bridge (job.ts): each slice names and follows its own jobs.

