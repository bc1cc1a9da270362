import { createHash } from 'node:crypto';
import { pipelineValues } from '@greenloop/core';
import type { Redis } from 'ioredis';
import { type FlakeHistory, type FlakeObservation, type FlakeStats, summarizeObservations } from './flakes.ts';

/**
 * The flake history every worker shares, in Redis: one hash per test (`<prefix>:flake:<sha1 of the test
 * id>`), field `<loop>:<cycle>` → the observation, so a retried analyze step overwrites rather than
 * double-counts. A test's hash expires `retentionDays` after its latest observation: a test that stops
 * failing is forgotten, and the history never grows past the tests that failed recently.
 */
export class RedisFlakeHistory implements FlakeHistory {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly retentionSeconds: number;

  constructor(redis: Redis, prefix: string, opts: { retentionDays?: number } = {}) {
    this.redis = redis;
    this.prefix = prefix;
    this.retentionSeconds = Math.round((opts.retentionDays ?? 30) * 86_400);
  }

  /** Test ids can be long and hold any character; the key holds their digest. */
  private key(testId: string): string {
    return `${this.prefix}:flake:${createHash('sha1').update(testId).digest('hex')}`;
  }

  async record(observations: readonly FlakeObservation[]): Promise<void> {
    // In batches: a suite with 10,000 failures is 10,000 writes, which one pipeline would hold in memory at once.
    for (let i = 0; i < observations.length; i += 1000) {
      const pipeline = this.redis.pipeline();
      for (const o of observations.slice(i, i + 1000)) {
        const key = this.key(o.testId);
        pipeline.hset(key, `${o.loopId}:${o.cycle}`, JSON.stringify(o)).expire(key, this.retentionSeconds);
      }
      pipelineValues(await pipeline.exec());
    }
  }

  async get(testIds: readonly string[]): Promise<Map<string, FlakeStats>> {
    const out = new Map<string, FlakeStats>();
    for (let i = 0; i < testIds.length; i += 1000) {
      const batch = testIds.slice(i, i + 1000);
      const pipeline = this.redis.pipeline();
      for (const id of batch) pipeline.hvals(this.key(id));
      const res = pipelineValues(await pipeline.exec()) as string[][];
      batch.forEach((id, j) => {
        const observations = (res[j] ?? []).map((v) => JSON.parse(v) as FlakeObservation).filter((o) => o.testId === id);
        if (observations.length) out.set(id, summarizeObservations(id, observations));
      });
    }
    return out;
  }
}
