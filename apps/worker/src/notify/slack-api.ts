import type { Logger, Redis } from '@greenloop/core';
import { redact } from '@greenloop/core';
import { ErrorCode, LogLevel, type Logger as SlackLogger, WebClient } from '@slack/web-api';
import type { DeliveryPolicy } from './http-delivery.ts';
import type { SlackBlock } from './messages.ts';
import { WebhookState } from './webhook-state.ts';

/**
 * greenloop's two Web API calls (`chat.postMessage`, `chat.update`) through Slack's own client, with
 * every failure turned into a verdict the thread logic can act on. The token lives only inside the
 * WebClient (its Authorization header); results, log lines and errors name Slack's error code only.
 */

/** What one call came to. */
export type SlackCall =
  | { ok: true; channel: string; ts: string }
  | {
      ok: false;
      /** Slack's error code (`channel_not_found`, `ratelimited`, …) or greenloop's (`http_503`, `network_error`). */
      code: string;
      /**
       * `permanent`: no retry can fix it (token, channel, scope) — say so once, stop trying;
       * `message-gone`: the message to update (or reply under) is gone — post a new parent;
       * `retry`: later may work (rate limit, outage); `fail`: this message was refused.
       */
      kind: 'permanent' | 'message-gone' | 'retry' | 'fail';
      reason: string;
      retryAfterMs?: number;
    };

/** Codes a retry cannot fix: the token, the app's scopes or the channel must change first. */
const PERMANENT_CODES = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'channel_is_archived',
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'not_allowed_token_type',
  'team_access_not_granted',
  'restricted_action',
  'ekm_access_denied',
  'org_login_required',
]);

/** The message greenloop wanted to edit or thread under no longer exists (deleted by a person, or too old). */
const MESSAGE_GONE_CODES = new Set(['message_not_found', 'cant_update_message', 'edit_window_closed', 'thread_not_found']);

/** Options of {@link SlackApi}. */
export interface SlackApiOptions {
  token: string;
  /** The Web API's base URL; tests point it at a local fake. Default Slack's. */
  apiUrl?: string;
  log: Logger;
  policy: DeliveryPolicy;
  sleep: (ms: number) => Promise<void>;
  /**
   * A 429 whose Retry-After is at most this is waited out here and the call tried again (up to 3 times);
   * a longer one is returned as `retry` with its wait, so the notify job is retried then instead of
   * holding the notify worker.
   */
  maxInlineRetryAfterMs: number;
  /** Spacing of posts to one channel across every worker (Slack allows about one message a second). */
  spacing: { redis: Redis; prefix: string; minIntervalMs: number };
}

const MAX_INLINE_RATE_LIMITS = 3;

/** `chat.postMessage` and `chat.update` on one channel, for one bot token. */
export class SlackApi {
  private readonly client: WebClient;
  private readonly opts: SlackApiOptions;
  private readonly state: WebhookState;

  constructor(opts: SlackApiOptions) {
    this.opts = opts;
    this.state = new WebhookState(opts.spacing.redis, opts.spacing.prefix);
    this.client = new WebClient(opts.token, {
      ...(opts.apiUrl ? { slackApiUrl: opts.apiUrl } : {}),
      logger: clientLogger(opts.log),
      // greenloop decides how long a rate limit may hold the worker (see maxInlineRetryAfterMs).
      rejectRateLimitedCalls: true,
      timeout: opts.policy.timeoutMs,
      // Network errors and 5xx: the client's own retry, bounded by the delivery policy.
      retryConfig: {
        retries: Math.max(0, opts.policy.maxAttempts - 1),
        factor: 2,
        minTimeout: opts.policy.backoffMs,
        maxTimeout: opts.policy.maxBackoffMs,
        randomize: false,
      },
      // Slack never redirects the Web API; a method name is all greenloop ever passes.
      allowAbsoluteUrls: false,
    });
  }

  /** Posts a message (a thread reply with `threadTs`). */
  async post(msg: { channel: string; text: string; blocks: SlackBlock[]; threadTs?: string }): Promise<SlackCall> {
    return await this.call('chat.postMessage', msg.channel, async () => {
      const r = await this.client.chat.postMessage({
        channel: msg.channel,
        text: msg.text,
        blocks: msg.blocks,
        // Links in digests point at greenloop's own API: a preview card per reply is noise.
        unfurl_links: false,
        unfurl_media: false,
        ...(msg.threadTs ? { thread_ts: msg.threadTs } : {}),
      });
      return { channel: r.channel ?? msg.channel, ts: r.ts ?? '' };
    });
  }

  /** Rewrites a message in place. */
  async update(msg: { channel: string; ts: string; text: string; blocks: SlackBlock[] }): Promise<SlackCall> {
    return await this.call('chat.update', msg.channel, async () => {
      const r = await this.client.chat.update({ channel: msg.channel, ts: msg.ts, text: msg.text, blocks: msg.blocks });
      return { channel: r.channel ?? msg.channel, ts: r.ts ?? msg.ts };
    });
  }

