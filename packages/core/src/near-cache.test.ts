import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { NearCache } from './near-cache.ts';
import { testRedis } from './testing.ts';

let t: ReturnType<typeof testRedis>;
let reads: Redis;
let cache: NearCache;
let loads: number;

/** The cached value of a hash: what it holds, read through the tracked connection. */
const view = (key: string) =>
  cache.get(key, async () => {
    loads++;
    return JSON.stringify(await reads.hgetall(key));
  });

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

beforeEach(async () => {
  t = testRedis();
  reads = new Redis(t.url, { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
  cache = new NearCache({ reads });
  await cache.start();
  loads = 0;
});

afterEach(async () => {
  await cache.stop();
  reads.disconnect();
  await t.cleanup();
});

describe('NearCache', () => {
  test('serves repeated reads from memory, and a write from another connection shows at once', async () => {
    const key = `${t.prefix}:h1`;
    await t.redis.hset(key, 'state', 'running');
    expect(cache.active).toBe(true);
    expect(await view(key)).toBe('{"state":"running"}');
    for (let i = 0; i < 20; i++) expect(await view(key)).toBe('{"state":"running"}');
    expect(loads).toBe(1);

    // Another process (here: another connection) changes the hash; Redis tells the cache.
    await t.redis.hset(key, 'state', 'green');
    await until(async () => (await view(key)) === '{"state":"green"}', 'the invalidation');
    expect(loads).toBe(2);
    // Still tracked after the reload: the next change is seen too.
    await t.redis.hdel(key, 'state');
    await until(async () => (await view(key)) === '{}', 'the second invalidation');
  });

  test('concurrent misses share one read', async () => {
    const key = `${t.prefix}:h2`;
    await t.redis.hset(key, 'a', '1');
    const all = await Promise.all(Array.from({ length: 25 }, () => view(key)));
    expect(new Set(all)).toEqual(new Set(['{"a":"1"}']));
    expect(loads).toBe(1);
  });

  test('a value whose key changed while it was being read is handed out but not kept', async () => {
    const key = `${t.prefix}:h3`;
    await t.redis.hset(key, 'v', 'old');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = cache.get(key, async () => {
      loads++;
      const v = JSON.stringify(await reads.hgetall(key));
      await gate;
      return v;
    });
    // The key is tracked once read; this write's invalidation reaches the cache mid-load.
    await until(() => loads === 1, 'the load to start');
    await new Promise((r) => setTimeout(r, 20));
    await t.redis.hset(key, 'v', 'new');
    await new Promise((r) => setTimeout(r, 50));
    release();
    expect(await slow).toBe('{"v":"old"}');
    expect(await view(key)).toBe('{"v":"new"}');
    expect(loads).toBe(2);
  });

  test('an "everything changed" message drops every entry', async () => {
    const key = `${t.prefix}:h4`;
    await t.redis.hset(key, 'v', '1');
    await view(key);
    await view(`${key}b`);
    expect(cache.size).toBe(2);
    // What Redis sends when it drops tracked keys wholesale: a null message.
    (cache as unknown as { invalidate(keys: null): void }).invalidate(null);
    expect(cache.size).toBe(0);
  });

  test('after the read connection reconnects it caches nothing until tracking is on again, then resumes', async () => {
    const key = `${t.prefix}:h5`;
    await t.redis.hset(key, 'v', '1');
    await view(key);
    reads.disconnect(true);
    await until(() => !cache.active, 'the cache to turn off');
    expect(cache.size).toBe(0);
    // A write while the connection was away must not be missed.
    await t.redis.hset(key, 'v', '2');
    await until(() => cache.active, 'tracking to be on again');
    expect(await view(key)).toBe('{"v":"2"}');
    await t.redis.hset(key, 'v', '3');
    await until(async () => (await view(key)) === '{"v":"3"}', 'the invalidation after reconnecting');
  });

  test('after the subscriber connection reconnects it re-subscribes and invalidations flow again', async () => {
    const key = `${t.prefix}:h6`;
    await t.redis.hset(key, 'v', '1');
    await view(key);
    (cache as unknown as { invalidations: Redis }).invalidations.disconnect(true);
    await until(() => !cache.active, 'the cache to turn off');
    await until(() => cache.active, 'tracking to be on again');
    expect(await view(key)).toBe('{"v":"1"}');
    await t.redis.hset(key, 'v', '2');
    await until(async () => (await view(key)) === '{"v":"2"}', 'the invalidation through the new subscriber');
  });

  test('an entry older than maxAgeMs is read again even without an invalidation', async () => {
    await cache.stop();
    cache = new NearCache({ reads, maxAgeMs: 1000 });
    await cache.start();
    const key = `${t.prefix}:h7`;
    await t.redis.hset(key, 'v', '1');
    const now = Date.now();
    await cache.get(key, async () => `${++loads}`, now);
    await until(() => cache.size === 1, 'the entry to be kept');
    expect(await cache.get(key, async () => `${++loads}`, now + 500)).toBe('1');
    expect(await cache.get(key, async () => `${++loads}`, now + 100_000)).toBe('2');
  });
});
