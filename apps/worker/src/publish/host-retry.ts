import type { Logger } from '@greenloop/core';
import type { PublishError } from './pull-request-host.ts';

/** How hard a host adapter tries one call before leaving it to the job's retry. */
export interface RetryPolicy {
  /** Per request. */
  timeoutMs?: number;
  attempts?: number;
  /** First backoff after a 5xx or network error; doubles each attempt. */
  backoffMs?: number;
  /** A Retry-After (or rate-limit reset) longer than this is left to the job's retry instead of waited out. */
  maxWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/**
 * Runs one host call, retrying transient failures (5xx, network, rate limits) up to `attempts` times with
 * backoff or the host's Retry-After; throws the classified error when it is permanent, the attempts are
 * spent, or the host asks for a longer wait than `maxWaitMs` (the job's BullMQ retry takes over then).
 */
export async function withRetries<T>(
  what: string,
  fn: (signal: AbortSignal) => Promise<T>,
  classify: (err: unknown, nowMs: number) => PublishError,
  policy: RetryPolicy,
  log: Logger,
): Promise<T> {
  const attempts = policy.attempts ?? 3;
  const sleep = policy.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = policy.now ?? Date.now;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(AbortSignal.timeout(policy.timeoutMs ?? 30_000));
    } catch (err) {
      const e = classify(err, now());
      if (e.kind === 'permanent' || attempt >= attempts) throw e;
      const wait = e.retryAfterMs ?? (policy.backoffMs ?? 1000) * 2 ** (attempt - 1);
      if (wait > (policy.maxWaitMs ?? 60_000)) throw e;
      log.warn({ what, attempt, status: e.status, retryInMs: wait, reason: e.message }, 'request failed; retrying');
      await sleep(wait);
    }
  }
}