  private async call(method: string, channel: string, fn: () => Promise<{ channel: string; ts: string }>): Promise<SlackCall> {
    for (let limited = 0; ; limited++) {
      if (method === 'chat.postMessage') {
        const wait = await this.state.reserveSlot('slack', `web-api:${channel}`, { intervalMs: this.opts.spacing.minIntervalMs, notBeforeMs: 0 });
        await this.opts.sleep(wait);
      }
      let out: SlackCall;
      try {
        const r = await fn();
        out = r.ts ? { ok: true, ...r } : { ok: false, code: 'no_ts', kind: 'fail', reason: `slack answered ${method} without a message ts` };
      } catch (err) {
        out = verdictOf(err, method);
      }
      if (out.ok || out.code !== 'ratelimited' || out.retryAfterMs === undefined) return out;
      if (out.retryAfterMs > this.opts.maxInlineRetryAfterMs || limited + 1 >= MAX_INLINE_RATE_LIMITS) return out;
      this.opts.log.info({ method, retryAfterMs: out.retryAfterMs }, 'slack rate limited the call; waiting its Retry-After');
      await this.opts.sleep(out.retryAfterMs);
    }
  }
}

/** A thrown WebClient error as a verdict; only codes and statuses are kept (a message may quote a URL). */
export function verdictOf(err: unknown, method: string): Extract<SlackCall, { ok: false }> {
  const e = err as { code?: unknown; data?: { error?: unknown }; retryAfter?: unknown; statusCode?: unknown; original?: unknown; message?: unknown };
  switch (e?.code) {
    case ErrorCode.PlatformError: {
      const code = typeof e.data?.error === 'string' && /^[a-z0-9_]{2,64}$/.test(e.data.error) ? e.data.error : 'unknown_error';
      const reason = `slack answered ${method} with ${code}`;
      if (code === 'ratelimited') return { ok: false, code, kind: 'retry', reason };
      if (PERMANENT_CODES.has(code)) return { ok: false, code, kind: 'permanent', reason };
      if (MESSAGE_GONE_CODES.has(code)) return { ok: false, code, kind: 'message-gone', reason };
      if (code === 'internal_error' || code === 'fatal_error' || code === 'service_unavailable' || code === 'request_timeout') {
        return { ok: false, code, kind: 'retry', reason };
      }
      return { ok: false, code, kind: 'fail', reason };
    }
    case ErrorCode.RateLimitedError: {
      const sec = typeof e.retryAfter === 'number' && Number.isFinite(e.retryAfter) ? Math.max(0, e.retryAfter) : undefined;
      return {
        ok: false,
        code: 'ratelimited',
        kind: 'retry',
        reason: `slack rate limited ${method}${sec !== undefined ? ` (Retry-After ${sec}s)` : ''}`,
        ...(sec !== undefined ? { retryAfterMs: sec * 1000 } : {}),
      };
    }
    case ErrorCode.HTTPError: {
      const status = typeof e.statusCode === 'number' ? e.statusCode : 0;
      const kind = status >= 500 || status === 408 ? 'retry' : 'fail';
      return { ok: false, code: `http_${status}`, kind, reason: `slack answered ${method} with HTTP ${status}` };
    }
    case ErrorCode.RequestError: {
      const o = e.original as { name?: unknown; cause?: { code?: unknown } } | undefined;
      if (o?.name === 'TimeoutError' || o?.name === 'AbortError') return { ok: false, code: 'timeout', kind: 'retry', reason: `${method} timed out` };
      const net = typeof o?.cause?.code === 'string' && /^[A-Z0-9_]{2,40}$/.test(o.cause.code) ? ` (${o.cause.code})` : '';
      return { ok: false, code: 'network_error', kind: 'retry', reason: `${method} failed: network error${net}` };
    }
    default: {
      // A 429 without a usable Retry-After ends as a plain Error; anything else is a bug worth a retry.
      const limited = typeof e?.message === 'string' && e.message.startsWith('Retry header did not contain');
      return limited
        ? { ok: false, code: 'ratelimited', kind: 'retry', reason: `slack rate limited ${method} without a Retry-After` }
        : { ok: false, code: 'client_error', kind: 'retry', reason: `${method} failed in the Slack client: ${redact(String(e?.message ?? err))}` };
    }
  }
}

/** The WebClient's own logging, at warn and above, through greenloop's logger and the redactor. */
function clientLogger(log: Logger): SlackLogger {
  let level = LogLevel.WARN;
  const text = (msgs: unknown[]) => redact(msgs.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join(' '));
  return {
    debug: () => {},
    info: () => {},
    warn: (...msgs: unknown[]) => log.warn({ slackClient: text(msgs) }, 'slack client warning'),
    error: (...msgs: unknown[]) => log.error({ slackClient: text(msgs) }, 'slack client error'),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}
