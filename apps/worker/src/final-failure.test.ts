// onFinalFailure with a real worker and Redis: a job that fails for good leaves a record saying why.
// (`fail-loop`: loop-ending.test.ts; `notice`: notify/notify-job.test.ts; `fail-stage`: the chaos suite's
// double kill in one deploy, test/chaos-subset.test.ts.)
import { addJob, type Queues } from '@greenloop/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoHarness, inProcessWorker } from '../../../test/demo-harness.ts';
import { until } from './test-support/until.ts';

describe('onFinalFailure (real worker)', () => {
  const h = demoHarness();
  let worker: Awaited<ReturnType<typeof inProcessWorker>> | undefined;
  let queues: Queues;
  beforeAll(async () => {
    worker = await inProcessWorker(h);
    queues = worker.queues;
  });
  afterAll(async () => {
    await worker?.close();
    await h.cleanup();
  });

  it('a fix job that fails for good records its cluster’s outcome as failed, with the reason (fail-fix)', async () => {
    const loopId = 'mffix0-00000001';
    const now = new Date().toISOString();
    await h.store.createLoop({ id: loopId, environment: 'demo', state: 'running', createdAt: now, startedBy: { kind: 'cli', name: 'test' }, cycle: 1 });
    // No analysis in the cycle: the cluster cannot be found, a permanent error.
    await h.store.saveCycle({ loopId, n: 1, commit: 'c0ffee', startedAt: now, stages: {} });
    const job = await addJob(queues, 'stage.fix', { loopId, cycle: 1, fingerprint: 'ffff0000' }, { jobId: `${loopId}.c1.fix.ffff0000` });
    const outcome = await until('fix outcome recorded', () => h.store.getFixOutcome(loopId, 1, 'ffff0000'));
    expect(await job.getState()).toBe('failed');
    expect(outcome).toEqual({
      fingerprint: 'ffff0000',
      outcome: 'failed',
      reason: expect.stringMatching(/^the fix job failed for good: CLUSTER_NOT_FOUND: cluster ffff0000 is not in cycle 1/),
      attempts: 0,
    });
  });
});
