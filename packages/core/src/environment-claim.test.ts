import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type LoopRecord, TERMINAL_STATES } from './domain.ts';
import { readEnv } from './env.ts';
import { cancelLoop, startLoop } from './loops.ts';
import { closeQueues, createQueues, type Queues } from './queues.ts';
import { LoopStore } from './store.ts';
import { testRedis } from './testing.ts';

const actor = { kind: 'cli', name: 'claim-test' } as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('environment claims (real Redis)', () => {
  let t: ReturnType<typeof testRedis>;
  let queues: Queues;
  beforeEach(() => {
    t = testRedis();
    queues = createQueues(t.redis, t.prefix);
  });
  afterEach(async () => {
    await closeQueues(queues);
    await t.cleanup();
  });

  it('claim is atomic: takes the environment or names the holder, never both', async () => {
    const outs = await Promise.all(Array.from({ length: 20 }, (_, i) => t.store.claims.claim('staging', `loop-${i}`)));
    const winners = outs.filter((o) => o.claimed);
    expect(winners).toHaveLength(1);
    for (const o of outs) expect(o.holder).toBe(winners[0]?.holder);
    expect(await t.redis.pttl(t.store.key('active', 'staging'))).toBeGreaterThan(50_000);
  });

  it('the lease comes from GREENLOOP_CLAIM_LEASE (default 60s, at least 3s)', async () => {
    expect(readEnv({}).GREENLOOP_CLAIM_LEASE).toBe(60_000);
    const env = readEnv({ GREENLOOP_CLAIM_LEASE: '5s' });
    expect(env.GREENLOOP_CLAIM_LEASE).toBe(5000);
    expect(() => readEnv({ GREENLOOP_CLAIM_LEASE: '1s' })).toThrow(/GREENLOOP_CLAIM_LEASE must be at least 3s/);
    const store = new LoopStore(t.redis, t.prefix, { claimLeaseMs: env.GREENLOOP_CLAIM_LEASE });
    expect((await store.claimEnvironment('staging', 'loop-short')).claimed).toBe(true);
    const pttl = await t.redis.pttl(store.key('active', 'staging'));
    expect(pttl).toBeGreaterThan(3000);
    expect(pttl).toBeLessThanOrEqual(5000);
  });

  it('release only frees the caller’s own claim', async () => {
    await t.store.claimEnvironment('staging', 'loop-a');
    expect(await t.store.claims.release('staging', 'loop-b')).toBe(false);
    expect(await t.store.activeLoop('staging')).toBe('loop-a');
    expect(await t.store.claims.release('staging', 'loop-a')).toBe(true);
    expect(await t.store.activeLoop('staging')).toBeUndefined();
  });

  it('20 triggers fired while a finishing loop releases its claim → exactly one new loop', async () => {
    for (let round = 0; round < 10; round++) {
      const env = `staging-${round}`;
      const first = await startLoop({ store: t.store, queues }, { environment: env, actor });
      if (first.kind !== 'created') throw new Error('first loop not created');
      // The first loop's verdict is recorded (terminal) while its teardown still holds the claim.
      await t.store.saveLoop({ ...first.loop, state: 'green', teardown: 'pending' });
      const burst = (n: number) => Array.from({ length: n }, () => startLoop({ store: t.store, queues }, { environment: env, actor }));
      const early = burst(10);
      const release = t.store.releaseEnvironment(env, first.loop.id);
      await release;
      const late = burst(10);
      const outs = await Promise.all([...early, ...late]);
      const created = outs.filter((o) => o.kind === 'created');
      expect(created, `round ${round}`).toHaveLength(1);
      const winner = created[0]?.kind === 'created' ? created[0].loop.id : '';
      for (const o of outs) if (o.kind === 'conflict') expect([first.loop.id, winner]).toContain(o.activeLoopId);
      expect(await t.store.activeLoop(env)).toBe(winner);
    }
  });

  it('a trigger during teardown gets 409 (conflict): the finishing loop keeps its claim until released', async () => {
    const first = await startLoop({ store: t.store, queues }, { environment: 'staging', actor });
    if (first.kind !== 'created') throw new Error('not created');
    await t.store.saveLoop({ ...first.loop, state: 'stopped', teardown: 'pending' });
    expect(await startLoop({ store: t.store, queues }, { environment: 'staging', actor })).toEqual({ kind: 'conflict', activeLoopId: first.loop.id });
  });

  it('a claim nobody renews expires, and the next trigger reports it on both loops', async () => {
    const store = new LoopStore(t.redis, t.prefix, { claimLeaseMs: 300 });
    const dead = await startLoop({ store, queues }, { environment: 'staging', actor });
    if (dead.kind !== 'created') throw new Error('not created');
    expect((await startLoop({ store, queues }, { environment: 'staging', actor })).kind).toBe('conflict');
    // Renewals keep it alive past its lease...
    for (let i = 0; i < 4; i++) {
      await sleep(150);
      expect((await store.renewClaim('staging', dead.loop.id)).claimed).toBe(true);
    }
    // ...and without them it lapses.
    await sleep(450);
    const next = await startLoop({ store, queues }, { environment: 'staging', actor });
    expect(next).toMatchObject({ kind: 'created', expiredClaim: dead.loop.id });
    const nextLoop = next.kind === 'created' ? next.loop : ({} as LoopRecord);
    expect((await store.getLoop(nextLoop.id))?.notices?.[0]).toContain(`previous loop ${dead.loop.id}'s claim on staging expired`);
    expect((await store.getLoop(dead.loop.id))?.notices?.[0]).toContain('expired');
    // The dead loop coming back finds the environment taken.
    expect(await store.renewClaim('staging', dead.loop.id)).toMatchObject({ claimed: false, holder: nextLoop.id });
    // A loop released properly is not reported as expired.
    await store.releaseEnvironment('staging', nextLoop.id);
    const third = await startLoop({ store, queues }, { environment: 'staging', actor });
    expect(third).toMatchObject({ kind: 'created' });
    expect(third.kind === 'created' ? third.expiredClaim : 'none').toBeUndefined();
  });

  it('a renewal that comes after the release does not claim the environment again', async () => {
    const store = new LoopStore(t.redis, t.prefix, { claimLeaseMs: 300 });
    const loop = await startLoop({ store, queues }, { environment: 'qa', actor });
    if (loop.kind !== 'created') throw new Error('not created');
    // A heartbeat saw the loop's controller alive, then the teardown released the environment.
    await store.releaseEnvironment('qa', loop.loop.id);
    expect((await store.renewClaim('qa', loop.loop.id)).claimed).toBe(false);
    expect(await store.activeLoop('qa')).toBeUndefined();
    // A lease that merely lapsed is still taken back by its live loop.
    const next = await startLoop({ store, queues }, { environment: 'qa', actor });
    if (next.kind !== 'created') throw new Error('not created');
    await sleep(450);
    expect((await store.renewClaim('qa', next.loop.id)).claimed).toBe(true);
    await store.releaseEnvironment('qa', next.loop.id);
  });

  it('a claim written before leases (no TTL) becomes a lease when looked at', async () => {
    await t.redis.set(t.store.key('active', 'staging'), 'legacy-loop');
    const out = await t.store.claimEnvironment('staging', 'new-loop');
    expect(out).toEqual({ claimed: false, holder: 'legacy-loop' });
    expect(await t.redis.pttl(t.store.key('active', 'staging'))).toBeGreaterThan(0);
  });

  it('cancel of a queued loop records the request', async () => {
    const out = await startLoop({ store: t.store, queues }, { environment: 'staging', actor });
    if (out.kind !== 'created') throw new Error('not created');
    const loop = await cancelLoop(t.store, out.loop.id);
    expect(loop && TERMINAL_STATES.includes(loop.state)).toBe(false);
    expect(await t.store.isCancelRequested(out.loop.id)).toBe(true);
  });
});
