import type { AnalyzeResult, AnalyzeStageResult, LoopRecord, StageRecord } from '@greenloop/core';
import { LoopStore, Redis } from '@greenloop/core';
import { testRedis } from '@greenloop/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SlackMessage } from './messages.ts';
import { type NotificationsConfig, type NotifyDeps, notify } from './notifier.ts';
import { captureLogger, type Reply, recordingSleep, startReceiver } from './test-support.ts';
import { DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from './webhook.ts';
import type { WebhookEvent } from './webhook-event.ts';

const BASE = 'http://greenloop.test:8080';
const SECRET = 'whsec_notifier_91be';
const config: NotificationsConfig = { slack: { webhookUrlEnv: 'SLACK_WEBHOOK_URL' }, webhook: { urlEnv: 'HOOK_URL', secretEnv: 'HOOK_SECRET' } };

let r: ReturnType<typeof testRedis>;
const closers: (() => Promise<void>)[] = [];
let seq = 0;

beforeAll(() => {
  r = testRedis();
});
afterAll(async () => {
  await r.cleanup();
});
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function receiver(reply: (i: number) => Reply = () => ({ status: 200 })) {
  const rec = await startReceiver((_req, i) => reply(i));
  closers.push(rec.close);
  return rec;
}

/** A loop with two analyzed cycles; cycle 2 fixed one cluster of cycle 1 and found a new one. */
async function seedLoop(over: Partial<LoopRecord> = {}): Promise<LoopRecord> {
  seq++;
  const id = `loop${seq}-a1b2c3`;
  const loop: LoopRecord = {
    id,
    environment: 'payments',
    state: 'running',
    createdAt: new Date().toISOString(),
    startedBy: { kind: 'schedule', name: 'nightly' },
    cycle: 2,
    ...over,
  };
  await r.store.createLoop(loop);
  const mk = (result: AnalyzeResult): StageRecord<AnalyzeStageResult> => ({
    stage: 'analyze',
    status: 'succeeded',
    startedAt: new Date().toISOString(),
    attempts: 1,
    result: { ...result, clusterFiles: {}, testStatusesFile: '' },
  });
  const base = { green: false, realness: { real: true, reasons: [] }, flaky: [], failingTests: [], report: { markdown: '', json: '' } };
  const c1: AnalyzeResult = {
    ...base,
    totals: { total: 10, passed: 8, failed: 2, skipped: 0, durationMs: 1000 },
    clusters: [
      { fingerprint: 'aaaa0000aaaa0000', title: 'Login answers 401', triage: 'auth-rejected', status: 'new', tests: ['t1'], sampleMessage: '', endpoints: [] },
    ],
    fixed: [],
  };
  const c2: AnalyzeResult = {
    ...base,
    totals: { total: 10, passed: 9, failed: 1, skipped: 0, durationMs: 1000 },
    clusters: [
      {
        fingerprint: 'bbbb0000bbbb0000',
        title: 'Checkout answers 500',
        triage: 'server-error',
        status: 'new',
        tests: ['t2'],
        sampleMessage: '',
        endpoints: [],
      },
    ],
    fixed: ['aaaa0000aaaa0000'],
  };
  for (const [n, res] of [
    [1, c1],
    [2, c2],
  ] as const) {
    await r.store.saveCycle({ loopId: id, n, commit: `c0ffee${n}`, startedAt: new Date().toISOString(), totals: res.totals, stages: {} });
    await r.store.saveStage(id, n, mk(res));
  }
  return loop;
}

function deps(env: Record<string, string | undefined>, over: Partial<NotifyDeps> = {}) {
  const cap = captureLogger();
  const { sleep, calls } = recordingSleep();
  const d: NotifyDeps = { store: r.store, env, config, baseUrl: BASE, log: cap.log, sleep, now: () => 1_700_000_000_000, policy: { timeoutMs: 2000 }, ...over };
  return { d, logs: cap.output, sleeps: calls };
}

async function notices(loopId: string) {
  return (await r.store.readEvents(loopId, '0')).filter((e) => e.type === 'notice');
}

describe('notify', () => {
  it('sends a cycle-finished message to Slack and a signed event to the webhook', async () => {
    const slack = await receiver();
    const hook = await receiver();
    const loop = await seedLoop();
    const { d } = deps({ SLACK_WEBHOOK_URL: slack.url, HOOK_URL: hook.url, HOOK_SECRET: SECRET }, { now: undefined });
    const out = await notify(d, { loopId: loop.id, kind: 'cycle-finished', cycle: 2 });
    expect(out).toMatchObject({ loopId: loop.id, kind: 'cycle-finished', cycle: 2 });
    expect(out.channels.map((c) => [c.channel, c.status])).toEqual([
      ['slack', 'sent'],
      ['webhook', 'sent'],
    ]);

    const msg = JSON.parse(slack.received[0]?.body ?? '') as SlackMessage;
    const text = JSON.stringify(msg);
    expect(text).toContain(`${BASE}/v1/loops/${loop.id}/cycles/2/report`);
    expect(text).toContain('Checkout answers 500');
    // The fixed cluster is named from cycle 1's analysis.
    expect(text).toContain('*Fixed (1)*\\n• *Login answers 401*');

    const req = hook.received[0];
    const ev = JSON.parse(req?.body ?? '') as WebhookEvent;
    expect(ev).toMatchObject({
      type: 'cycle.finished',
      loop: { id: loop.id },
      cycle: { n: 2, fixed: ['aaaa0000aaaa0000'], clusters: [{ title: 'Checkout answers 500' }] },
    });
    expect(
      verifySignature({
        secret: SECRET,
        timestamp: String(req?.headers[TIMESTAMP_HEADER]),
        body: req?.body ?? '',
        signature: String(req?.headers[SIGNATURE_HEADER]),
      }),
    ).toBe(true);
  });

  it('names in the loop-finished message the clusters still failing that were left to a person', async () => {
    const slack = await receiver();
    const hook = await receiver();
    const loop = await seedLoop({ state: 'stopped', stop: { rule: 'no-progress', message: 'no progress', clusters: ['bbbb0000bbbb0000'] } });
    const fix = (skipped: { fingerprint: string; reason: string }[]): StageRecord => ({
      stage: 'fix',
      status: 'succeeded',
      startedAt: new Date().toISOString(),
      attempts: 1,
      result: { planned: [], skipped, results: [] },
    });
    // Cycle 1 left the login cluster to a person (it was fixed by cycle 2 anyway); cycle 2 the checkout one.
    await r.store.saveStage(loop.id, 1, fix([{ fingerprint: 'aaaa0000aaaa0000', reason: 'needs a person: auth-rejected' }]));
    await r.store.saveStage(loop.id, 2, fix([{ fingerprint: 'bbbb0000bbbb0000', reason: 'needs a person: 3 attempts did not fix it' }]));
    const { d } = deps({ SLACK_WEBHOOK_URL: slack.url, HOOK_URL: hook.url, HOOK_SECRET: SECRET });
    const out = await notify(d, { loopId: loop.id, kind: 'loop-finished' });
    expect(out.channels.map((c) => c.status)).toEqual(['sent', 'sent']);
    const ev = JSON.parse(hook.received[0]?.body ?? '') as WebhookEvent;
    expect(ev.loop.leftToAPerson).toEqual([{ fingerprint: 'bbbb0000bbbb0000', reason: 'needs a person: 3 attempts did not fix it' }]);
    const text = JSON.stringify(JSON.parse(slack.received[0]?.body ?? ''));
    expect(text).toContain('*Left to a person (1)*\\n• *Checkout answers 500* — needs a person: 3 attempts did not fix it');
    expect(text).not.toContain('auth-rejected');
  });

  it('sends each notification once per channel', async () => {
    const slack = await receiver();
    const loop = await seedLoop();
    const { d } = deps({ SLACK_WEBHOOK_URL: slack.url }, { config: { slack: config.slack } });
    expect((await notify(d, { loopId: loop.id, kind: 'loop-started' })).channels[0]?.status).toBe('sent');
    expect((await notify(d, { loopId: loop.id, kind: 'loop-started' })).channels[0]?.status).toBe('already-sent');
    expect(slack.received).toHaveLength(1);
    const started = JSON.stringify(JSON.parse(slack.received[0]?.body ?? ''));
    expect(started).toContain('schedule `nightly`');
    expect(started).toContain(`${BASE}/v1/loops/${loop.id}`);
  });

  it('a webhook re-sent after its "sent" record was lost carries the same delivery id', async () => {
    const hook = await receiver();
    const loop = await seedLoop();
    const { d } = deps({ HOOK_URL: hook.url, HOOK_SECRET: SECRET }, { config: { webhook: config.webhook } });
    expect((await notify(d, { loopId: loop.id, kind: 'cycle-finished', cycle: 2 })).channels[0]?.status).toBe('sent');
    // The worker died after the post, before recording it: the retried job posts again.
    await r.store.redis.del(r.store.key('notify', 'sent', loop.id, 'cycle-finished', 2, 'webhook'));
    expect((await notify(d, { loopId: loop.id, kind: 'cycle-finished', cycle: 2 })).channels[0]?.status).toBe('sent');
    expect(hook.received).toHaveLength(2);
    const ids = hook.received.map((q) => q.headers[DELIVERY_HEADER]);
    expect(ids).toEqual([`${loop.id}.cycle-finished.2`, `${loop.id}.cycle-finished.2`]);
    expect((await notify(d, { loopId: loop.id, kind: 'loop-finished' })).channels[0]?.status).toBe('sent');
    expect(hook.received[2]?.headers[DELIVERY_HEADER]).toBe(`${loop.id}.loop-finished.2`);
  });

  it('reports a missing env var as not configured, with one notice per loop', async () => {
    const loop = await seedLoop();
    const { d } = deps({}, { config: { slack: config.slack } });
    const first = await notify(d, { loopId: loop.id, kind: 'loop-started' });
    expect(first.channels).toEqual([{ channel: 'slack', status: 'not-configured', detail: 'not configured: SLACK_WEBHOOK_URL is not set' }]);
    await notify(d, { loopId: loop.id, kind: 'cycle-finished', cycle: 1 });
    const ns = await notices(loop.id);
    expect(ns).toHaveLength(1);
    expect(ns[0]?.message).toBe('Slack notifications are not sent: SLACK_WEBHOOK_URL is not set.');
  });

  it('refuses to send an unsigned webhook when the secret is missing', async () => {
    const hook = await receiver();
    const loop = await seedLoop();
    const { d } = deps({ HOOK_URL: hook.url }, { config: { webhook: config.webhook } });
    const out = await notify(d, { loopId: loop.id, kind: 'loop-started' });
    expect(out.channels[0]).toMatchObject({ channel: 'webhook', status: 'not-configured', detail: 'not configured: HOOK_SECRET is not set' });
    expect(hook.received).toHaveLength(0);
  });

  it('disables a Slack webhook that answers 404, adds one notice and still sends the webhook', async () => {
    const slack = await receiver(() => ({ status: 404, body: 'no_service' }));
    const hook = await receiver();
    const loop = await seedLoop({ state: 'stopped', stop: { rule: 'no-progress', message: 'stuck', clusters: ['bbbb0000bbbb0000'] } });
    const { d, logs } = deps({ SLACK_WEBHOOK_URL: slack.url, HOOK_URL: hook.url, HOOK_SECRET: SECRET });
    const out = await notify(d, { loopId: loop.id, kind: 'cycle-finished', cycle: 2 });
    expect(out.channels[0]).toMatchObject({ channel: 'slack', status: 'disabled', detail: 'disabled: slack answered 404 (no_service)' });
    expect(out.channels[1]).toMatchObject({ channel: 'webhook', status: 'sent' });

    const again = await notify(d, { loopId: loop.id, kind: 'loop-finished' });
    expect(again.channels[0]).toMatchObject({ status: 'disabled', attempts: 0 });
    expect(slack.received).toHaveLength(1);
    expect(hook.received).toHaveLength(2);
    expect((JSON.parse(hook.received[1]?.body ?? '') as WebhookEvent).loop.stop?.rule).toBe('no-progress');

    const ns = await notices(loop.id);
    expect(ns).toHaveLength(1);
    const target = out.channels[0]?.target ?? '';
    expect(target).toMatch(/^slack#[0-9a-f]{8}$/);
    expect(ns[0]?.message).toContain(`Slack webhook ${target} is disabled`);
    expect(ns[0]?.message).toContain('SLACK_WEBHOOK_URL');
    // The loop's status carries the notice too, for people who read GET /v1/loops/:id.
    expect((await r.store.getLoop(loop.id))?.notices).toEqual([ns[0]?.message]);

    const everything = [logs(), JSON.stringify(out), JSON.stringify(again), JSON.stringify(ns)].join('\n');
    expect(everything).not.toContain(slack.secret);
    expect(everything).not.toContain(hook.secret);
    expect(everything).not.toContain(SECRET);
  });

  it('reports failures without throwing', async () => {
    const slack = await receiver(() => ({ status: 500 }));
    const loop = await seedLoop();
    const { d } = deps({ SLACK_WEBHOOK_URL: slack.url }, { config: { slack: config.slack }, policy: { maxAttempts: 2, timeoutMs: 2000 } });
    const out = await notify(d, { loopId: loop.id, kind: 'loop-finished' });
    expect(out.channels[0]).toMatchObject({ status: 'failed', retryable: true, attempts: 2, detail: 'gave up after 2 attempts: server error (500)' });
  });

  it('skips when nothing is configured or the records are missing', async () => {
    const loop = await seedLoop();
    const { d } = deps({});
    expect(await notify({ ...d, config: {} }, { loopId: loop.id, kind: 'loop-started' })).toMatchObject({
      skipped: 'no notification channels configured',
      channels: [],
    });
    expect(await notify(d, { loopId: 'nope00-000000', kind: 'loop-started' })).toMatchObject({ skipped: 'loop nope00-000000 not found' });
    expect(await notify(d, { loopId: loop.id, kind: 'cycle-finished', cycle: 9 })).toMatchObject({ skipped: `cycle 9 of loop ${loop.id} not found` });
  });

  it('does not throw when Redis is unreachable', async () => {
    const dead = new Redis(r.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    dead.on('error', () => {});
    try {
      const { d } = deps({ SLACK_WEBHOOK_URL: 'http://127.0.0.1:9/x' }, { store: new LoopStore(dead, r.prefix) });
      const out = await notify(d, { loopId: 'abcdef-123456', kind: 'loop-started' });
      expect(out.channels).toHaveLength(2);
      expect(out.channels.every((c) => c.status === 'failed' && c.detail.startsWith('could not load the loop'))).toBe(true);
    } finally {
      dead.disconnect();
    }
  });
});
