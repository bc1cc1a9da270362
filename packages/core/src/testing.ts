import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { LoopRecord } from './domain.ts';
import { freePort, redisAuthState } from './redis.ts';
import type { AnalyzeStageResult } from './stage-results.ts';
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

/**
 * A finished loop's record for seeding a store: green, torn down, started from the CLI, at cycle 1, created
 * (and finished) `daysAgo` days ago unless `over` says otherwise — what retention looks at.
 */
export function finishedLoop(id: string, daysAgo: number, over: Partial<LoopRecord> = {}): LoopRecord {
  const created = over.createdAt ?? new Date(Date.now() - daysAgo * 86_400_000).toISOString();
  return {
    id,
    environment: 'demo',
    state: 'green',
    createdAt: created,
    finishedAt: created,
    startedBy: { kind: 'cli', name: 't' },
    cycle: 1,
    teardown: 'done',
    ...over,
  };
}

/** An analyze stage result as the analyze stage writes it (stage records are parsed against the stage table when read). */
export const ANALYZED: AnalyzeStageResult = {
  green: false,
  totals: { total: 2, passed: 1, failed: 1, skipped: 0, durationMs: 10 },
  realness: { real: true, reasons: [] },
  clusters: [],
  fixed: [],
  flaky: [],
  failingTests: ['a > b'],
  report: { markdown: '/r.md', json: '/r.json' },
  clusterFiles: {},
  testStatusesFile: '/s.json',
};

/**
 * Test helper: a redis-server without a password on a free loopback port, as `apt-get install
 * redis-server` runs one (needs redis-server on PATH). `stop()` kills it.
 */
export async function startOpenRedis(): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100 && (await redisAuthState(url, 300)) !== 'open'; i++) await new Promise((r) => setTimeout(r, 50));
  return { url, stop: () => child.kill('SIGKILL') };
}
