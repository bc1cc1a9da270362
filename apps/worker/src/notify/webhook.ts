import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Logger } from '@greenloop/core';
import type { DeliveryPolicy, DeliveryResult, Verdict } from './http-delivery.ts';
import { DEFAULT_DELIVERY_POLICY, deliver, realSleep } from './http-delivery.ts';
import type { SlackSenderOptions } from './slack.ts';
import { WebhookState, webhookLabel } from './webhook-state.ts';

/** Header carrying `sha256=<hex>` of HMAC-SHA256(secret, `<timestamp>.<body>`). */
export const SIGNATURE_HEADER = 'x-greenloop-signature';
/** Unix seconds at signing; receivers reject old timestamps to stop replays. */
export const TIMESTAMP_HEADER = 'x-greenloop-timestamp';
/** The event type, e.g. "cycle.finished". */
export const EVENT_HEADER = 'x-greenloop-event';
/**
 * One id per notification (`<loop>.<kind>.<cycle>` when the notifier sends), the same on every retry,
 * including a retried notify job that posts again because the worker died before recording "sent":
 * receivers drop duplicates by it.
 */
export const DELIVERY_HEADER = 'x-greenloop-delivery';

/** `sha256=<hex>` over `<timestamp>.<body>`. */
export function signPayload(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * What a receiver does: recompute the signature, compare in constant time and reject timestamps more
 * than `toleranceSec` (default 300) away from now.
 */
export function verifySignature(opts: { secret: string; timestamp: string; body: string; signature: string; nowSec?: number; toleranceSec?: number }): boolean {
  const ts = Number(opts.timestamp);
  if (!/^\d+$/.test(opts.timestamp) || !Number.isSafeInteger(ts)) return false;
  const now = opts.nowSec ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - ts) > (opts.toleranceSec ?? 300)) return false;
  const expected = Buffer.from(signPayload(opts.secret, opts.timestamp, opts.body));
  const given = Buffer.from(opts.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** Options of {@link WebhookSender}: the Slack sender's, without its spacing. */
export type WebhookSenderOptions = Omit<SlackSenderOptions, 'minIntervalMs'>;

/**
 * Posts signed JSON events to a generic webhook with the same retry and timeout policy as Slack. A
 * 410 Gone disables the webhook (a receiver saying "never again"); a 404 is only a failed send, since
 * a generic receiver may be mid-deploy.
 */
export class WebhookSender {
  readonly state: WebhookState;
  private readonly log: Logger;
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly policy: DeliveryPolicy;

  constructor(opts: WebhookSenderOptions) {
    this.state = new WebhookState(opts.redis, opts.prefix);
    this.log = opts.log;
    this.fetchImpl = opts.fetchImpl ?? fetch;
    this.sleep = opts.sleep ?? realSleep;
    this.now = opts.now ?? Date.now;
    this.policy = { ...DEFAULT_DELIVERY_POLICY, ...opts.policy };
  }

  /** Sends one event; each attempt is signed afresh so its timestamp is current. Never throws for HTTP failures. */
  async send(url: string, secret: string, event: { type: string; payload: unknown; deliveryId?: string }): Promise<DeliveryResult> {
    const target = webhookLabel('webhook', url);
    const off = await this.state.disabled('webhook', url);
    if (off) return { status: 'disabled', target, attempts: 0, reason: off.reason, newly: false };
    const body = JSON.stringify(event.payload);
    const delivery = event.deliveryId ?? randomUUID();
    const raw = await deliver({ fetchImpl: this.fetchImpl, sleep: this.sleep, now: this.now, log: this.log }, this.policy, {
      url,
      target,
      build: () => {
        const timestamp = String(Math.floor(this.now() / 1000));
        return {
          body,
          headers: {
            'user-agent': 'greenloop-notify/1',
            [EVENT_HEADER]: event.type,
            [DELIVERY_HEADER]: delivery,
            [TIMESTAMP_HEADER]: timestamp,
            [SIGNATURE_HEADER]: signPayload(secret, timestamp, body),
          },
        };
      },
      classify: classifyWebhook,
      wait: (ms) => this.sleep(ms),
    });
    if (raw.status !== 'gone') return raw;
    await this.state.disable('webhook', url, raw.reason);
    this.log.warn({ webhook: target, status: raw.httpStatus }, 'webhook answered 410 Gone; disabled it');
    return { status: 'disabled', target, attempts: raw.attempts, reason: raw.reason, newly: true, httpStatus: raw.httpStatus };
  }
}

function classifyWebhook(status: number): Verdict {
  if (status >= 200 && status < 300) return { kind: 'ok' };
  if (status === 410) return { kind: 'gone', reason: 'webhook answered 410 Gone' };
  return { kind: 'fail', reason: `webhook answered ${status}` };
}
