import type { AnalyzeResult, CycleRecord, EnvironmentConfig, Logger, LoopRecord, LoopStore } from '@greenloop/core';
import { describeError } from '@greenloop/core';
import type { DeliveryPolicy, DeliveryResult } from './http-delivery.ts';
import { DEFAULT_DELIVERY_POLICY, realSleep } from './http-delivery.ts';
import type { SlackMessage } from './messages.ts';
import { cycleFinishedMessage, loopFinishedMessage, loopStartedMessage } from './messages.ts';
import { SlackSender } from './slack.ts';
import { SlackApi } from './slack-api.ts';
import { type SlackThreadConfig, sendThreadEvent } from './slack-thread.ts';
import { WebhookSender } from './webhook.ts';
import { webhookEvent } from './webhook-event.ts';

/** The `notifications` block of an environment in greenloop.yaml. */
export type NotificationsConfig = EnvironmentConfig['notifications'];

/** Which moment of a loop to announce. */
export type NotifyKind = 'loop-started' | 'cycle-finished' | 'loop-finished';

/** One notify job (the payload of the `notify` queue). */
export interface NotifyJob {
  loopId: string;
  kind: NotifyKind;
  /** For cycle-finished; defaults to the loop's current cycle. */
  cycle?: number;
}

/** What happened on one channel. `detail` is safe to show: it never holds a URL or secret. */
export interface ChannelOutcome {
  channel: 'slack' | 'webhook';
  status: 'sent' | 'failed' | 'disabled' | 'not-configured' | 'already-sent';
  detail: string;
  /** The webhook's label ("slack#3f2a9c1b") when a URL was configured; the channel ("slack:C0123ABCD") in bot mode. */
  target?: string;
  attempts?: number;
  /** For failed sends: whether trying again later could succeed. */
  retryable?: boolean;
  /** For failed sends: how long the receiver asked to wait (Retry-After). */
  retryAfterMs?: number;
}

/** What {@link notify} did. It never throws: a notification problem must not fail a loop. */
export interface NotifyOutcome {
  loopId: string;
  kind: NotifyKind;
  cycle?: number;
  channels: ChannelOutcome[];
  /** Set when nothing was attempted (no channels configured, loop or cycle not found). */
  skipped?: string;
}

/** Dependencies of {@link notify}; the ones after `log` are for tests, but `slackApiUrl` (GREENLOOP_SLACK_API_URL). */
export interface NotifyDeps {
  store: LoopStore;
  /** The process environment values named by the config (webhook URL, secret). */
  env: Record<string, string | undefined>;
  config: NotificationsConfig;
  /** The API's public base URL, for links. */
  baseUrl: string;
  log: Logger;
  fetchImpl?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  policy?: Partial<DeliveryPolicy>;
  slackMinIntervalMs?: number;
  /** Bot mode: the Web API's base URL (GovSlack's, or a local fake in tests); default Slack's. */
  slackApiUrl?: string;
  /** Bot mode: a 429 asking for at most this long is waited out in the job; a longer one retries the job then. */
  slackMaxInlineWaitMs?: number;
}

/** Records of what was sent (and of notices given once) expire after this: longer than any loop runs. */
const SENT_RECORD_TTL_SEC = 7 * 86_400;

interface Loaded {
  loop: LoopRecord;
  cycle?: CycleRecord;
  analyze?: AnalyzeResult;
  /** cycle-finished: the previous cycle's analysis (fixed cluster titles); loop-finished: unused. */
  previous?: AnalyzeResult;
  /** loop-finished: clusters still failing that the fix stages left to a person. */
  leftToAPerson?: { fingerprint: string; reason: string }[];
}

/**
 * Sends one notification to every configured channel (Slack and the generic webhook, in parallel).
 * Each channel is sent at most once per loop, kind and cycle. A disabled webhook or a missing env var
 * becomes a `notice` event on the loop, once per loop.
 */
