import type { Redis } from 'ioredis';

/**
 * `fixer.concurrency` per loop, across every worker. A worker's fix queue runs as many jobs as the largest
 * concurrency any environment asks for, so an environment that asks for fewer is held to it here: a fix job
 * takes a slot before its fixer starts and gives it back when the fixer ends. Slots are leases (a sorted set
 * scored by expiry), so a worker that dies holding one frees it when the lease runs out.
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

export interface FixerSlotOptions {
  redis: Redis;
  prefix: string;
  loopId: string;
  /** Who holds the slot (the cluster's fingerprint: one fixer per cluster and cycle). */
  holder: string;
  limit: number;
  /** How long the slot is held at most (the fixer's whole allowance). */
  leaseMs: number;
  signal?: AbortSignal;
  /** Called once when the job has to wait, with how many fixers of the loop are running. */
  onWait?: (running: number) => void;
  pollMs?: number;
}

/** Waits for a free slot of the loop, runs `fn`, and frees the slot. */
export async function withFixerSlot<T>(o: FixerSlotOptions, fn: () => Promise<T>): Promise<T> {
  const key = `${o.prefix}:loop:${o.loopId}:fixer-slots`;
  let waited = false;
  for (;;) {
    const now = Date.now();
    const took = await o.redis.eval(TAKE, 1, key, o.holder, String(now), String(now + o.leaseMs), String(o.limit));
    if (took === 1) break;
    if (o.signal?.aborted) throw o.signal.reason ?? new Error('aborted');
    if (!waited) {
      waited = true;
      o.onWait?.(await o.redis.zcard(key));
    }
    await new Promise((r) => setTimeout(r, o.pollMs ?? 250));
  }
  try {
    return await fn();
  } finally {
    await o.redis.zrem(key, o.holder).catch(() => undefined);
  }
}
