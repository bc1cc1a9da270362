// Slack bot mode, one thread per loop: the real @slack/web-api WebClient against a loopback fake of the
// Web API, real Redis for the thread's state.
import type { AnalyzeResult, AnalyzeStageResult, LoopRecord, StageRecord } from '@greenloop/core';
import { addKnownSecrets, clearKnownSecrets } from '@greenloop/core';
import { testRedis } from '@greenloop/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeSlack, type FakeSlackMessage, startFakeSlack } from '../test-support/fake-slack.ts';
import { type NotificationsConfig, type NotifyDeps, notify } from './notifier.ts';
import { NotifyRetryError, retryAfterBackoff, runNotifyJob } from './notify-job.ts';
import { captureLogger, recordingSleep } from './test-support.ts';

const BASE = 'http://greenloop.test:8080';
const TOKEN = `xoxb-1111-2222-${'T0KENVALUE'.repeat(2)}`;
const CHANNEL = 'C0GREENLOOP';
const config: NotificationsConfig = { slack: { botTokenEnv: 'SLACK_BOT_TOKEN', channel: CHANNEL, mention: ['U024BE7LH', 'S0ONCALL1'] } };
const HOSTILE = 'GET /price <!channel> answers 500 <http://evil.test|click me> & @here';

let r: ReturnType<typeof testRedis>;
const closers: (() => Promise<void>)[] = [];
let seq = 0;

beforeAll(() => {
  r = testRedis();
  // As the worker does at start-up with the *Env values greenloop.yaml names.
  addKnownSecrets([TOKEN]);
});
afterAll(async () => {
  clearKnownSecrets();
  await r.cleanup();
});
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function fake(opts: Partial<Parameters<typeof startFakeSlack>[0]> = {}): Promise<FakeSlack> {
  const f = await startFakeSlack({ tokens: [TOKEN], channels: { [CHANNEL]: {}, C0OUTSIDE: { member: false } }, ...opts });
  closers.push(f.close);
  return f;
}

function analyzed(n: number, passed: number, clusters: AnalyzeResult['clusters'], fixed: string[] = []): StageRecord<AnalyzeStageResult> {
  return {
    stage: 'analyze',
    status: 'succeeded',
    startedAt: new Date().toISOString(),
    attempts: 1,
    result: {
      green: clusters.length === 0,
      totals: { total: 10, passed, failed: 10 - passed, skipped: 0, durationMs: 1000 + n },
      realness: { real: true, reasons: [] },
      clusters,
      fixed,
      flaky: [],
      failingTests: [],
      report: { markdown: '', json: '' },
      clusterFiles: {},
      testStatusesFile: '',
    },
  };
}

const cluster = (fingerprint: string, title: string): AnalyzeResult['clusters'][number] => ({
  fingerprint,
  title,
  triage: 'server-error',
  status: 'new',
  tests: ['t1'],
  sampleMessage: '',
  endpoints: [],
});

/** A loop record plus its cycle 1..n records and analyses (cycle n is the current one). */
async function seedLoop(over: Partial<LoopRecord> = {}, cycles = 0): Promise<LoopRecord> {
  seq++;
  const loop: LoopRecord = {
    id: `slk${seq}-${Math.random().toString(36).slice(2, 8)}`,
    environment: 'payments',
    state: 'running',
    createdAt: new Date().toISOString(),
    startedAt: new Date().toISOString(),
    startedBy: { kind: 'schedule', name: 'nightly' },
    cycle: cycles,
    ...over,
  };
  await r.store.createLoop(loop);
  for (let n = 1; n <= cycles; n++) await addCycle(loop, n, 6 + n, [cluster('bbbb0000bbbb0000', HOSTILE)]);
  return loop;
}

async function addCycle(loop: LoopRecord, n: number, passed: number, clusters: AnalyzeResult['clusters']): Promise<void> {
  const rec = analyzed(n, passed, clusters);
  await r.store.saveCycle({ loopId: loop.id, n, commit: `c0ffee${n}`, startedAt: new Date().toISOString(), totals: rec.result?.totals, stages: {} });
  await r.store.saveStage(loop.id, n, rec);
}

function deps(f: FakeSlack, over: Partial<NotifyDeps> = {}) {
  const cap = captureLogger();
  const { sleep, calls } = recordingSleep();
  const d: NotifyDeps = {
    store: r.store,
    env: { SLACK_BOT_TOKEN: TOKEN },
    config,
    baseUrl: BASE,
    log: cap.log,
    sleep,
    policy: { timeoutMs: 2000, maxAttempts: 1 },
    slackApiUrl: f.apiUrl,
    slackMinIntervalMs: 0,
    ...over,
  };
  return { d, logs: cap.output, sleeps: calls };
}