export async function notify(deps: NotifyDeps, job: NotifyJob): Promise<NotifyOutcome> {
  const base: NotifyOutcome = { loopId: job.loopId, kind: job.kind, ...(job.cycle !== undefined ? { cycle: job.cycle } : {}), channels: [] };
  const { slack, webhook } = deps.config;
  if (!slack && !webhook) return { ...base, skipped: 'no notification channels configured' };

  let loaded: Loaded | string;
  try {
    loaded = await load(deps.store, job);
  } catch (err) {
    deps.log.warn({ loopId: job.loopId, kind: job.kind, err: describeError(err) }, 'could not load records for a notification');
    const detail = `could not load the loop: ${describeError(err)}`;
    const failed = (channel: ChannelOutcome['channel']): ChannelOutcome => ({ channel, status: 'failed', detail, retryable: true });
    return { ...base, channels: [...(slack ? [failed('slack')] : []), ...(webhook ? [failed('webhook')] : [])] };
  }
  if (typeof loaded === 'string') return { ...base, skipped: loaded };
  const data = loaded;
  const n = data.cycle?.n ?? (job.kind === 'loop-started' ? 0 : data.loop.cycle);
  const outcome: NotifyOutcome = { ...base, ...(n > 0 ? { cycle: n } : {}) };

  const tasks: Promise<ChannelOutcome>[] = [];
  if (slack) tasks.push(guard('slack', () => sendSlackChannel(deps, job, n, data, slack)));
  if (webhook) tasks.push(guard('webhook', () => sendWebhook(deps, job, n, data, webhook.urlEnv, webhook.secretEnv)));
  outcome.channels = await Promise.all(tasks);
  for (const c of outcome.channels) {
    const fields = { loopId: job.loopId, kind: job.kind, cycle: n, channel: c.channel, target: c.target, status: c.status, detail: c.detail };
    if (c.status === 'sent' || c.status === 'already-sent') deps.log.info(fields, 'notification sent');
    else deps.log.warn(fields, 'notification not sent');
  }
  return outcome;

  // A bug or a Redis outage in one channel must not take the other down, nor throw to the caller.
  async function guard(channel: ChannelOutcome['channel'], fn: () => Promise<ChannelOutcome>): Promise<ChannelOutcome> {
    try {
      return await fn();
    } catch (err) {
      return { channel, status: 'failed', detail: `notification failed: ${describeError(err)}`, retryable: true };
    }
  }
}

async function load(store: LoopStore, job: NotifyJob): Promise<Loaded | string> {
  const loop = await store.getLoop(job.loopId);
  if (!loop) return `loop ${job.loopId} not found`;
  if (job.kind === 'loop-started') return { loop };
  const n = job.kind === 'cycle-finished' ? (job.cycle ?? loop.cycle) : loop.cycle;
  if (n < 1) return job.kind === 'cycle-finished' ? `loop ${loop.id} has no cycle yet` : { loop };
  const cycle = await store.getCycle(loop.id, n);
  if (!cycle) return job.kind === 'cycle-finished' ? `cycle ${n} of loop ${loop.id} not found` : { loop };
  const analyze = (await store.getStage(loop.id, n, 'analyze'))?.result;
  const previous = job.kind === 'cycle-finished' && n > 1 ? (await store.getStage(loop.id, n - 1, 'analyze'))?.result : undefined;
  const left = job.kind === 'loop-finished' ? await leftToAPerson(store, loop.id, n, analyze) : [];
  return { loop, cycle, ...(analyze ? { analyze } : {}), ...(previous ? { previous } : {}), ...(left.length ? { leftToAPerson: left } : {}) };
}

/**
 * Clusters the fix stages stopped sending to fixers ("needs a person": a triage class no fixer takes, or
 * the attempt budget spent) that were still failing at the last analysis: what the people reading the
 * final message have to pick up. The latest reason per cluster wins.
 */
async function leftToAPerson(
  store: LoopStore,
  loopId: string,
  upTo: number,
  last: AnalyzeResult | undefined,
): Promise<{ fingerprint: string; reason: string }[]> {
  const reasons = new Map<string, string>();
  for (let n = 1; n <= upTo; n++) {
    const fix = (await store.getStage(loopId, n, 'fix'))?.result;
    for (const s of fix?.skipped ?? []) if (s.reason.startsWith('needs a person')) reasons.set(s.fingerprint, s.reason);
  }
  const failing = last ? new Set(last.clusters.map((c) => c.fingerprint)) : undefined;
  return [...reasons].filter(([fp]) => !failing || failing.has(fp)).map(([fingerprint, reason]) => ({ fingerprint, reason }));
}

function slackMessage(job: NotifyJob, data: Loaded, baseUrl: string): SlackMessage {
  const ctx = { baseUrl };
  if (job.kind === 'loop-started') return loopStartedMessage(data.loop, ctx);
  if (job.kind === 'cycle-finished' && data.cycle) {
    return cycleFinishedMessage(
      { loop: data.loop, cycle: data.cycle, ...(data.analyze ? { analyze: data.analyze } : {}), ...(data.previous ? { previous: data.previous } : {}) },
      ctx,
    );
  }
  return loopFinishedMessage(
    { loop: data.loop, ...(data.analyze ? { lastAnalyze: data.analyze } : {}), ...(data.leftToAPerson ? { leftToAPerson: data.leftToAPerson } : {}) },
    ctx,
  );
}

/** What both senders share: Redis for spacing and disabled flags, and the injectable clock and transport. */
function senderOptions(deps: NotifyDeps) {
  return {
    redis: deps.store.redis,
    prefix: deps.store.prefix,
    log: deps.log,
    ...(deps.fetchImpl ? { fetchImpl: deps.fetchImpl } : {}),
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.policy ? { policy: deps.policy } : {}),
  };
}

