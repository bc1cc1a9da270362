import type { Redis } from 'ioredis';

/**
 * One loop per environment: a claim is a lease (`active:<env>` holds the loop id, with a TTL) that the
 * live loop renews. Each operation is one Lua script, so "SET NX failed, then GET found nothing" can no
 * longer be mistaken for a claim: the script either takes the key or returns who holds it.
 *
 * `active-last:<env>` remembers the last loop that claimed the environment until it releases it. A
 * claim that finds it still set (and `active` gone) took over from a loop whose lease expired: that is
 * reported, not silently absorbed.
 */

/** Lease of a claim when nobody renews it: a loop whose controller is gone frees its environment after this. */
export const CLAIM_LEASE_MS = 60_000;

export interface ClaimOutcome {
  /** True when `loopId` now holds the environment. */
  claimed: boolean;
  /** The loop holding the environment (the caller when claimed). */
  holder: string;
  /** Set when claimed: the loop whose claim expired without being released. */
  expired?: string;
}

// KEYS: active, active-last. ARGV: loop id, lease ms.
// A legacy claim without TTL (written before leases) becomes a lease the first time it is looked at.
const CLAIM = `
local cur = redis.call('get', KEYS[1])
if cur then
  if redis.call('pttl', KEYS[1]) == -1 then redis.call('pexpire', KEYS[1], ARGV[2]) end
  return {0, cur, false}
end
local last = redis.call('get', KEYS[2])
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('set', KEYS[2], ARGV[1])
if last == ARGV[1] then last = false end
return {1, ARGV[1], last}
`;

// Same keys and arguments: extends the caller's lease, takes the environment back if nobody holds it
// (the lease lapsed while no worker could renew it), or returns the loop that took it over. Taking back
// needs \`active-last\` to still name the caller: a release clears it, so a heartbeat that looked the
// holder up just before the loop's teardown released the environment cannot claim it again (the chaos
// suite saw that as a claim held 60 s after the loop ended).
const RENEW = `
local cur = redis.call('get', KEYS[1])
if cur == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return {1, cur, false}
end
if cur then return {0, cur, false} end
if redis.call('get', KEYS[2]) ~= ARGV[1] then return {0, '', false} end
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('set', KEYS[2], ARGV[1])
return {1, ARGV[1], false}
`;

// Releases only the caller's own claim; returns 1 if it held it.
const RELEASE = `
if redis.call('get', KEYS[2]) == ARGV[1] then redis.call('del', KEYS[2]) end
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
`;

type Raw = [number, string, string | null];

function outcome(raw: unknown): ClaimOutcome {
  const [ok, holder, expired] = raw as Raw;
  return { claimed: ok === 1, holder, ...(expired ? { expired } : {}) };
}

/** The claim scripts bound to a connection and to the keys of one install. */
export class EnvironmentClaims {
  readonly #redis: Redis;
  readonly #key: (env: string) => [string, string];
  readonly leaseMs: number;

  constructor(redis: Redis, key: (...parts: string[]) => string, leaseMs = CLAIM_LEASE_MS) {
    this.#redis = redis;
    this.#key = (env) => [key('active', env), key('active-last', env)];
    this.leaseMs = leaseMs;
  }

  async claim(environment: string, loopId: string): Promise<ClaimOutcome> {
    return outcome(await this.#redis.eval(CLAIM, 2, ...this.#key(environment), loopId, this.leaseMs));
  }

  async renew(environment: string, loopId: string): Promise<ClaimOutcome> {
    return outcome(await this.#redis.eval(RENEW, 2, ...this.#key(environment), loopId, this.leaseMs));
  }

  async release(environment: string, loopId: string): Promise<boolean> {
    return (await this.#redis.eval(RELEASE, 2, ...this.#key(environment), loopId)) === 1;
  }

  async holder(environment: string): Promise<string | undefined> {
    return (await this.#redis.get(this.#key(environment)[0])) ?? undefined;
  }

  /** The claimed environments whose name starts with `namePrefix` (e.g. a project's `shop/`): environment → loop id. */
  async holdersUnder(namePrefix: string): Promise<Map<string, string>> {
    const keyPrefix = this.#key(namePrefix)[0];
    const base = keyPrefix.slice(0, keyPrefix.length - namePrefix.length);
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.#redis.scan(cursor, 'MATCH', `${keyPrefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const out = new Map<string, string>();
    if (keys.length === 0) return out;
    const holders = await this.#redis.mget(keys);
    keys.forEach((key, i) => {
      const holder = holders[i];
      if (holder) out.set(key.slice(base.length), holder);
    });
    return out;
  }
}
