import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * Per-webhook state shared by every worker process, in Redis: the send slot (spacing) and the disabled
 * flag. Keys and labels use a hash of the URL: an incoming-webhook URL is itself the credential, so it
 * is never written to Redis, logs, errors or results.
 */

/** Which kind of outbound webhook; part of keys and labels. */
export type WebhookKind = 'slack' | 'webhook';

/** Long enough that a dead webhook stays quiet; short enough that stale keys do not pile up forever. */
const DISABLED_TTL_SEC = 30 * 86_400;

// Reserves the next send slot and returns how long the caller must wait for it. Time comes from Redis
// (TIME) unless the caller passes one, so worker hosts with skewed clocks still agree on the spacing.
const RESERVE_SLOT = `
local now = tonumber(ARGV[3])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local interval = tonumber(ARGV[1])
local at = now + tonumber(ARGV[2])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
if nxt > at then at = nxt end
redis.call('SET', KEYS[1], string.format('%d', at + interval), 'PX', string.format('%d', at + interval - now + 60000))
return at - now
`;

/** sha256 of the URL, hex, 32 chars: what keys are named after. */
export function urlHash(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 32);
}

/** A short, loggable name for a webhook, e.g. "slack#3f2a9c1b". */
export function webhookLabel(kind: WebhookKind, url: string): string {
  return `${kind}#${urlHash(url).slice(0, 8)}`;
}

/** Why a webhook was disabled, as stored. */
export interface DisabledInfo {
  reason: string;
  at: string;
}

/** Redis-backed state of outbound webhooks, under the store's prefix. */
export class WebhookState {
  readonly redis: Redis;
  readonly prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.redis = redis;
    this.prefix = prefix;
  }

  private key(kind: WebhookKind, url: string, what: 'slot' | 'disabled'): string {
    return `${this.prefix}:notify:${kind}:${urlHash(url)}:${what}`;
  }

  /** The stored reason when this webhook is disabled. */
  async disabled(kind: WebhookKind, url: string): Promise<DisabledInfo | undefined> {
    const raw = await this.redis.get(this.key(kind, url, 'disabled'));
    return raw ? (JSON.parse(raw) as DisabledInfo) : undefined;
  }

  /** Marks the webhook dead; later sends return "disabled" without a request. */
  async disable(kind: WebhookKind, url: string, reason: string, now = new Date()): Promise<void> {
    const info: DisabledInfo = { reason, at: now.toISOString() };
    await this.redis.set(this.key(kind, url, 'disabled'), JSON.stringify(info), 'EX', DISABLED_TTL_SEC);
  }

  /** Re-enables a webhook (an operator fixed the channel without changing the URL). */
  async enable(kind: WebhookKind, url: string): Promise<void> {
    await this.redis.del(this.key(kind, url, 'disabled'));
  }

  /**
   * Reserves the next send slot: not before `notBeforeMs` from now, and at least `intervalMs` after the
   * previous reservation by any process. Returns the milliseconds to wait before sending. `nowMs`
   * replaces Redis time (tests with a fake clock).
   */
  async reserveSlot(kind: WebhookKind, url: string, opts: { intervalMs: number; notBeforeMs: number; nowMs?: number }): Promise<number> {
    const now = opts.nowMs === undefined ? -1 : Math.floor(opts.nowMs);
    const wait = await this.redis.eval(
      RESERVE_SLOT,
      1,
      this.key(kind, url, 'slot'),
      Math.floor(opts.intervalMs),
      Math.max(0, Math.floor(opts.notBeforeMs)),
      now,
    );
    return Math.max(0, Number(wait));
  }
}
