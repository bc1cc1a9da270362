import { randomUUID } from 'node:crypto';
import type { AnalyzeResult, CycleRecord, LoopRecord, LoopStore } from '@greenloop/core';
import type { SlackMessage } from './messages.ts';
import { cycleFinishedMessage, loopFinishedMessage } from './messages.ts';
import { safeInline } from './mrkdwn.ts';
import type { SlackApi, SlackCall } from './slack-api.ts';
import { mentionText, parentMessage, spentText, withThreadExtras } from './thread-messages.ts';

/**
 * Slack's bot mode: one thread per loop. The loop's parent message is posted once and rewritten in place
 * (`chat.update`) with the state, cycle, pass rate and spend; each cycle's digest and the loop's ending
 * are thread replies. Where the thread is lives in Redis, so a restarted or different worker keeps
 * updating the same parent, and each reply is recorded once posted, so a retried job never posts it
 * twice. A person is mentioned only when the loop ends stopped or failed, or a cluster newly needs one.
 */

/** The bot-mode part of `notifications.slack`. */
export interface SlackThreadConfig {
  channel: string;
  mention: readonly string[];
  /** The env var that holds the token, for messages that tell an operator what to fix. */
  botTokenEnv: string;
}

/** What the notifier loaded for one event. */
export interface ThreadEvent {
  kind: 'loop-started' | 'cycle-finished' | 'loop-finished';
  /** The event's cycle (0 for loop-started). */
  n: number;
  loop: LoopRecord;
  cycle?: CycleRecord;
  analyze?: AnalyzeResult;
  previous?: AnalyzeResult;
  leftToAPerson?: { fingerprint: string; reason: string }[];
}

/** What the thread did; `detail` is safe to show (codes and counts, never the token). */
export type ThreadResult =
  | { status: 'sent'; detail: string; calls: number }
  | { status: 'disabled'; detail: string }
  | { status: 'failed'; detail: string; retryable: boolean; retryAfterMs?: number; calls: number; permanent?: { code: string; message: string } };

/** Everything the thread needs besides the event. */
export interface ThreadDeps {
  store: LoopStore;
  api: SlackApi;
  baseUrl: string;
  /** Clusters newly handed to a person at cycle `n` (the fix stages of earlier cycles, still failing). */
  needsAPerson?: { fingerprint: string; reason: string }[];
}

/** Thread keys outlive any loop; retention deletes them with the loop (`notify:*:<loop>:*`). */
const THREAD_TTL_SEC = 30 * 86_400;
/**
 * One worker at a time writes a loop's thread: two would both find no parent and post two. Longer than
 * an event can take (up to four calls of 10 s each, plus up to three inline rate-limit waits of 10 s).
 */
