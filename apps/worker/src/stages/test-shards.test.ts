import { testRedis } from '@greenloop/core/testing';
import { Queue, Worker } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RedisDurationHistory } from '../analysis/redis-duration-history.ts';
import { shardCount } from './test-shards.ts';

let t: ReturnType<typeof testRedis>;
beforeEach(() => {
  t = testRedis();
});
afterEach(async () => {
  await t.cleanup();
});

describe('shardCount', () => {
  it('"auto" is the shard slots of the workers listening on the shards queue, capped by the files', async () => {
    const queue = new Queue('shards', { connection: t.redis, prefix: t.prefix });
    const connections = [t.redis.duplicate(), t.redis.duplicate()];
    const workers = connections.map((connection) => new Worker('shards', async () => undefined, { connection, prefix: t.prefix, concurrency: 3 }));
    try {
      await Promise.all(workers.map((w) => w.waitUntilReady()));
      const slots = async () => (await queue.getWorkersCount()) * 3;
      expect(await slots()).toBe(6);
      expect(
        await shardCount(
          { shards: 'auto' },
          Array.from({ length: 10 }, (_, i) => `f${i}`),
          slots,
        ),
      ).toBe(6);
      expect(await shardCount({ shards: 'auto' }, ['a', 'b', 'c', 'd'], slots)).toBe(4);
      expect(await shardCount({ shards: 'auto' }, undefined, slots)).toBe(6);
    } finally {
      await Promise.all(workers.map((w) => w.close()));
      await queue.close();
      for (const c of connections) c.disconnect();
    }
  });

  it('a number is taken as is, but never more shards than files', async () => {
    const none = async () => 0;
    expect(await shardCount({ shards: 8 }, ['a', 'b', 'c'], none)).toBe(3);
    expect(await shardCount({ shards: 8 }, undefined, none)).toBe(8);
    expect(await shardCount({ shards: 'auto' }, undefined, none)).toBe(1);
  });
});

describe('RedisDurationHistory', () => {
  it('keeps a moving average per file, per environment', async () => {
    const h = new RedisDurationHistory(t.redis, t.prefix, 'staging');
    expect((await h.get(['a.py'])).size).toBe(0);
    await h.record(new Map([['a.py', 1000]]));
    await h.record(new Map([['a.py', 3000]]));
    expect(await h.get(['a.py', 'b.py'])).toEqual(new Map([['a.py', 2000]]));
    expect((await new RedisDurationHistory(t.redis, t.prefix, 'prod').get(['a.py'])).size).toBe(0);
  });
});
