import { testRedis } from '@greenloop/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { withFixerSlot } from './fixer-slots.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('withFixerSlot (real Redis)', () => {
  const r = testRedis();
  afterAll(() => r.cleanup());
  const opts = (holder: string, limit: number, loopId = 'mslot-1') => ({
    redis: r.redis,
    prefix: r.prefix,
    loopId,
    holder,
    limit,
    leaseMs: 60_000,
    pollMs: 20,
  });

  it('runs at most `limit` fixers of a loop at once; the rest wait and say so; other loops are not held', async () => {
    let running = 0;
    let most = 0;
    const waits: number[] = [];
    const fixer = (holder: string, loopId?: string) =>
      withFixerSlot({ ...opts(holder, 2, loopId), onWait: (n) => waits.push(n) }, async () => {
        running++;
        most = Math.max(most, running);
        await sleep(80);
        running--;
        return holder;
      });
    const done = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((h) => fixer(h)));
    expect(done).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(most).toBe(2);
    expect(waits.length).toBe(3);
    expect(waits.every((n) => n === 2)).toBe(true);
    expect(await r.redis.zcard(`${r.prefix}:loop:mslot-1:fixer-slots`)).toBe(0);
  });

  it('frees a slot when the fixer throws, and a dead holder’s slot when its lease runs out', async () => {
    await expect(withFixerSlot(opts('x', 1), async () => Promise.reject(new Error('fixer crashed')))).rejects.toThrow('fixer crashed');
    // A worker that died holding the only slot: its lease (already past) no longer counts.
    await r.redis.zadd(`${r.prefix}:loop:mslot-2:fixer-slots`, Date.now() - 1, 'dead');
    expect(await withFixerSlot(opts('y', 1, 'mslot-2'), async () => 'ran')).toBe('ran');
  });

  it('stops waiting when the loop is cancelled', async () => {
    await r.redis.zadd(`${r.prefix}:loop:mslot-3:fixer-slots`, Date.now() + 60_000, 'busy');
    const ac = new AbortController();
    const waiting = withFixerSlot({ ...opts('z', 1, 'mslot-3'), signal: ac.signal }, async () => 'ran');
    await sleep(60);
    ac.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
  });
});