const LOCK_MS = 5 * 60_000;
/** A reply waits this long, at most {@link MAX_ORDER_WAITS} times, for the one before it. */
const ORDER_WAIT_MS = 2000;
const MAX_ORDER_WAITS = 5;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** Posts or updates the loop's thread for one event. Never throws for Slack failures. */
export async function sendThreadEvent(deps: ThreadDeps, cfg: SlackThreadConfig, ev: ThreadEvent): Promise<ThreadResult> {
  const { store } = deps;
  const key = (what: string) => store.key('notify', 'thread', ev.loop.id, what);
  const broken = await store.redis.get(key('broken'));
  if (broken) return { status: 'disabled', detail: `stopped for this loop: ${broken}` };

  const waiting = await previousReplyMissing(store, ev);
  if (waiting) return { status: 'failed', detail: waiting, retryable: true, retryAfterMs: ORDER_WAIT_MS, calls: 0 };

  const token = randomUUID();
  if ((await store.redis.set(key('lock'), token, 'PX', LOCK_MS, 'NX')) !== 'OK') {
    return { status: 'failed', detail: "another worker is writing this loop's Slack thread", retryable: true, retryAfterMs: 2000, calls: 0 };
  }
  let calls = 0;
  const api = {
    post: async (m: Parameters<SlackApi['post']>[0]) => {
      calls++;
      return await deps.api.post(m);
    },
    update: async (m: Parameters<SlackApi['update']>[0]) => {
      calls++;
      return await deps.api.update(m);
    },
  };
  try {
    // 1. The parent: posted once, then rewritten in place with the loop as it is now.
    const parentMsg = parentMessage({ loop: ev.loop, ...(await newestTotals(store, ev)) }, { baseUrl: deps.baseUrl });
    const saved = await store.redis.get(key('parent'));
    let parent = saved ? (JSON.parse(saved) as { channel: string; ts: string }) : undefined;
    if (parent) {
      const r = await api.update({ channel: parent.channel, ts: parent.ts, text: parentMsg.text, blocks: parentMsg.blocks });
      if (!r.ok && r.kind === 'message-gone') parent = undefined;
      else if (!r.ok) return await failed(r);
    }
    if (!parent) {
      const r = await api.post({ channel: cfg.channel, text: parentMsg.text, blocks: parentMsg.blocks });
      if (!r.ok) return await failed(r);
      parent = { channel: r.channel, ts: r.ts };
      await store.redis.set(key('parent'), JSON.stringify(parent), 'EX', THREAD_TTL_SEC);
    }

    // 2. The reply for this event, once.
    const reply = await replyFor(deps, cfg, ev);
    if (reply) {
      const done = key(`reply-${reply.id}`);
      if (!(await store.redis.exists(done))) {
        let r = await api.post({ channel: parent.channel, threadTs: parent.ts, text: reply.msg.text, blocks: reply.msg.blocks });
        if (!r.ok && r.kind === 'message-gone') {
          // The parent went between the update and the reply: start a new thread and reply there.
          const p = await api.post({ channel: cfg.channel, text: parentMsg.text, blocks: parentMsg.blocks });
          if (!p.ok) return await failed(p);
          parent = { channel: p.channel, ts: p.ts };
          await store.redis.set(key('parent'), JSON.stringify(parent), 'EX', THREAD_TTL_SEC);
          r = await api.post({ channel: parent.channel, threadTs: parent.ts, text: reply.msg.text, blocks: reply.msg.blocks });
        }
        if (!r.ok) return await failed(r);
        await store.redis.set(done, r.ts, 'EX', THREAD_TTL_SEC);
        if (reply.mentioned.length) await store.redis.sadd(key('mentioned'), ...reply.mentioned);
        await store.redis.expire(key('mentioned'), THREAD_TTL_SEC);
      }
    }
    return { status: 'sent', detail: reply ? `thread updated, ${reply.id} posted` : 'thread updated', calls };
  } finally {
    await store.redis.eval(RELEASE, 1, key('lock'), token);
  }

  async function failed(r: Extract<SlackCall, { ok: false }>): Promise<ThreadResult> {
    if (r.kind === 'permanent') {
      const message = `Slack notifications for this loop stopped: ${r.reason}. ${hintFor(r.code, cfg)}`;
      await store.redis.set(key('broken'), r.code, 'EX', THREAD_TTL_SEC);
      return { status: 'failed', detail: r.reason, retryable: false, calls, permanent: { code: r.code, message } };
    }
    const retryable = r.kind === 'retry' || r.kind === 'message-gone';
    return { status: 'failed', detail: r.reason, retryable, calls, ...(r.retryAfterMs !== undefined ? { retryAfterMs: r.retryAfterMs } : {}) };
  }
}

/**
 * The thread reads in order: a cycle's digest waits for the previous cycle's, and the ending for the last
 * cycle's. The last digest and the ending are enqueued moments apart, and two workers could otherwise post
 * them the wrong way round. The wait is bounded: after {@link MAX_ORDER_WAITS} retries (or when the earlier
 * notification will never come: its cycle was never analyzed) the reply is posted anyway.
 */
async function previousReplyMissing(store: LoopStore, ev: ThreadEvent): Promise<string | undefined> {
  const prev = ev.kind === 'cycle-finished' ? ev.n - 1 : ev.kind === 'loop-finished' ? ev.loop.cycle : 0;
  if (prev < 1) return undefined;
  const key = (what: string) => store.key('notify', 'thread', ev.loop.id, what);
  if (await store.redis.exists(key(`reply-cycle-${prev}`))) return undefined;
  if (!(await store.getCycle(ev.loop.id, prev))?.totals) return undefined;
  const id = ev.kind === 'cycle-finished' ? `cycle-${ev.n}` : 'end';
  const waits = await store.redis.incr(key(`order-wait-${id}`));
  await store.redis.expire(key(`order-wait-${id}`), THREAD_TTL_SEC);
  return waits <= MAX_ORDER_WAITS ? `waiting for cycle ${prev}'s digest so the thread stays in order` : undefined;
}

