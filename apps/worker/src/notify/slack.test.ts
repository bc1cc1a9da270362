import { testRedis } from '@greenloop/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryPolicy } from './http-delivery.ts';
import type { SlackMessage } from './messages.ts';
import { SlackSender } from './slack.ts';
import { captureLogger, type Reply, recordingSleep, startReceiver } from './test-support.ts';
import { urlHash } from './webhook-state.ts';

const msg: SlackMessage = { text: 'hello', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'hello' } }] };
const T0 = 1_700_000_000_000;

let r: ReturnType<typeof testRedis>;
const closers: (() => Promise<void>)[] = [];

beforeAll(() => {
  r = testRedis();
});
afterAll(async () => {
  await r.cleanup();
});
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function receiver(reply: (i: number) => Reply) {
  const rec = await startReceiver((_req, i) => reply(i));
  closers.push(rec.close);
  return rec;
}

/** A sender on a fixed fake clock with a recording sleep: waiting is asserted, never done. */
function sender(opts: { policy?: Partial<DeliveryPolicy>; now?: () => number } = {}) {
  const { sleep, calls } = recordingSleep();
  const cap = captureLogger();
  const s = new SlackSender({
    redis: r.redis,
    prefix: r.prefix,
    log: cap.log,
    sleep,
    now: opts.now ?? (() => T0),
    policy: { timeoutMs: 2000, ...opts.policy },
  });
  return { s, sleeps: calls, logs: cap.output };
}

