import type { AppError } from './errors';

/** The envelope every channel returns: handlers never throw across the wire. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: AppError };

/** Wraps a value as a success. */
export const ok = <T>(value: T): Result<T> => ({ ok: true, value });

/** Wraps an error as a failure. */
export const err = <T = never>(error: AppError): Result<T> => ({ ok: false, error });