/** What an operator does about a permanent error. */
export function hintFor(code: string, cfg: SlackThreadConfig): string {
  switch (code) {
    case 'channel_not_found':
      return `Check notifications.slack.channel (${cfg.channel}): it must be a channel id the bot can see (a private channel needs the bot invited).`;
    case 'not_in_channel':
      return `Invite the bot to the channel (${cfg.channel}): /invite @<your app> in Slack.`;
    case 'is_archived':
    case 'channel_is_archived':
      return `Channel ${cfg.channel} is archived: unarchive it or configure another channel.`;
    case 'missing_scope':
    case 'no_permission':
    case 'not_allowed_token_type':
      return `The value of ${cfg.botTokenEnv} must be a bot token (xoxb-…) of an app with the chat:write scope; reinstall the app after adding it.`;
    default:
      return `The value of ${cfg.botTokenEnv} is not a working bot token (revoked, expired or mistyped): set a current one and restart the worker.`;
  }
}

/** The parent shows the newest results: the current cycle's once analyzed, else the loop's latest. */
async function newestTotals(store: LoopStore, ev: ThreadEvent): Promise<{ totals?: NonNullable<LoopRecord['latest']> }> {
  if (ev.loop.cycle > 0) {
    const current = ev.cycle?.n === ev.loop.cycle ? ev.cycle : await store.getCycle(ev.loop.id, ev.loop.cycle);
    if (current?.totals) return { totals: current.totals };
  }
  if (ev.kind === 'cycle-finished' && ev.analyze && ev.n >= ev.loop.cycle) return { totals: ev.analyze.totals };
  return ev.loop.latest ? { totals: ev.loop.latest } : {};
}

interface Reply {
  /** The reply's idempotency id in the thread: `cycle-3`, `end`. */
  id: string;
  msg: SlackMessage;
  /** Fingerprints this reply asks a person about (recorded so the next cycle does not ask again). */
  mentioned: string[];
}

async function replyFor(deps: ThreadDeps, cfg: SlackThreadConfig, ev: ThreadEvent): Promise<Reply | undefined> {
  const ctx = { baseUrl: deps.baseUrl };
  const mention = mentionText(cfg.mention);
  if (ev.kind === 'cycle-finished' && ev.cycle) {
    const digest = cycleFinishedMessage(
      { loop: ev.loop, cycle: ev.cycle, ...(ev.analyze ? { analyze: ev.analyze } : {}), ...(ev.previous ? { previous: ev.previous } : {}) },
      ctx,
    );
    const asked = new Set(await deps.store.redis.smembers(deps.store.key('notify', 'thread', ev.loop.id, 'mentioned')));
    const fresh = (deps.needsAPerson ?? []).filter((c) => !asked.has(c.fingerprint));
    const titles = new Map((ev.analyze?.clusters ?? []).map((c) => [c.fingerprint, c.title]));
    const why = fresh.length
      ? `${fresh.length === 1 ? 'a failure cluster needs' : `${fresh.length} failure clusters need`} a person: ${fresh
          .slice(0, 5)
          .map((c) => `*${safeInline(titles.get(c.fingerprint) ?? c.fingerprint.slice(0, 12), 120)}* (${safeInline(c.reason, 160)})`)
          .join('; ')}${fresh.length > 5 ? `; …and ${fresh.length - 5} more` : ''}`
      : undefined;
    const spent = spentText(ev.cycle);
    const msg = withThreadExtras(digest, { ...(mention && why ? { mention, why } : {}), ...(spent ? { spent } : {}) });
    return { id: `cycle-${ev.cycle.n}`, msg, mentioned: mention && why ? fresh.map((c) => c.fingerprint) : [] };
  }
  if (ev.kind === 'loop-finished') {
    const ending = loopFinishedMessage(
      {
        loop: ev.loop,
        ...(ev.analyze ? { lastAnalyze: ev.analyze } : {}),
        ...(ev.leftToAPerson ? { leftToAPerson: ev.leftToAPerson } : {}),
      },
      ctx,
    );
    // Green needs nobody and a cancel was a person's own doing; a stop or failure is what people are for.
    const needsPeople = ev.loop.state === 'stopped' || ev.loop.state === 'failed';
    const why = needsPeople ? `the loop ${ev.loop.state}${ev.loop.stop ? ` (${safeInline(ev.loop.stop.rule, 60)})` : ''}: please take a look.` : undefined;
    return { id: 'end', msg: withThreadExtras(ending, mention && why ? { mention, why } : {}), mentioned: [] };
  }
  return undefined;
}
