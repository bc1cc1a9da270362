// A controller that wakes after a child failed for good must not wait for that child again (real BullMQ).
import { closeQueues, createQueues, type Queues } from '@greenloop/core';
import { testRedis } from '@greenloop/core/testing';
import { UnrecoverableError, WaitingChildrenError, Worker } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { addStageChild } from './stage-children.ts';

describe('addStageChild', () => {
  const t = testRedis();
  let queues: Queues;
  const workers: { close(): Promise<void> }[] = [];
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    if (queues) await closeQueues(queues);
    await t.cleanup();
  });

  it('a child that failed for good is not added again, so the woken parent goes on instead of waiting forever', { timeout: 20_000 }, async () => {
    queues = createQueues(t.redis, t.prefix);
    const connection = t.redis.duplicate({ maxRetriesPerRequest: null });
    let parentRuns = 0;
    const finished = new Promise<string>((resolve) => {
      // The controller's shape: add the child, wait for it, and on waking add it again before looking.
      const parent = new Worker<unknown, string>(
        'loops',
        async (job, token) => {
          parentRuns++;
          await addStageChild(queues, job, 'stage.fix', { loopId: 'mchild-00000001', cycle: 1, fingerprint: 'abcd1234' }, 'mchild-00000001.c1.fix.abcd1234');
          if (await job.moveToWaitingChildren(token as string)) throw new WaitingChildrenError();
          return 'went on';
        },
        { connection, prefix: t.prefix },
      );
      parent.on('completed', (_job, value: string) => resolve(value));
      workers.push(parent);
    });
    let childRuns = 0;
    workers.push(
      new Worker(
        'fix',
        async () => {
          childRuns++;
          throw new UnrecoverableError('the dossier cannot be read');
        },
        { connection: t.redis.duplicate({ maxRetriesPerRequest: null }), prefix: t.prefix },
      ),
    );
    await queues.loops.add('loop.run', { loopId: 'mchild-00000001' }, { jobId: 'mchild-00000001' });
    // Without the check the second run re-adds the failed child, BullMQ counts it pending again, and the
    // parent stays in waiting-children: this times out.
    await expect(finished).resolves.toBe('went on');
    expect(parentRuns).toBe(2);
    expect(childRuns).toBe(1);
  });
});