/** Bot mode when a bot token is configured and set; the incoming webhook is the fallback. */
async function sendSlackChannel(
  deps: NotifyDeps,
  job: NotifyJob,
  n: number,
  data: Loaded,
  slack: NonNullable<NotificationsConfig['slack']>,
): Promise<ChannelOutcome> {
  const { botTokenEnv, channel, webhookUrlEnv } = slack;
  if (botTokenEnv && channel) {
    const token = deps.env[botTokenEnv];
    if (token) return await sendSlackThread(deps, job, n, data, token, { botTokenEnv, channel, mention: slack.mention ?? [] });
    if (!webhookUrlEnv) return await notConfigured(deps, job.loopId, 'slack', `${botTokenEnv} is not set`);
    await noticeOnce(
      deps,
      job.loopId,
      'slack:bot-token-missing',
      `Slack bot token ${botTokenEnv} is not set; sending to the incoming webhook in ${webhookUrlEnv} instead (no thread, no updates in place).`,
      {
        channel: 'slack',
        reason: `${botTokenEnv} is not set`,
      },
    );
  }
  if (!webhookUrlEnv) return await notConfigured(deps, job.loopId, 'slack', 'neither botTokenEnv nor webhookUrlEnv is configured');
  return await sendSlack(deps, job, n, data, webhookUrlEnv);
}

/** Bot mode: the loop's thread (parent updated in place, one reply per cycle and one at the end). */
async function sendSlackThread(deps: NotifyDeps, job: NotifyJob, n: number, data: Loaded, token: string, cfg: SlackThreadConfig): Promise<ChannelOutcome> {
  const target = `slack:${cfg.channel}`;
  const sentKey = deps.store.key('notify', 'sent', job.loopId, job.kind, n, 'slack');
  if (await deps.store.redis.exists(sentKey)) return { channel: 'slack', target, status: 'already-sent', detail: 'already sent' };
  const policy = { ...DEFAULT_DELIVERY_POLICY, ...deps.policy };
  const api = new SlackApi({
    token,
    ...(deps.slackApiUrl ? { apiUrl: deps.slackApiUrl } : {}),
    log: deps.log,
    policy,
    sleep: deps.sleep ?? realSleep,
    maxInlineRetryAfterMs: deps.slackMaxInlineWaitMs ?? 10_000,
    spacing: { redis: deps.store.redis, prefix: deps.store.prefix, minIntervalMs: deps.slackMinIntervalMs ?? 1000 },
  });
  // A person is asked about a cluster in the first digest after a fix stage gave up on it.
  const needsAPerson = job.kind === 'cycle-finished' && n > 1 ? await leftToAPerson(deps.store, job.loopId, n - 1, data.analyze) : [];
  const r = await sendThreadEvent({ store: deps.store, api, baseUrl: deps.baseUrl, needsAPerson }, cfg, {
    kind: job.kind,
    n,
    loop: data.loop,
    ...(data.cycle ? { cycle: data.cycle } : {}),
    ...(data.analyze ? { analyze: data.analyze } : {}),
    ...(data.previous ? { previous: data.previous } : {}),
    ...(data.leftToAPerson ? { leftToAPerson: data.leftToAPerson } : {}),
  });
  switch (r.status) {
    case 'sent':
      await deps.store.redis.set(sentKey, '1', 'EX', SENT_RECORD_TTL_SEC);
      return { channel: 'slack', target, status: 'sent', detail: r.detail, attempts: r.calls };
    case 'disabled':
      return { channel: 'slack', target, status: 'disabled', detail: r.detail };
    case 'failed':
      if (r.permanent)
        await noticeOnce(deps, job.loopId, `slack:${r.permanent.code}`, r.permanent.message, { channel: 'slack', target, reason: r.permanent.code });
      return {
        channel: 'slack',
        target,
        status: 'failed',
        detail: r.detail,
        attempts: r.calls,
        retryable: r.retryable,
        ...(r.retryAfterMs !== undefined ? { retryAfterMs: r.retryAfterMs } : {}),
      };
  }
}

async function sendSlack(deps: NotifyDeps, job: NotifyJob, n: number, data: Loaded, urlEnv: string): Promise<ChannelOutcome> {
  const url = await configuredUrl(deps, job.loopId, 'slack', urlEnv);
  if (typeof url !== 'string') return url;
  const sentKey = deps.store.key('notify', 'sent', job.loopId, job.kind, n, 'slack');
  if (await deps.store.redis.exists(sentKey)) return { channel: 'slack', status: 'already-sent', detail: 'already sent' };
  const sender = new SlackSender({
    ...senderOptions(deps),
    ...(deps.slackMinIntervalMs !== undefined ? { minIntervalMs: deps.slackMinIntervalMs } : {}),
  });
  const result = await sender.send(url, slackMessage(job, data, deps.baseUrl));
  return await finish(deps, job, 'slack', urlEnv, sentKey, result);
}