const sent = (m: FakeSlackMessage) => JSON.stringify({ text: m.text, blocks: m.blocks });

/** What Slack parses for mentions and links: the top-level text and every mrkdwn text object (plain_text renders literally). */
function mrkdwnOf(m: FakeSlackMessage): string[] {
  const out = [m.text];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (o.type === 'mrkdwn' && typeof o.text === 'string') out.push(o.text);
      Object.values(o).forEach(walk);
    }
  };
  walk(m.blocks);
  return out;
}

async function notices(loopId: string) {
  return (await r.store.readEvents(loopId, '0')).filter((e) => e.type === 'notice');
}

describe('Slack bot mode: one thread per loop', () => {
  it('posts one parent, rewrites it in place each cycle, replies once per cycle and once at the end', async () => {
    const f = await fake();
    const loop = await seedLoop();
    const { d, logs } = deps(f);
    const outs = [await notify(d, { loopId: loop.id, kind: 'loop-started' })];

    await addCycle(loop, 1, 7, [cluster('bbbb0000bbbb0000', 'Checkout answers 500')]);
    await r.store.saveLoop({ ...loop, cycle: 1, stage: 'fix' });
    outs.push(await notify(d, { loopId: loop.id, kind: 'cycle-finished', cycle: 1 }));
    await addCycle(loop, 2, 10, []);
    await r.store.saveLoop({ ...loop, cycle: 2, state: 'green', stop: { rule: 'green', message: 'all tests pass' }, finishedAt: new Date().toISOString() });
    outs.push(await notify(d, { loopId: loop.id, kind: 'cycle-finished', cycle: 2 }));
    outs.push(await notify(d, { loopId: loop.id, kind: 'loop-finished' }));
    expect(outs.map((o) => o.channels[0]?.status)).toEqual(['sent', 'sent', 'sent', 'sent']);

    const parents = f.parents(CHANNEL);
    expect(parents).toHaveLength(1);
    const parent = parents[0] as FakeSlackMessage;
    expect(parent.edits).toBe(3);
    expect(parent.text).toBe('greenloop payments: green · cycle 2 · 100% passing');
    const replies = f.replies(CHANNEL, parent.ts);
    expect(replies.map((m) => m.text.slice(0, 40))).toEqual([
      expect.stringContaining('payments cycle 1 finished'),
      expect.stringContaining('payments cycle 2 is green'),
      expect.stringContaining('payments is green after 2 cycles'),
    ]);
    // Green: nobody is pinged anywhere in the thread.
    expect(f.messages.map(sent).join('\n')).not.toMatch(/<@|<!subteam/);
    expect(f.calls.map((c) => c.method)).toEqual([
      'chat.postMessage',
      'chat.update',
      'chat.postMessage',
      'chat.update',
      'chat.postMessage',
      'chat.update',
      'chat.postMessage',
    ]);
    expect(f.calls.every((c) => c.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(logs()).not.toContain(TOKEN);
    expect(JSON.stringify(outs)).not.toContain(TOKEN);
  });

  it('a restarted worker keeps the same parent, and a retried job never posts a second reply for a cycle', async () => {
    const f = await fake();
    const loop = await seedLoop({}, 1);
    expect((await notify(deps(f).d, { loopId: loop.id, kind: 'cycle-finished', cycle: 1 })).channels[0]?.status).toBe('sent');
    // Another process (fresh client, fresh logger): only Redis is shared. The job's "sent" record was
    // lost (the worker died after Slack answered), so the whole event runs again.
    await r.store.redis.del(r.store.key('notify', 'sent', loop.id, 'cycle-finished', 1, 'slack'));
    const again = await notify(deps(f).d, { loopId: loop.id, kind: 'cycle-finished', cycle: 1 });
    expect(again.channels[0]).toMatchObject({ status: 'sent', attempts: 1 });
    // And with the record in place it is not even tried.
    expect((await notify(deps(f).d, { loopId: loop.id, kind: 'cycle-finished', cycle: 1 })).channels[0]?.status).toBe('already-sent');

    expect(f.parents(CHANNEL)).toHaveLength(1);
    const parent = f.parents(CHANNEL)[0] as FakeSlackMessage;
    expect(parent.edits).toBe(1);
    expect(f.replies(CHANNEL, parent.ts)).toHaveLength(1);
  });

  it('posts a new parent when the old one is gone (message_not_found) and keeps the thread there', async () => {
    const f = await fake();
    const loop = await seedLoop({}, 1);
    const { d, logs } = deps(f);
    await notify(d, { loopId: loop.id, kind: 'loop-started' });
    const first = f.parents(CHANNEL)[0] as FakeSlackMessage;
    f.deleteMessage(CHANNEL, first.ts);
    const out = await notify(d, { loopId: loop.id, kind: 'cycle-finished', cycle: 1 });
    expect(out.channels[0]?.status).toBe('sent');
    expect(f.calls.map((c) => `${c.method}:${c.answer}`)).toEqual([
      'chat.postMessage:ok',
      'chat.update:message_not_found',
      'chat.postMessage:ok',
      'chat.postMessage:ok',
    ]);
    const second = f.parents(CHANNEL)[0] as FakeSlackMessage;
    expect(second.ts).not.toBe(first.ts);
    expect(f.replies(CHANNEL, second.ts)).toHaveLength(1);
    await notify(d, { loopId: loop.id, kind: 'loop-finished' });
    expect(second.edits).toBe(1);
    expect(f.replies(CHANNEL, second.ts)).toHaveLength(2);
    expect(logs()).not.toContain(TOKEN);
  });

  it('mentions the configured user and group when the loop stops, and not for a cancel', async () => {
    const f = await fake();
    const stopped = await seedLoop(
      { state: 'stopped', stop: { rule: 'no-progress', message: 'same failures 3 cycles in a row', clusters: ['bbbb0000bbbb0000'] } },
      2,
    );
    const cancelled = await seedLoop({ state: 'cancelled', stop: { rule: 'cancelled', message: 'cancelled by cli alice' } }, 1);
    const { d } = deps(f);
    for (const [loop, cycles] of [
      [stopped, 2],
      [cancelled, 1],
    ] as const) {
      for (let n = 1; n <= cycles; n++) await notify(d, { loopId: loop.id, kind: 'cycle-finished', cycle: n });
      expect((await notify(d, { loopId: loop.id, kind: 'loop-finished' })).channels[0]?.status).toBe('sent');
    }
    const [p1, p2] = f.parents(CHANNEL) as [FakeSlackMessage, FakeSlackMessage];
    const end = f.replies(CHANNEL, p1.ts)[2] as FakeSlackMessage;
    expect(end.text.startsWith('<@U024BE7LH> <!subteam^S0ONCALL1> the loop stopped (no-progress): please take a look.')).toBe(true);
    expect(JSON.stringify(end.blocks)).toContain('<@U024BE7LH> <!subteam^S0ONCALL1>');
    expect(p1.text).toBe('greenloop payments: stopped · cycle 2 · 80% passing');
    // The parent itself never pings: it is edited many times and seen by everyone in the channel.
    expect(sent(p1)).not.toMatch(/<@|<!subteam/);
    expect(f.replies(CHANNEL, p2.ts).map(sent).join('\n')).not.toMatch(/<@|<!subteam/);
  });

  it('keeps the thread in order: the ending waits (boundedly) for the last digest', async () => {
    const f = await fake();
    const loop = await seedLoop({ state: 'stopped', stop: { rule: 'max-cycles', message: '2 cycles' } }, 2);
    const { d } = deps(f);
    await notify(d, { loopId: loop.id, kind: 'cycle-finished', cycle: 1 });
    // The ending's job ran before cycle 2's: it is retried shortly instead of posting out of order.
    const early = await runNotifyJob(d, { loopId: loop.id, kind: 'loop-finished' }, undefined as never, '').catch((e: unknown) => e);
    expect(early).toBeInstanceOf(NotifyRetryError);
    expect((early as NotifyRetryError).message).toContain("waiting for cycle 2's digest so the thread stays in order");
    expect((early as NotifyRetryError).retryAfterMs).toBe(2000);
    await notify(d, { loopId: loop.id, kind: 'cycle-finished', cycle: 2 });
    expect((await notify(d, { loopId: loop.id, kind: 'loop-finished' })).channels[0]?.status).toBe('sent');
    const parent = f.parents(CHANNEL)[0] as FakeSlackMessage;
    expect(f.replies(CHANNEL, parent.ts).map((m) => m.text.slice(0, 22))).toEqual([
      'payments cycle 1 finis',
      'payments cycle 2 finis',
      expect.stringContaining('<@U024BE7LH>'),
    ]);

    // A digest that never comes (its job failed for good) holds the ending back five times, no more.
    const other = await seedLoop({ state: 'stopped', stop: { rule: 'max-cycles', message: '1 cycle' } }, 1);
    const tries: string[] = [];
    for (let i = 0; i < 6; i++) tries.push((await notify(d, { loopId: other.id, kind: 'loop-finished' })).channels[0]?.status ?? '');
    expect(tries).toEqual(['failed', 'failed', 'failed', 'failed', 'failed', 'sent']);
  });

  it('asks a person about a cluster once, in the first digest after a fix stage gave up on it', async () => {
    const f = await fake();
    const loop = await seedLoop({}, 3);
    const fix: StageRecord = {
      stage: 'fix',
      status: 'succeeded',
      startedAt: new Date().toISOString(),
      attempts: 1,
      result: { planned: [], skipped: [{ fingerprint: 'bbbb0000bbbb0000', reason: 'needs a person: 3 attempts did not fix it' }], results: [] },
    };
    await r.store.saveStage(loop.id, 1, fix);
    const { d } = deps(f);
    for (const n of [1, 2, 3]) await notify(d, { loopId: loop.id, kind: 'cycle-finished', cycle: n });
    const parent = f.parents(CHANNEL)[0] as FakeSlackMessage;
    const [c1, c2, c3] = f.replies(CHANNEL, parent.ts).map(sent);
    expect(c1).not.toContain('<@U024BE7LH>');
    expect(c2).toContain('<@U024BE7LH> <!subteam^S0ONCALL1> a failure cluster needs a person:');
    expect(c2).toContain('needs a person: 3 attempts did not fix it');
    expect(c3).not.toContain('<@U024BE7LH>');
  });

  it('escapes hostile test names: no @channel, no injected link, in the parent or the thread', async () => {
    const f = await fake();
    const loop = await seedLoop(
      { environment: 'pay<!here>', state: 'stopped', stop: { rule: 'no-progress', message: `stuck on ${HOSTILE}`, clusters: ['bbbb0000bbbb0000'] } },
      1,
    );
    const { d } = deps(f, { config: { slack: { botTokenEnv: 'SLACK_BOT_TOKEN', channel: CHANNEL } } });
    await notify(d, { loopId: loop.id, kind: 'cycle-finished', cycle: 1 });
    await notify(d, { loopId: loop.id, kind: 'loop-finished' });
    const all = f.messages.flatMap(mrkdwnOf).join('\n');
    expect(all).toContain('&lt;!channel&gt;');
    expect(all).toContain('&lt;http://evil.test|click me&gt;');
    expect(all).not.toContain('<!channel>');
    expect(all).not.toContain('<!here>');
    expect(all).not.toContain('<http://evil.test');
  });

  it('includes the AI spend when the records carry it', async () => {
    const f = await fake();
    const loop = await seedLoop({}, 1);
    await r.store.saveLoop({ ...loop, spend: { usd: 1.234, inputTokens: 10 } } as LoopRecord);
    const c1 = await r.store.getCycle(loop.id, 1);
    // A fixer that reports tokens only (Codex without a price) still shows what it used.
    await r.store.saveCycle({ ...c1, spend: { inputTokens: 1200, outputTokens: 80 } } as NonNullable<typeof c1>);
    await notify(deps(f).d, { loopId: loop.id, kind: 'cycle-finished', cycle: 1 });
    const parent = f.parents(CHANNEL)[0] as FakeSlackMessage;
    expect(parent.text).toContain('spent $1.23');
    expect(sent(f.replies(CHANNEL, parent.ts)[0] as FakeSlackMessage)).toContain('AI spend this cycle: 1,200 input + 80 output tokens');
  });

  for (const [code, channel, token, hint] of [
    ['channel_not_found', 'C0NOSUCH', TOKEN, 'Check notifications.slack.channel (C0NOSUCH)'],
    ['not_in_channel', 'C0OUTSIDE', TOKEN, 'Invite the bot to the channel (C0OUTSIDE)'],
    ['invalid_auth', CHANNEL, 'xoxb-revoked-0000-1111', 'The value of SLACK_BOT_TOKEN is not a working bot token'],
  ] as const) {
    it(`${code} is permanent: one call, a clear notice, no retry, and the loop's later events do not call Slack`, async () => {
      const f = await fake();
      const loop = await seedLoop({}, 1);
      const { d, logs } = deps(f, { config: { slack: { botTokenEnv: 'SLACK_BOT_TOKEN', channel } }, env: { SLACK_BOT_TOKEN: token } });
      // Through the job runner: a permanent failure must complete the job (no BullMQ retry storm).
      const out = await runNotifyJob(d, { loopId: loop.id, kind: 'cycle-finished', cycle: 1 }, undefined as never, '');
      expect(out.channels[0]).toMatchObject({ channel: 'slack', status: 'failed', retryable: false, detail: `slack answered chat.postMessage with ${code}` });
      const later = await runNotifyJob(d, { loopId: loop.id, kind: 'loop-finished' }, undefined as never, '');
      expect(later.channels[0]).toMatchObject({ status: 'disabled', detail: `stopped for this loop: ${code}` });
      expect(f.calls).toHaveLength(1);
      const ns = await notices(loop.id);
      expect(ns).toHaveLength(1);
      expect(ns[0]?.message).toContain(`Slack notifications for this loop stopped: slack answered chat.postMessage with ${code}.`);
      expect(ns[0]?.message).toContain(hint);
      expect([logs(), JSON.stringify(ns), JSON.stringify(out)].join('\n')).not.toContain(token);
    });
  }

  it('429 ratelimited with a small Retry-After: the real client reports it, the call waits it out and succeeds', async () => {
    // The fake's own limiter: a second post to the channel within 0.9 s is answered 429, Retry-After: 1.
    const f = await fake({ minPostIntervalMs: 900 });
    const loop = await seedLoop({}, 1);
    const { d } = deps(f, { sleep: (ms) => new Promise((res) => setTimeout(res, ms)), policy: { timeoutMs: 2000, maxAttempts: 1, backoffMs: 10 } });
    const out = await notify(d, { loopId: loop.id, kind: 'cycle-finished', cycle: 1 });
    expect(out.channels[0]?.status).toBe('sent');
    const posts = f.calls.filter((c) => c.method === 'chat.postMessage');
    expect(posts.map((c) => `${c.status}:${c.answer}`)).toEqual(['200:ok', '429:ratelimited', '200:ok']);
    const [, limited, retried] = posts as [unknown, { at: number }, { at: number }];
    // Retry-After: 1 means one second, not the policy's backoff (10 ms here) nor at once.
    expect(retried.at - limited.at).toBeGreaterThanOrEqual(990);
    expect(retried.at - limited.at).toBeLessThan(1900);
  });

  it('a long Retry-After fails the job retryably and the job waits exactly that long', async () => {
    const f = await fake();
    const loop = await seedLoop({}, 1);
    f.fail('chat.postMessage', { status: 429, retryAfter: 120 });
    const { d, sleeps } = deps(f);
    const err = await runNotifyJob(d, { loopId: loop.id, kind: 'loop-started' }, undefined as never, '').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotifyRetryError);
    expect((err as NotifyRetryError).retryAfterMs).toBe(120_000);
    expect(retryAfterBackoff(1, err as Error)).toBe(120_000);
    expect(sleeps.filter((ms) => ms > 0)).toEqual([]);
    // The retry (Slack has calmed down) posts the parent once.
    expect((await runNotifyJob(d, { loopId: loop.id, kind: 'loop-started' }, undefined as never, '')).channels[0]?.status).toBe('sent');
    expect(f.parents(CHANNEL)).toHaveLength(1);
  });

  it('a 503 is retried by the client within the delivery policy', async () => {
    const f = await fake();
    const loop = await seedLoop();
    f.fail('chat.postMessage', { status: 503, times: 1 });
    const { d } = deps(f, { policy: { timeoutMs: 2000, maxAttempts: 2, backoffMs: 10, maxBackoffMs: 10 } });
    expect((await notify(d, { loopId: loop.id, kind: 'loop-started' })).channels[0]?.status).toBe('sent');
    expect(f.calls.map((c) => c.status)).toEqual([503, 200]);
  });

  it('falls back to the incoming webhook, with one notice, when the bot token env var is not set', async () => {
    const f = await fake();
    const loop = await seedLoop();
    const { startReceiver } = await import('./test-support.ts');
    const hook = await startReceiver(() => ({ status: 200 }));
    closers.push(hook.close);
    const cfg: NotificationsConfig = { slack: { botTokenEnv: 'SLACK_BOT_TOKEN', channel: CHANNEL, webhookUrlEnv: 'SLACK_WEBHOOK_URL' } };
    const { d } = deps(f, { config: cfg, env: { SLACK_WEBHOOK_URL: hook.url } });
    expect((await notify(d, { loopId: loop.id, kind: 'loop-started' })).channels[0]?.status).toBe('sent');
    expect(hook.received).toHaveLength(1);
    expect(f.calls).toHaveLength(0);
    const ns = await notices(loop.id);
    expect(ns.map((n) => n.message)).toEqual([
      'Slack bot token SLACK_BOT_TOKEN is not set; sending to the incoming webhook in SLACK_WEBHOOK_URL instead (no thread, no updates in place).',
    ]);
  });
});
