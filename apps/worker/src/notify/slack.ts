import type { Logger, Redis } from '@greenloop/core';
import type { DeliveryPolicy, DeliveryResult, Verdict } from './http-delivery.ts';
import { DEFAULT_DELIVERY_POLICY, deliver, realSleep } from './http-delivery.ts';
import type { SlackMessage } from './messages.ts';
import { truncate } from './mrkdwn.ts';
import { WebhookState, webhookLabel } from './webhook-state.ts';

/** Options of {@link SlackSender}. */
export interface SlackSenderOptions {
  redis: Redis;
  /** Key prefix (the store's), so tests and deployments do not share spacing or disabled flags. */
  prefix: string;
  log: Logger;
  fetchImpl?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** A fake clock for tests; without it, spacing uses Redis server time. */
  now?: () => number;
  policy?: Partial<DeliveryPolicy>;
  /** Minimum gap between two messages to one webhook, across all worker processes. */
  minIntervalMs?: number;
}

/**
 * Slack answers these when the webhook can never work again (deleted app, archived or deleted
 * channel, revoked token); see https://api.slack.com/messaging/webhooks#handling_errors.
 */
const GONE_CODES = new Set(['channel_not_found', 'channel_is_archived', 'no_service', 'no_active_hooks', 'invalid_token', 'team_disabled']);

/** Bodies that mean Slack rejected the blocks themselves; a text-only retry still gets the news out. */
const BAD_PAYLOAD_CODES = new Set(['invalid_blocks', 'invalid_blocks_format', 'invalid_payload', 'invalid_attachments', 'too_many_attachments', 'no_text']);

/**
 * Sends to Slack incoming webhooks: at most one message per second per webhook across worker
 * processes (Slack's documented limit), Retry-After on 429, bounded retries on 5xx and timeouts, and a
 * webhook that answers 404/410 or a "gone" code is disabled instead of retried.
 */
export class SlackSender {
  readonly state: WebhookState;
  private readonly log: Logger;
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: (() => number) | undefined;
  private readonly policy: DeliveryPolicy;
  private readonly minIntervalMs: number;

  constructor(opts: SlackSenderOptions) {
    this.state = new WebhookState(opts.redis, opts.prefix);
    this.log = opts.log;
    this.fetchImpl = opts.fetchImpl ?? fetch;
    this.sleep = opts.sleep ?? realSleep;
    this.now = opts.now;
    this.policy = { ...DEFAULT_DELIVERY_POLICY, ...opts.policy };
    this.minIntervalMs = opts.minIntervalMs ?? 1000;
  }

  /** Posts one message. Never throws for HTTP or network failures; the result says what happened. */
  async send(webhookUrl: string, message: SlackMessage): Promise<DeliveryResult> {
    const target = webhookLabel('slack', webhookUrl);
    const off = await this.state.disabled('slack', webhookUrl);
    if (off) return { status: 'disabled', target, attempts: 0, reason: off.reason, newly: false };

    const raw = await deliver({ fetchImpl: this.fetchImpl, sleep: this.sleep, now: this.now ?? Date.now, log: this.log }, this.policy, {
      url: webhookUrl,
      target,
      build: ({ degraded }) => ({ body: JSON.stringify(degraded ? { text: truncate(message.text, 3000) } : message), headers: {} }),
      classify: classifySlack,
      wait: async (delayMs) => {
        const wait = await this.state.reserveSlot('slack', webhookUrl, {
          intervalMs: this.minIntervalMs,
          notBeforeMs: delayMs,
          ...(this.now ? { nowMs: this.now() } : {}),
        });
        await this.sleep(wait);
      },
    });
    if (raw.status !== 'gone') return raw;
    await this.state.disable('slack', webhookUrl, raw.reason);
    this.log.warn({ webhook: target, status: raw.httpStatus, reason: raw.reason }, 'slack webhook is gone; disabled it');
    return { status: 'disabled', target, attempts: raw.attempts, reason: raw.reason, newly: true, httpStatus: raw.httpStatus };
  }
}

/** Slack's verdicts after the shared ones (429, 5xx, redirects). */
export function classifySlack(status: number, body: string): Verdict {
  const code = slackCode(body);
  const what = `slack answered ${status}${code ? ` (${code})` : ''}`;
  if (code && GONE_CODES.has(code)) return { kind: 'gone', reason: what };
  if (status === 404 || status === 410) return { kind: 'gone', reason: what };
  if (status >= 200 && status < 300) return { kind: 'ok' };
  if (status === 400 && (!code || BAD_PAYLOAD_CODES.has(code))) return { kind: 'degrade', reason: what };
  return { kind: 'fail', reason: what };
}

/** Slack's error bodies are short snake_case codes; anything else is not echoed into results. */
function slackCode(body: string): string | undefined {
  const t = body.trim();
  return /^[a-z_]{2,64}$/.test(t) && t !== 'ok' ? t : undefined;
}
