/**
 * Errors decide retries: a `retryable: false` error becomes a BullMQ UnrecoverableError in the worker
 * (bad config, permission denied, a service that never becomes healthy); anything else is retried with
 * backoff. `code` is stable and documented; `hint` tells a person what to do about it.
 */
export class GreenloopError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, opts: { retryable?: boolean; hint?: string; cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'GreenloopError';
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.hint = opts.hint;
    this.details = opts.details;
  }
}

/** greenloop.yaml is missing, unreadable or does not match the schema. Never retried. */
export class ConfigError extends GreenloopError {
  readonly issues: string[];
  constructor(message: string, issues: string[] = [], hint?: string) {
    super('CONFIG_INVALID', issues.length ? `${message}\n  - ${issues.join('\n  - ')}` : message, {
      retryable: false,
      ...(hint ? { hint } : {}),
    });
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** Whether an unknown thrown value should be retried by the queue. */
export function isRetryable(err: unknown): boolean {
  return err instanceof GreenloopError ? err.retryable : true;
}

/** A short, log-safe description of any thrown value. */
export function describeError(err: unknown): string {
  if (err instanceof GreenloopError) return err.hint ? `${err.message} (${err.hint})` : err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
