import type { JobProgress } from '../../../shared/jobs';

/** A progress bar with phase and done/total; indeterminate when the total is unknown. */
export function ProgressBar({ progress }: { progress: JobProgress }) {
  const pct = progress.total ? Math.min(100, Math.round(((progress.done ?? 0) * 100) / progress.total)) : undefined;
  return (
    <div className="progress" data-testid="progress">
      <progress max={100} value={pct} aria-label={progress.phase} />
      <span data-testid="progress-text">
        {progress.phase}
        {progress.total ? ` ${progress.done ?? 0}/${progress.total}` : ''}
        {progress.message ? ` — ${progress.message}` : ''}
      </span>
    </div>
  );
}
