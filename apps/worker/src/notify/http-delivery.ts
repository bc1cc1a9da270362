import type { Logger } from '@greenloop/core';

/**
 * The retry loop shared by the Slack and generic webhook senders: a timeout per attempt, a bounded
 * number of attempts with exponential backoff for 5xx / timeouts / network errors, Retry-After for 429,
 * and a verdict per response decided by the sender. Results and log lines carry only the webhook's
 * label, never its URL; network errors are described by their code, never by their message (which may
 * quote the address).
 */

/** How hard a sender tries. */
export interface DeliveryPolicy {
  /** Per attempt: connect, headers and the (capped) body must arrive within this. */
  timeoutMs: number;
  /** All attempts together, including the one that finds the webhook gone. */
  maxAttempts: number;
  /** First backoff after a 5xx or timeout; doubles each attempt. */
  backoffMs: number;
  maxBackoffMs: number;
  /** A Retry-After longer than this is not waited out: the send fails (retryable) instead of pinning a worker. */
  maxRetryAfterMs: number;
}

/** 10s per attempt, 4 attempts, 1s → 2s → 4s backoff: a send gives up within about a minute. */
export const DEFAULT_DELIVERY_POLICY: DeliveryPolicy = {
  timeoutMs: 10_000,
  maxAttempts: 4,
  backoffMs: 1000,
  maxBackoffMs: 30_000,
  maxRetryAfterMs: 60_000,
};

/** What a sender does with a response. */
export type Verdict =
  | { kind: 'ok' }
  | { kind: 'retry'; reason: string }
  /** The webhook is gone (404/410, archived channel): disable it, never retry. */
  | { kind: 'gone'; reason: string }
  /** The payload was refused; try once more with the sender's simpler form. */
  | { kind: 'degrade'; reason: string }
  | { kind: 'fail'; reason: string };

/** Outcome of one send. `target` is the webhook's label ("slack#3f2a9c1b"). */
export type DeliveryResult =
  | { status: 'sent'; target: string; attempts: number; httpStatus: number; degraded?: boolean }
  | { status: 'disabled'; target: string; attempts: number; reason: string; newly: boolean; httpStatus?: number }
  | { status: 'failed'; target: string; attempts: number; reason: string; retryable: boolean; httpStatus?: number; retryAfterMs?: number };

/** Injected effects, so tests control time without waiting. */
export interface DeliveryRuntime {
  fetchImpl: typeof fetch;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  log: Logger;
}

/** One delivery's request, verdicts and waiting rule. */
export interface DeliveryRequest {
  url: string;
  target: string;
  /** The body and extra headers of an attempt; `degraded` after a `degrade` verdict. */
  build: (ctx: { attempt: number; degraded: boolean }) => { body: string; headers: Record<string, string> };
  classify: (status: number, body: string) => Verdict;
  /** Waits before each attempt; `delayMs` is what the policy asks for (0, backoff or Retry-After). */
  wait: (delayMs: number) => Promise<void>;
}

/** The raw result: `gone` is turned into `disabled` by the sender once it has recorded it. */
export type RawDelivery =
  | Exclude<DeliveryResult, { status: 'disabled' }>
  | { status: 'gone'; target: string; attempts: number; reason: string; httpStatus: number };

const BODY_LIMIT = 4096;

