import type { Redis } from 'ioredis';

/**
 * `fixer.concurrency` per loop, across every worker. A worker's fix queue runs as many jobs as the largest
 * concurrency any environment asks for, so an environment that asks for fewer is held to it here: a fix job
 * takes a slot before its fixer starts and gives it back when the fixer ends. A job that finds no slot must
 * not wait in place (it would hold the worker's queue slot that a stalled job of the same loop needs after a
 * crash): the caller delays it instead. Slots are leases (a sorted set scored by expiry), so a worker that dies
 * holding one frees it when the lease runs out, and the same holder (a replayed job) takes its slot back at once.
 */

// KEYS[1] the loop's slot set; ARGV: member, now (ms), lease expiry (ms), limit. 1 when the slot is held.
const TAKE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
  return 1
end
return 0`;

export interface FixerSlot {
  redis: Redis;
  prefix: string;
  loopId: string;
  /** Who holds the slot: cycle and cluster (one fixer per cluster and cycle). */
  holder: string;
  limit: number;
  /** How long the slot is held at most (the fixer's whole allowance). */
  leaseMs: number;
}

const slotKey = (s: Pick<FixerSlot, 'prefix' | 'loopId'>) => `${s.prefix}:loop:${s.loopId}:fixer-slots`;

/** Takes one of the loop's slots (or renews the one this holder has); false when all are taken. */
export async function takeFixerSlot(s: FixerSlot): Promise<boolean> {
  const now = Date.now();
  return (await s.redis.eval(TAKE, 1, slotKey(s), s.holder, String(now), String(now + s.leaseMs), String(s.limit))) === 1;
}

export async function releaseFixerSlot(s: FixerSlot): Promise<void> {
  await s.redis.zrem(slotKey(s), s.holder);
}

/** How many of the loop's fixers hold a slot now. */
export async function fixersRunning(s: FixerSlot): Promise<number> {
  await s.redis.zremrangebyscore(slotKey(s), '-inf', Date.now());
  return await s.redis.zcard(slotKey(s));
}

/** True the first time a holder has to wait (so the wait is announced once, not at every retry). */
export async function firstWait(s: FixerSlot): Promise<boolean> {
  return (await s.redis.set(`${slotKey(s)}:waited:${s.holder}`, '1', 'PX', s.leaseMs, 'NX')) === 'OK';
}

/** Frees every slot of the loop's cycle `n` (its fixers' worker is gone; the cycle runs again elsewhere). */
export async function releaseCycleSlots(redis: Redis, prefix: string, loopId: string, n: number): Promise<void> {
  const key = slotKey({ prefix, loopId });
  const held = (await redis.zrange(key, 0, -1)).filter((m) => m.startsWith(`${n}:`));
  if (held.length) await redis.zrem(key, ...held);
}
