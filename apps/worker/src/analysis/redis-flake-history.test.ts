import { testRedis } from '@greenloop/core/testing';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { RedisFlakeHistory } from './redis-flake-history.ts';

let t: ReturnType<typeof testRedis>;
beforeEach(() => {
  t = testRedis();
});
afterEach(async () => {
  await t.cleanup();
});

const at = '2026-11-24T10:00:00.000Z';
const id = 'checkout › pays with a saved card [chromium] "quoted"';

describe('RedisFlakeHistory', () => {
  test('counts flakes across loops and workers, once per loop and cycle', async () => {
    // Two workers (two instances, one Redis) record different loops; one analyze step is retried.
    const a = new RedisFlakeHistory(t.redis, t.prefix);
    const b = new RedisFlakeHistory(t.redis, t.prefix);
    await a.record([{ testId: id, loopId: 'loop-a', cycle: 1, at, outcome: 'flaky' }]);
    await a.record([{ testId: id, loopId: 'loop-a', cycle: 1, at, outcome: 'flaky' }]);
    await b.record([
      { testId: id, loopId: 'loop-b', cycle: 2, at: '2026-11-24T12:00:00.000Z', outcome: 'flaky' },
      { testId: id, loopId: 'loop-b', cycle: 3, at, outcome: 'failed' },
      { testId: 'other', loopId: 'loop-b', cycle: 3, at, outcome: 'failed' },
    ]);
    const stats = await new RedisFlakeHistory(t.redis, t.prefix).get([id, 'other', 'never-seen']);
    expect(stats.get(id)).toEqual({ testId: id, failures: 1, flakes: 2, flakyLoops: 2, lastFlakyAt: '2026-11-24T12:00:00.000Z' });
    expect(stats.get('other')).toMatchObject({ failures: 1, flakes: 0 });
    expect(stats.has('never-seen')).toBe(false);
  });

  test('a test is forgotten retentionDays after its last observation', async () => {
    const h = new RedisFlakeHistory(t.redis, t.prefix, { retentionDays: 1 });
    await h.record([{ testId: id, loopId: 'loop-a', cycle: 1, at, outcome: 'flaky' }]);
    const keys = await t.redis.keys(`${t.prefix}:flake:*`);
    expect(keys).toHaveLength(1);
    const ttl = await t.redis.ttl(keys[0] as string);
    expect(ttl).toBeGreaterThan(86_000);
    expect(ttl).toBeLessThanOrEqual(86_400);
  });

  test('handles more observations than one batch', async () => {
    const h = new RedisFlakeHistory(t.redis, t.prefix);
    const many = Array.from({ length: 2500 }, (_, i) => ({ testId: `t${i}`, loopId: 'loop-a', cycle: 1, at, outcome: 'failed' as const }));
    await h.record(many);
    const stats = await h.get(many.map((o) => o.testId));
    expect(stats.size).toBe(2500);
    expect(stats.get('t2499')).toMatchObject({ failures: 1 });
  });
});
