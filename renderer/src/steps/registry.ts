import type { AppState } from '../store/index';
import { identityBlockedWhy, identityOutput } from '../store/identity-slice';

/** Every step and view of the wizard, in order. */
export type StepId = 'start' | 'scan' | 'target' | 'identity' | 'router' | 'build' | 'upload' | 'verify' | 'install' | 'done' | 'diagnostics';

/** A step as data: the shell renders the list, the views map draws each one. */
export interface StepDef {
  id: StepId;
  title: string;
  /** wizard: part of the ordered flow; view: reachable at any time. */
  kind: 'wizard' | 'view';
  /** One line under the title. */
  summary: string;
  isComplete(state: AppState): boolean;
  /** Why Next is not open yet, in words (shown beside the disabled button). */
  blockedWhy?(state: AppState): string | undefined;
  /** Next passes over this step (it has nothing to do now); it stays reachable from the sidebar. */
  skip?(state: AppState): boolean;
}

/** A dry run found every file already on the server, byte for byte. */
const serverHoldsAll = (plan: AppState['upload']['plan']): boolean => !!plan && plan.dryRun && plan.plan.add.length === 0 && plan.plan.change.length === 0 && plan.plan.same.length > 0;

/** Verify found every link holding up to the login and the LUN: only what is on the disk fails. */
export const diskIsAllThatIsMissing = (r: AppState['verify']['result']): boolean => !!r && r.firstBroken === 'bootsector' && r.links.every((l) => l.id === 'bootsector' || l.id === 'kernel' || l.status !== 'fail');

/** The built files whose embedded script could not be read back. */
export const unverifiedArtifacts = (b: AppState['build']): string[] => (b.result?.artifacts ?? []).filter((a) => !a.embeddedVerified).map((a) => a.file);

export const STEPS: StepDef[] = [
  {
    id: 'start',
    title: 'Start',
    kind: 'wizard',
    summary: 'What you need, the steps, and where to begin',
    // Never in the way: New setup, Reconfigure and Diagnose are its actions (no Next).
    isComplete: () => true,
  },
  {
    id: 'scan',
    title: 'Scan',
    kind: 'wizard',
    summary: 'Find iSCSI portals (TCP 3260) on your network',
    // An opened project already knows its NAS and disks: reconfiguring starts at Identity.
    isComplete: (s) => s.scan.selected.some((k) => s.scan.portals[k]?.iscsi === true) || !!s.identity.opened,
  },
  {
    id: 'target',
    title: 'Target',
    kind: 'wizard',
    summary: 'Discover the targets on a portal and choose the workstation disk',
    isComplete: (s) => s.target.chosen !== undefined || !!s.identity.opened,
  },
  {
    id: 'identity',
    title: 'Identity',
    kind: 'wizard',
    summary: 'Workstations, MACs, initiator IQNs and the generated files',
    isComplete: (s) => identityOutput(s.identity).files !== undefined,
    blockedWhy: (s) => identityBlockedWhy(s.identity),
  },
  {
    id: 'router',
    title: 'Router',
    kind: 'wizard',
    summary: "Your router's DHCP: its snippet and where it goes, a check, or proxyDHCP from this computer",
    // The snippet exists once Identity is valid; applying it is by hand (Check my router says whether it took).
    isComplete: (s) => identityOutput(s.identity).files !== undefined,
  },
  {
    id: 'build',
    title: 'Build',
    kind: 'wizard',
    summary: 'Build iPXE with the embedded script',
    isComplete: (s) => s.build.noBuild || (s.build.status === 'succeeded' && !!s.build.result && unverifiedArtifacts(s.build).length === 0),
    blockedWhy: (s) =>
      unverifiedArtifacts(s.build).length > 0
        ? `The embedded script could not be read back from ${unverifiedArtifacts(s.build).join(', ')}: build again, or use stock iPXE binaries.`
        : s.build.status === 'running'
          ? 'The build is still running.'
          : 'Build iPXE, or choose stock iPXE binaries (no build).',
  },
  {
    id: 'upload',
    title: 'Upload',
    kind: 'wizard',
    summary: 'Copy the boot files to the NAS over SSH/SFTP',
    // Done when the files are up (and TFTP serves them), when this computer serves them, or when
    // the plan finds the server already holding exactly these files (nothing left to upload).
    isComplete: (s) => (s.upload.status === 'succeeded' && s.upload.result?.tftp?.ok !== false) || s.serve.running || serverHoldsAll(s.upload.plan),
    blockedWhy: (s) =>
      s.upload.status === 'running'
        ? 'The upload is still running.'
        : s.upload.result?.tftp?.ok === false
          ? 'The files are on the server, but its TFTP service does not serve them: see the TFTP check above.'
          : 'Upload the boot files to the NAS (connect, check the plan, then Upload), or serve them from this computer.',
  },
  {
    id: 'verify',
    title: 'Verify',
    kind: 'wizard',
    summary: 'Check every link of the boot chain against the live servers',
    // Every link up to the disk holds, and the disk is all that is missing: Install puts the OS on it.
    isComplete: (s) => s.verify.result?.ok === true || diskIsAllThatIsMissing(s.verify.result),
    blockedWhy: (s) => (s.verify.status === 'running' ? 'Verify is still running.' : 'Verify the chain: the next step opens when every link up to the disk holds.'),
  },
  {
    id: 'install',
    title: 'Install',
    kind: 'wizard',
    summary: 'Put the OS onto the workstation\'s iSCSI disk: write an image, or attach it on your Linux machine',
    // A disk that already boots needs nothing (Next from a green Verify goes straight to Done);
    // else a write or an install the post-write probe calls bootable.
    skip: (s) => s.verify.result?.ok === true,
    isComplete: (s) => s.verify.result?.ok === true || s.installWrite.result?.ok === true || (!!s.installVm.result?.findings.length && s.installVm.result.findings.every((f) => f.status !== 'fail')),
    blockedWhy: (s) => (s.installWrite.status === 'running' ? 'The write is still running.' : s.installVm.status === 'running' ? 'The installer VM is still running: finish the installation (it powers the VM off) or stop it.' : 'Put a bootable OS on the disk, then verify the chain again: Done opens when every link holds.'),
  },
  {
    id: 'done',
    title: 'Done',
    kind: 'wizard',
    summary: 'What was set up and what to do next',
    isComplete: (s) => s.verify.result?.ok === true,
  },
  {
    id: 'diagnostics',
    title: 'Diagnostics',
    kind: 'view',
    summary: 'See where a workstation’s boot chain breaks',
    isComplete: () => false,
  },
];
