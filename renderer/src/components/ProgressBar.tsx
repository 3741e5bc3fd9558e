import { formatBytes } from '../../../shared/bytes';
import type { JobProgress } from '../../../shared/jobs';

/** A progress bar with phase and done/total (counts, or bytes: "4 MiB of 24 MiB"); indeterminate when the total is unknown. */
export function ProgressBar({ progress, bytes = false, testId = 'progress' }: { progress: JobProgress; bytes?: boolean; testId?: string }) {
  const pct = progress.total ? Math.min(100, Math.round(((progress.done ?? 0) * 100) / progress.total)) : undefined;
  return (
    <div className="progress" data-testid={testId}>
      <progress max={100} value={pct} aria-label={progress.phase} />
      <span data-testid={`${testId}-text`}>
        {progress.phase}
        {bytes && progress.done !== undefined ? ` ${formatBytes(progress.done)}${progress.total ? ` of ${formatBytes(progress.total)}` : ''}` : progress.total ? ` ${progress.done ?? 0}/${progress.total}` : ''}
        {progress.message ? ` — ${progress.message}` : ''}
      </span>
    </div>
  );
}