describe('SlackSender', () => {
  it('posts the message as JSON', async () => {
    const rec = await receiver(() => ({ status: 200 }));
    const { s } = sender();
    const res = await s.send(rec.url, msg);
    expect(res).toMatchObject({ status: 'sent', attempts: 1, httpStatus: 200 });
    expect(JSON.parse(rec.received[0]?.body ?? '')).toEqual(msg);
    expect(rec.received[0]?.headers['content-type']).toBe('application/json');
  });

  it('honours 429 Retry-After: one retry after the given delay', async () => {
    const rec = await receiver((i) => (i === 0 ? { status: 429, headers: { 'retry-after': '2' }, body: 'rate_limited' } : { status: 200 }));
    const { s, sleeps } = sender();
    const res = await s.send(rec.url, msg);
    expect(res).toMatchObject({ status: 'sent', attempts: 2 });
    expect(rec.received).toHaveLength(2);
    // First attempt has a free slot; the retry waits exactly Retry-After (the 1s spacing is shorter).
    expect(sleeps).toEqual([0, 2000]);
  });

  it('fails (retryable) instead of waiting out a Retry-After beyond the limit', async () => {
    const rec = await receiver(() => ({ status: 429, headers: { 'retry-after': '3600' } }));
    const { s, sleeps } = sender({ policy: { maxRetryAfterMs: 60_000 } });
    const res = await s.send(rec.url, msg);
    expect(res).toMatchObject({ status: 'failed', retryable: true, retryAfterMs: 3_600_000, attempts: 1 });
    expect(sleeps).toEqual([0]);
  });

  it('retries a 500 with backoff, then succeeds', async () => {
    const rec = await receiver((i) => (i === 0 ? { status: 500 } : { status: 200 }));
    const { s, sleeps } = sender({ policy: { backoffMs: 1000 } });
    const res = await s.send(rec.url, msg);
    expect(res).toMatchObject({ status: 'sent', attempts: 2 });
    expect(sleeps).toEqual([0, 1000]);
  });

  it('gives up on a server that keeps failing after maxAttempts', async () => {
    const rec = await receiver(() => ({ status: 503 }));
    const { s, sleeps } = sender({ policy: { maxAttempts: 3, backoffMs: 1000 } });
    const res = await s.send(rec.url, msg);
    expect(res).toMatchObject({ status: 'failed', retryable: true, attempts: 3, httpStatus: 503 });
    expect(rec.received).toHaveLength(3);
    // Backoff doubles: 1s, then 2s (each also at least the 1s spacing after the previous slot).
    expect(sleeps).toEqual([0, 1000, 2000]);
  });

  it('times out a slow server and retries a bounded number of times', async () => {
    const rec = await receiver(() => ({ status: 200, delayMs: 5000 }));
    const { s } = sender({ policy: { timeoutMs: 150, maxAttempts: 2 } });
    const started = performance.now();
    const res = await s.send(rec.url, msg);
    expect(res).toMatchObject({ status: 'failed', retryable: true, attempts: 2 });
    expect(res.status === 'failed' && res.reason).toContain('timed out after 150ms');
    expect(rec.received).toHaveLength(2);
    expect(performance.now() - started).toBeLessThan(4000);
  });

  it('disables the webhook on 404 and sends nothing more', async () => {
    const rec = await receiver(() => ({ status: 404, body: 'no_service' }));
    const { s } = sender();
    const first = await s.send(rec.url, msg);
    expect(first).toMatchObject({ status: 'disabled', newly: true, attempts: 1, httpStatus: 404 });
    expect(first.status === 'disabled' && first.reason).toBe('slack answered 404 (no_service)');
    const second = await s.send(rec.url, msg);
    expect(second).toMatchObject({ status: 'disabled', newly: false, attempts: 0 });
    expect(rec.received).toHaveLength(1);
    // A second sender (another worker process) sees the same flag.
    const other = sender().s;
    expect(await other.send(rec.url, msg)).toMatchObject({ status: 'disabled', newly: false });
    expect(rec.received).toHaveLength(1);
  });

  it('disables the webhook on 410', async () => {
    const rec = await receiver(() => ({ status: 410, body: 'channel_is_archived' }));
    const { s } = sender();
    expect(await s.send(rec.url, msg)).toMatchObject({ status: 'disabled', newly: true, httpStatus: 410 });
    expect(await s.send(rec.url, msg)).toMatchObject({ status: 'disabled', newly: false });
    expect(rec.received).toHaveLength(1);
  });

  it('disables the webhook on a "gone" body whatever the status', async () => {
    const rec = await receiver(() => ({ status: 403, body: 'channel_not_found' }));
    const { s } = sender();
    expect(await s.send(rec.url, msg)).toMatchObject({ status: 'disabled', newly: true });
    await s.state.enable('slack', rec.url);
    expect(await s.send(rec.url, msg)).toMatchObject({ status: 'disabled', newly: true });
    expect(rec.received).toHaveLength(2);
  });

  it('fails without retrying or disabling on other 4xx', async () => {
    const rec = await receiver(() => ({ status: 403, body: 'action_prohibited' }));
    const { s } = sender();
    expect(await s.send(rec.url, msg)).toMatchObject({ status: 'failed', retryable: false, attempts: 1, reason: 'slack answered 403 (action_prohibited)' });
    expect(await s.send(rec.url, msg)).toMatchObject({ status: 'failed' });
    expect(rec.received).toHaveLength(2);
  });

  it('resends as plain text when Slack refuses the blocks', async () => {
    const rec = await receiver((i) => (i === 0 ? { status: 400, body: 'invalid_blocks' } : { status: 200 }));
    const { s } = sender({ policy: { maxAttempts: 1 } });
    const res = await s.send(rec.url, msg);
    expect(res).toMatchObject({ status: 'sent', degraded: true, attempts: 2 });
    expect(JSON.parse(rec.received[1]?.body ?? '')).toEqual({ text: 'hello' });
  });

  it('does not follow redirects', async () => {
    const rec = await receiver(() => ({ status: 302, headers: { location: 'http://127.0.0.1:1/elsewhere' } }));
    const { s } = sender();
    expect(await s.send(rec.url, msg)).toMatchObject({ status: 'failed', retryable: false, httpStatus: 302 });
    expect(rec.received).toHaveLength(1);
  });

  it('spaces messages 1s apart across two sender instances (fake clock)', async () => {
    const rec = await receiver(() => ({ status: 200 }));
    const a = sender();
    const b = sender();
    const results = await Promise.all([a.s.send(rec.url, msg), b.s.send(rec.url, msg), a.s.send(rec.url, msg), b.s.send(rec.url, msg)]);
    expect(results.every((x) => x.status === 'sent')).toBe(true);
    // Each reservation is one interval after the previous one, whichever process made it.
    expect([...a.sleeps, ...b.sleeps].sort((x, y) => x - y)).toEqual([0, 1000, 2000, 3000]);
  });

  it('keeps 1 message per second across two sender instances in real time (Redis clock)', async () => {
    const rec = await receiver(() => ({ status: 200 }));
    const log = captureLogger().log;
    const a = new SlackSender({ redis: r.redis, prefix: r.prefix, log });
    const b = new SlackSender({ redis: r.redis, prefix: r.prefix, log });
    const results = await Promise.all([a.send(rec.url, msg), b.send(rec.url, msg), a.send(rec.url, msg)]);
    expect(results.map((x) => x.status)).toEqual(['sent', 'sent', 'sent']);
    const times = rec.received.map((x) => x.at).sort((x, y) => x - y);
    // Lower bounds only: a loaded machine can make gaps longer, never shorter than the reserved slots
    // (minus timer and HTTP jitter, for which 100ms is generous).
    expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(900);
    expect((times[2] as number) - (times[1] as number)).toBeGreaterThanOrEqual(900);
  });

  it('never puts the URL in logs, results or Redis keys', async () => {
    const rec = await receiver(
      (i) => [{ status: 500 }, { status: 429, headers: { 'retry-after': '1' } }, { status: 200, delayMs: 1000 }, { status: 404 }][i] ?? { status: 404 },
    );
    const { s, logs } = sender({ policy: { timeoutMs: 100, maxAttempts: 5 } });
    const res1 = await s.send(rec.url, msg);
    const res2 = await s.send(rec.url, msg);
    const keys = await r.redis.keys(`${r.prefix}:*`);
    const everything = [logs(), JSON.stringify(res1), JSON.stringify(res2), keys.join('\n')].join('\n');
    expect(res1).toMatchObject({ status: 'disabled', newly: true, attempts: 4 });
    expect(logs()).toContain(res1.target);
    expect(everything).not.toContain(rec.secret);
    expect(everything).not.toContain('/services/');
    expect(keys.some((k) => k.includes(urlHash(rec.url)))).toBe(true);
  });
});
