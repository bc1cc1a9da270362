import type { JobPayload } from '@greenloop/core';
import type { Job } from 'bullmq';
import { type NotifyDeps, type NotifyOutcome, notify } from './notifier.ts';

/** Longest wait a Retry-After can ask for; beyond it the job retries at this interval. */
export const NOTIFY_MAX_RETRY_AFTER_MS = 60 * 60_000;
/** Backoff of a retried notify job without Retry-After: 5 s, doubling, at most 10 min. */
const BASE_DELAY_MS = 5000;
const MAX_DELAY_MS = 10 * 60_000;
/** The catalog's notify jobs name this backoff type; the worker's backoffStrategy computes it. */
export const RETRY_AFTER_BACKOFF = 'retry-after';

/** A delivery that should be tried again, after `retryAfterMs` when the receiver said so. */
export class NotifyRetryError extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs: number | undefined) {
    super(message);
    this.name = 'NotifyRetryError';
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * The notify job: at least once per channel. One delivery attempt per job attempt (no in-process
 * sleeping: a long Retry-After must not pin the notify worker); a retryable failure fails the job so
 * BullMQ retries it after the Retry-After (or a backoff). A channel already sent is skipped on the
 * retry (notifier's per-channel sent key), so a retry never posts twice to a channel that got it.
 */
export async function runNotifyJob(deps: NotifyDeps, payload: JobPayload<'notify'>, _job: Job, _token: string): Promise<NotifyOutcome> {
  const outcome = await notify({ ...deps, policy: { maxAttempts: 1, ...deps.policy } }, payload);
  const retry = outcome.channels.filter((c) => c.status === 'failed' && c.retryable);
  if (retry.length === 0) return outcome;
  const waits = retry.map((c) => c.retryAfterMs).filter((ms): ms is number => ms !== undefined);
  throw new NotifyRetryError(
    `notification not delivered to ${retry.map((c) => `${c.channel} (${c.detail})`).join(', ')}; will retry`,
    waits.length ? Math.max(...waits) : undefined,
  );
}

/** BullMQ backoffStrategy for the `retry-after` type: Retry-After when given (capped), else exponential. */
export function retryAfterBackoff(attemptsMade: number, err: Error | undefined): number {
  if (err instanceof NotifyRetryError && err.retryAfterMs !== undefined) return Math.min(NOTIFY_MAX_RETRY_AFTER_MS, Math.max(0, err.retryAfterMs));
  return Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.max(0, attemptsMade - 1));
}
