// Finds or starts the Redis every test talks to (REDIS_URL, 127.0.0.1:6379, or an embedded
// redis-server under .greenloop/test), and exposes it to test files as REDIS_URL.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type ResolvedRedis, resolveRedis } from '@greenloop/core';

let redis: ResolvedRedis | undefined;
let home: string | undefined;

export async function setup(): Promise<void> {
  home = mkdtempSync(join(tmpdir(), 'greenloop-test-redis-'));
  redis = await resolveRedis({ redisUrl: process.env.REDIS_URL, home, log: createLogger('test', 'warn'), pathVar: process.env.PATH });
  process.env.REDIS_URL = redis.url;
}

export async function teardown(): Promise<void> {
  await redis?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
}