/** Sends with retries per `policy`; never throws for HTTP or network failures. */
export async function deliver(rt: DeliveryRuntime, policy: DeliveryPolicy, req: DeliveryRequest): Promise<RawDelivery> {
  const { target } = req;
  let delay = 0;
  let degraded = false;
  let degradedOnce = false;
  let attempts = 0;
  let last: { reason: string; httpStatus?: number; retryAfterMs?: number } = { reason: 'not attempted' };
  while (attempts < policy.maxAttempts + (degradedOnce ? 1 : 0)) {
    attempts++;
    await req.wait(delay);
    const { body, headers } = req.build({ attempt: attempts, degraded });
    let status: number;
    let text: string;
    let retryAfter: string | null = null;
    try {
      const signal = AbortSignal.timeout(policy.timeoutMs);
      // Webhooks never legitimately redirect; following one would hand the payload to another host.
      const res = await rt.fetchImpl(req.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
        redirect: 'manual',
        signal,
      });
      status = res.status;
      retryAfter = res.headers.get('retry-after');
      text = await readCapped(res, BODY_LIMIT);
    } catch (err) {
      last = { reason: describeFetchError(err, policy.timeoutMs) };
      delay = backoff(policy, attempts);
      rt.log.warn({ webhook: target, attempt: attempts, reason: last.reason }, 'webhook request failed');
      continue;
    }

    const verdict = classifyCommon(status) ?? req.classify(status, text);
    switch (verdict.kind) {
      case 'ok':
        return { status: 'sent', target, attempts, httpStatus: status, ...(degraded ? { degraded } : {}) };
      case 'gone':
        return { status: 'gone', target, attempts, reason: verdict.reason, httpStatus: status };
      case 'fail':
        return { status: 'failed', target, attempts, reason: verdict.reason, retryable: false, httpStatus: status };
      case 'degrade':
        if (degraded) return { status: 'failed', target, attempts, reason: verdict.reason, retryable: false, httpStatus: status };
        rt.log.warn({ webhook: target, status, reason: verdict.reason }, 'webhook refused the message; retrying with plain text');
        degraded = true;
        degradedOnce = true;
        delay = 0;
        continue;
      case 'retry': {
        last = { reason: verdict.reason, httpStatus: status };
        if (status === 429) {
          const ra = parseRetryAfter(retryAfter, rt.now());
          if (ra !== undefined) last.retryAfterMs = ra;
          if (ra !== undefined && ra > policy.maxRetryAfterMs) {
            return {
              status: 'failed',
              target,
              attempts,
              reason: `rate limited for ${Math.ceil(ra / 1000)}s`,
              retryable: true,
              httpStatus: status,
              retryAfterMs: ra,
            };
          }
          delay = ra ?? backoff(policy, attempts);
        } else {
          delay = backoff(policy, attempts);
        }
        rt.log.warn({ webhook: target, attempt: attempts, status, retryInMs: delay }, 'webhook answered with a retryable status');
      }
    }
  }
  return {
    status: 'failed',
    target,
    attempts,
    reason: `gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${last.reason}`,
    retryable: true,
    ...(last.httpStatus ? { httpStatus: last.httpStatus } : {}),
    // What the receiver asked for on its last answer: the notify job waits that long before its retry.
    ...(last.retryAfterMs !== undefined ? { retryAfterMs: last.retryAfterMs } : {}),
  };
}

/** Rules every webhook shares; `undefined` leaves the decision to the sender. */
function classifyCommon(status: number): Verdict | undefined {
  if (status === 429) return { kind: 'retry', reason: 'rate limited (429)' };
  if (status === 408 || status >= 500) return { kind: 'retry', reason: `server error (${status})` };
  if (status >= 300 && status < 400) return { kind: 'fail', reason: `redirected (${status}); webhooks must answer directly` };
  return undefined;
}

function backoff(policy: DeliveryPolicy, attempt: number): number {
  return Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** (attempt - 1));
}

/** Retry-After as delta-seconds or an HTTP date, in milliseconds from `nowMs`. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.ceil(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `timed out after ${timeoutMs}ms`;
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  const code = typeof cause?.code === 'string' && /^[A-Z0-9_]{2,40}$/.test(cause.code) ? cause.code : undefined;
  return code ? `network error (${code})` : 'network error';
}

async function readCapped(res: Response, limit: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let done = false;
  while (size < limit) {
    const r = await reader.read();
    if (r.done) {
      done = true;
      break;
    }
    chunks.push(r.value);
    size += r.value.byteLength;
  }
  if (!done) await reader.cancel().catch(() => {});
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

/** `setTimeout` as a promise: the real sleep. */
export function realSleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
