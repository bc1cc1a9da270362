import { addJob, closeQueues, createLogger, createQueues, LoopStore, type Queues } from '@greenloop/core';
import { testRedis } from '@greenloop/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startClaimHeartbeat } from './claim-heartbeat.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('claim heartbeat (real Redis and BullMQ)', () => {
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

  it('renews the lease of a loop whose controller job is alive; lets a dead loop’s lease expire', async () => {
    const store = new LoopStore(t.redis, t.prefix, { claimLeaseMs: 600 });
    // Alive: its controller job waits in the loops queue. Dead: no controller job at all.
    await addJob(queues, 'loop.run', { loopId: 'mlive0-00000001' }, { jobId: 'mlive0-00000001' });
    expect((await store.claimEnvironment('staging', 'mlive0-00000001')).claimed).toBe(true);
    expect((await store.claimEnvironment('qa', 'mdead0-00000002')).claimed).toBe(true);
    const beat = startClaimHeartbeat({ store, queues, log: createLogger('test', 'silent') }, 150);
    try {
      await sleep(1500); // 2.5 leases
      expect(await store.activeLoop('staging')).toBe('mlive0-00000001');
      expect(await store.activeLoop('qa')).toBeUndefined();
      // Once its controller job is gone (failed for good, removed), the live loop's lease lapses too.
      await queues.loops.remove('mlive0-00000001');
      await sleep(1200);
      expect(await store.activeLoop('staging')).toBeUndefined();
    } finally {
      await beat.stop();
    }
  });
});
