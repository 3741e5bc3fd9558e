import type { AppError } from '../../../shared/errors';
import { ERROR_TEXT } from '../../../shared/errors';

/** Shows an AppError: title from the code's text table, the message, what to do next. */
export function ErrorBox({ error, testId }: { error: AppError; testId?: string }) {
  return (
    <div className="error" role="alert" data-testid={testId ?? 'error'}>
      <strong>{ERROR_TEXT[error.code].title}:</strong> <span data-testid="error-message">{error.message}</span>
      <div className="hint" data-testid="error-hint">
        {error.hint}
      </div>
      {error.detail ? (
        <details>
          <summary>Details</summary>
          <pre>{error.detail}</pre>
        </details>
      ) : null}
    </div>
  );
}
