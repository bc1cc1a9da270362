import { testRedis } from '@greenloop/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { firstWait, fixersRunning, releaseFixerSlot, takeFixerSlot } from './fixer-slots.ts';

describe('fixer slots per loop (real Redis)', () => {
  const r = testRedis();
  afterAll(() => r.cleanup());
  const slot = (holder: string, loopId = 'mslot-1', limit = 2) => ({ redis: r.redis, prefix: r.prefix, loopId, holder, limit, leaseMs: 60_000 });

  it('gives out at most `limit` slots of a loop; a holder takes its own back; a released one is free again', async () => {
    expect(await takeFixerSlot(slot('1:a'))).toBe(true);
    expect(await takeFixerSlot(slot('1:b'))).toBe(true);
    expect(await takeFixerSlot(slot('1:c'))).toBe(false);
    // Another loop is not held by this one's fixers.
    expect(await takeFixerSlot(slot('1:c', 'mslot-other'))).toBe(true);
    // A replayed job of a holder (its worker died mid-fix) takes its slot back at once.
    expect(await takeFixerSlot(slot('1:a'))).toBe(true);
    expect(await fixersRunning(slot('1:a'))).toBe(2);
    await releaseFixerSlot(slot('1:a'));
    expect(await takeFixerSlot(slot('1:c'))).toBe(true);
    expect(await takeFixerSlot(slot('1:a'))).toBe(false);
  });

  it('frees a dead holder’s slot when its lease runs out', async () => {
    await r.redis.zadd(`${r.prefix}:loop:mslot-2:fixer-slots`, Date.now() - 1, 'dead');
    expect(await takeFixerSlot(slot('1:x', 'mslot-2', 1))).toBe(true);
  });

  it('announces a holder’s wait once', async () => {
    expect(await firstWait(slot('1:w', 'mslot-3'))).toBe(true);
    expect(await firstWait(slot('1:w', 'mslot-3'))).toBe(false);
    expect(await firstWait(slot('1:v', 'mslot-3'))).toBe(true);
  });
});