async function sendWebhook(deps: NotifyDeps, job: NotifyJob, n: number, data: Loaded, urlEnv: string, secretEnv: string): Promise<ChannelOutcome> {
  const url = await configuredUrl(deps, job.loopId, 'webhook', urlEnv);
  if (typeof url !== 'string') return url;
  const secret = deps.env[secretEnv];
  // An unsigned event would be indistinguishable from a forged one: refuse rather than send it.
  if (!secret) return await notConfigured(deps, job.loopId, 'webhook', `${secretEnv} is not set`);
  const sentKey = deps.store.key('notify', 'sent', job.loopId, job.kind, n, 'webhook');
  if (await deps.store.redis.exists(sentKey)) return { channel: 'webhook', status: 'already-sent', detail: 'already sent' };
  const sender = new WebhookSender(senderOptions(deps));
  const event = webhookEvent({
    kind: job.kind,
    loop: data.loop,
    ...(data.cycle ? { cycle: data.cycle } : {}),
    ...(data.analyze ? { analyze: data.analyze } : {}),
    ...(data.leftToAPerson ? { leftToAPerson: data.leftToAPerson } : {}),
    baseUrl: deps.baseUrl,
  });
  // Stable across job retries: a post whose "sent" record was lost (worker died) is a duplicate the receiver can drop.
  const deliveryId = `${job.loopId}.${job.kind}.${n}`;
  const result = await sender.send(url, secret, { type: event.type, payload: event, deliveryId });
  return await finish(deps, job, 'webhook', urlEnv, sentKey, result);
}

/** The URL from the env var, or the not-configured outcome (with its once-per-loop notice). */
async function configuredUrl(deps: NotifyDeps, loopId: string, channel: ChannelOutcome['channel'], urlEnv: string): Promise<string | ChannelOutcome> {
  const url = deps.env[urlEnv];
  if (!url) return await notConfigured(deps, loopId, channel, `${urlEnv} is not set`);
  if (!isHttpUrl(url)) return await notConfigured(deps, loopId, channel, `${urlEnv} is not an http(s) URL`);
  return url;
}

async function notConfigured(deps: NotifyDeps, loopId: string, channel: ChannelOutcome['channel'], why: string): Promise<ChannelOutcome> {
  const detail = `not configured: ${why}`;
  await noticeOnce(deps, loopId, `${channel}:not-configured`, `${channelName(channel)} notifications are not sent: ${why}.`, { channel, reason: detail });
  return { channel, status: 'not-configured', detail };
}

async function finish(
  deps: NotifyDeps,
  job: NotifyJob,
  channel: ChannelOutcome['channel'],
  urlEnv: string,
  sentKey: string,
  r: DeliveryResult,
): Promise<ChannelOutcome> {
  const common = { channel, target: r.target, attempts: r.attempts };
  switch (r.status) {
    case 'sent':
      await deps.store.redis.set(sentKey, '1', 'EX', SENT_RECORD_TTL_SEC);
      return { ...common, status: 'sent', detail: r.degraded ? 'sent as plain text (Slack refused the blocks)' : 'sent' };
    case 'disabled': {
      const message = `${channelName(channel)} webhook ${r.target} is disabled (${r.reason}); notifications to it stop until ${urlEnv} holds a new URL.`;
      await noticeOnce(deps, job.loopId, `${channel}:disabled:${r.target}`, message, { channel, target: r.target, reason: r.reason });
      return { ...common, status: 'disabled', detail: `disabled: ${r.reason}` };
    }
    case 'failed':
      return {
        ...common,
        status: 'failed',
        detail: r.reason,
        retryable: r.retryable,
        ...(r.retryAfterMs !== undefined ? { retryAfterMs: r.retryAfterMs } : {}),
      };
  }
}

/** One `notice` event per loop and subject, however many notifications hit the same problem. */
async function noticeOnce(deps: NotifyDeps, loopId: string, subject: string, message: string, data: Record<string, unknown>): Promise<void> {
  const first = await deps.store.redis.set(deps.store.key('notify', 'notice', loopId, subject), '1', 'EX', SENT_RECORD_TTL_SEC, 'NX');
  if (first !== 'OK') return;
  deps.log.warn({ loopId, ...data }, message);
  await deps.store.addNotice(loopId, message);
  await deps.store.emit({ type: 'notice', loopId, message, data: { source: 'notify', ...data } });
}

function channelName(channel: ChannelOutcome['channel']): string {
  return channel === 'slack' ? 'Slack' : 'Webhook';
}

function isHttpUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}
