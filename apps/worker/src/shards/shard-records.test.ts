import type { ShardSummary } from '@greenloop/core';
import { testRedis } from '@greenloop/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { ShardRecords } from './shard-records.ts';

describe('shard records (real Redis)', () => {
  const t = testRedis();
  afterAll(() => t.cleanup());

  it('the first outcome of a shard stands, and outcomes are parsed on read', async () => {
    const records = new ShardRecords(t.redis, t.prefix, 'mshard-00000001', 1);
    const crashed: ShardSummary = {
      shard: 1,
      status: 'crashed',
      dir: '',
      junitFiles: [],
      reason: 'the shard job failed for good: job stalled more than allowable limit',
    };
    expect(await records.putOutcome(crashed)).toBe(true);
    expect(await records.putOutcome({ ...crashed, status: 'finished' })).toBe(false);
    expect(await records.outcomes(2)).toEqual(new Map([[1, crashed]]));
  });

  it('an outcome that does not match the schema is an error, not a cast', async () => {
    const records = new ShardRecords(t.redis, t.prefix, 'mshard-00000002', 1);
    await t.redis.hset(records.key, 'c1:2', JSON.stringify({ shard: 2, status: 'done', junitFiles: 'x.xml' }));
    await expect(records.outcomes(2)).rejects.toMatchObject({ code: 'STAGE_RECORD_INVALID', message: expect.stringContaining('shard 2') });
  });
});
