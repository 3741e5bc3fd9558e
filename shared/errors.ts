/** Error codes shared by every layer; each one has user text in ERROR_TEXT (a new code without text fails to compile). */
export const ERROR_CODES = [
  'INVALID_INPUT',
  'NEEDS_CONFIRMATION',
  'UNREACHABLE',
  'TIMEOUT',
  'AUTH_FAILED',
  'HOST_UNTRUSTED',
  'HOST_KEY_CHANGED',
  'TARGET_NOT_FOUND',
  'PERMISSION_DENIED',
  'TOOL_MISSING',
  'COMMAND_FAILED',
  'PROTOCOL_ERROR',
  'NOT_FOUND',
  'BUSY',
  'CANCELLED',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The one error shape that crosses a process or wire boundary. */
export interface AppError {
  code: ErrorCode;
  /** What went wrong, in one sentence. */
  message: string;
  /** What the user should do next. */
  hint: string;
  /** Technical detail (redacted of secrets). */
  detail?: string;
  /** Whether trying again unchanged may succeed. */
  retryable: boolean;
  /** The input field the error is about, when there is one. */
  field?: string;
}

/** Default user-facing title and next step for each code; specific errors override the hint. */
export const ERROR_TEXT: Record<ErrorCode, { title: string; hint: string; retryable: boolean }> = {
  INVALID_INPUT: { title: 'Invalid input', hint: 'Correct the highlighted value and try again.', retryable: false },
  NEEDS_CONFIRMATION: {
    title: 'Confirmation needed',
    hint: 'Tick the confirmation box if you really mean it, then start again.',
    retryable: false,
  },
  UNREACHABLE: {
    title: 'Host unreachable',
    hint: 'Check the address, that the host is on and that no firewall blocks the port.',
    retryable: true,
  },
  TIMEOUT: { title: 'Timed out', hint: 'The peer did not answer in time: check that it is up, then retry.', retryable: true },
  AUTH_FAILED: { title: 'Authentication failed', hint: 'Check the user name and secret.', retryable: false },
  HOST_UNTRUSTED: {
    title: 'Unknown server key',
    hint: "Compare the fingerprint with the server's own (ssh-keygen -lf on its host key) and trust it if it matches.",
    retryable: false,
  },
  HOST_KEY_CHANGED: {
    title: 'Server key changed',
    hint: 'The server presents a different key than the one trusted before: this may be an attack. If the NAS was reinstalled, check its new fingerprint on the NAS itself, then remove the old entry from known hosts.',
    retryable: false,
  },
  TARGET_NOT_FOUND: { title: 'Target not found', hint: 'Run discovery again and pick a listed target.', retryable: false },
  PERMISSION_DENIED: {
    title: 'Permission denied',
    hint: 'Bootchain lacks the right for this operation: see the README section on privileges.',
    retryable: false,
  },
  TOOL_MISSING: { title: 'Tool missing', hint: 'Install the named tool and try again.', retryable: false },
  COMMAND_FAILED: { title: 'Command failed', hint: 'Read the log lines shown; fix the cause and retry.', retryable: true },
  PROTOCOL_ERROR: {
    title: 'Unexpected reply',
    hint: 'The peer answered something that is not the expected protocol: check the address and port.',
    retryable: false,
  },
  NOT_FOUND: { title: 'Not found', hint: 'The item no longer exists: refresh and try again.', retryable: false },
  BUSY: { title: 'Busy', hint: 'Wait for the running job to finish or cancel it.', retryable: true },
  CANCELLED: { title: 'Cancelled', hint: 'Start it again when you are ready.', retryable: true },
  INTERNAL: {
    title: 'Internal error',
    hint: 'This is a bug in Bootchain: please report it with the details below.',
    retryable: false,
  },
};

/** Builds an AppError with the code's default hint unless one is given. */
export function appError(
  code: ErrorCode,
  message: string,
  opts: { hint?: string | undefined; detail?: string | undefined; retryable?: boolean | undefined; field?: string | undefined } = {},
): AppError {
  const base = ERROR_TEXT[code];
  const err: AppError = {
    code,
    message,
    hint: opts.hint ?? base.hint,
    retryable: opts.retryable ?? base.retryable,
  };
  if (opts.detail !== undefined) err.detail = opts.detail;
  if (opts.field !== undefined) err.field = opts.field;
  return err;
}

/** An Error that carries an AppError, thrown inside services and unwrapped at the boundary. */
export class BootchainError extends Error {
  readonly appError: AppError;
  constructor(error: AppError) {
    super(error.message);
    this.name = 'BootchainError';
    this.appError = error;
  }
}

/** Throws a BootchainError built like appError(). */
export function fail(
  code: ErrorCode,
  message: string,
  opts: { hint?: string | undefined; detail?: string | undefined; retryable?: boolean | undefined; field?: string | undefined } = {},
): never {
  throw new BootchainError(appError(code, message, opts));
}

/** Type guard for the AppError shape (used on values that crossed a wire). */
export function isAppError(v: unknown): v is AppError {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.code === 'string' &&
    (ERROR_CODES as readonly string[]).includes(o.code) &&
    typeof o.message === 'string' &&
    typeof o.hint === 'string'
  );
}
