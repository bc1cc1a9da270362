import type { Redis } from '@greenloop/core';

/**
 * How long each suite file took, per environment, shared by every loop and worker (beside the flake
 * history): what balances shards. A new figure moves the kept one halfway (a moving average), so one
 * slow run does not unbalance the next split for good.
 */
export class RedisDurationHistory {
  readonly key: string;
  readonly redis: Redis;
  readonly ttlS: number;
  constructor(redis: Redis, prefix: string, environment: string, ttlS = 30 * 86400) {
    this.redis = redis;
    this.key = `${prefix}:durations:${environment}`;
    this.ttlS = ttlS;
  }

  /** The kept duration (ms) of each of `files` that has one. */
  async get(files: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (files.length === 0) return out;
    const values = await this.redis.hmget(this.key, ...files);
    files.forEach((f, i) => {
      const v = Number(values[i]);
      if (values[i] !== null && Number.isFinite(v)) out.set(f, v);
    });
    return out;
  }

  /** Folds this run's per-file durations (ms) into the history. */
  async record(durations: ReadonlyMap<string, number>): Promise<void> {
    if (durations.size === 0) return;
    const before = await this.get([...durations.keys()]);
    const next = [...durations].flatMap(([f, ms]) => {
      const old = before.get(f);
      return [f, String(Math.round(old === undefined ? ms : (old + ms) / 2))];
    });
    await this.redis
      .multi()
      .hset(this.key, ...next)
      .expire(this.key, this.ttlS)
      .exec();
  }
}
