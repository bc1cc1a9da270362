import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { LoopStore } from './store.ts';

/**
 * Test helper: a real Redis connection with a prefix of its own, and a cleanup that deletes every key
 * under it (queues included, since BullMQ uses the same prefix). Imported by tests only.
 */
export function testRedis(): { redis: Redis; url: string; prefix: string; store: LoopStore; cleanup: () => Promise<void> } {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set: run tests through vitest (test/global-setup.ts starts Redis)');
  const prefix = `gltest-${randomBytes(4).toString('hex')}`;
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const store = new LoopStore(redis, prefix);
  return {
    redis,
    url,
    prefix,
    store,
    cleanup: async () => {
      await store.clearAll();
      redis.disconnect();
    },
  };
}
