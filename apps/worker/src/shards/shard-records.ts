import { GreenloopError, type Redis, type ShardSummary, ShardSummarySchema } from '@greenloop/core';
import type { ShardPlan } from './shard-plan.ts';

/**
 * A sharded cycle's plan and each shard's outcome, in one hash beside the loop's records
 * (`<prefix>:loop:<id>:shards`, fields `c<n>:plan` and `c<n>:<shard>`). The first word stands: a plan is
 * made once per cycle (a retried test stage reuses it) and a shard's outcome is written once.
 */
const TTL_S = 14 * 86400;

export class ShardRecords {
  readonly key: string;
  readonly redis: Redis;
  readonly cycle: number;
  constructor(redis: Redis, prefix: string, loopId: string, cycle: number) {
    this.redis = redis;
    this.key = `${prefix}:loop:${loopId}:shards`;
    this.cycle = cycle;
  }

  /** Stores `plan` unless the cycle has one; returns the cycle's plan either way. */
  async keepPlan(plan: ShardPlan): Promise<ShardPlan> {
    await this.redis.multi().hsetnx(this.key, `c${this.cycle}:plan`, JSON.stringify(plan)).expire(this.key, TTL_S).exec();
    return (await this.plan()) ?? plan;
  }

  async plan(): Promise<ShardPlan | undefined> {
    const raw = await this.redis.hget(this.key, `c${this.cycle}:plan`);
    return raw ? (JSON.parse(raw) as ShardPlan) : undefined;
  }

  /** Records a shard's outcome; false when one was recorded already (that one stands). */
  async putOutcome(outcome: ShardSummary): Promise<boolean> {
    const [[, set] = []] =
      (await this.redis.multi().hsetnx(this.key, `c${this.cycle}:${outcome.shard}`, JSON.stringify(outcome)).expire(this.key, TTL_S).exec()) ?? [];
    return set === 1;
  }

  /** Drops the cycle's plan and outcomes (the cycle is run again from its deploy on another worker). */
  async forget(): Promise<void> {
    const fields = (await this.redis.hkeys(this.key)).filter((f) => f.startsWith(`c${this.cycle}:`));
    if (fields.length) await this.redis.hdel(this.key, ...fields);
  }

  /** The outcomes recorded so far, by shard number. */
  async outcomes(count: number): Promise<Map<number, ShardSummary>> {
    const fields = Array.from({ length: count }, (_, i) => `c${this.cycle}:${i + 1}`);
    const values = await this.redis.hmget(this.key, ...fields);
    const out = new Map<number, ShardSummary>();
    values.forEach((v, i) => {
      if (v) out.set(i + 1, this.#parseOutcome(v, i + 1));
    });
    return out;
  }

  // A shard's outcome becomes part of the test stage's result: parsed like every stage record, never cast.
  #parseOutcome(raw: string, shard: number): ShardSummary {
    const parsed = ShardSummarySchema.safeParse(JSON.parse(raw));
    if (!parsed.success)
      throw new GreenloopError('STAGE_RECORD_INVALID', `the outcome of shard ${shard} in ${this.key} cycle ${this.cycle} does not match its schema`);
    return parsed.data;
  }
}
