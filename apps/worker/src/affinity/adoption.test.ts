import {
  closeQueues,
  createLogger,
  createQueues,
  PinnedQueues,
  pinnedQueueName,
  pinnedWorkersKey,
  readMetrics,
  registerWorker,
  stageJobId,
} from '@greenloop/core';
import { testRedis } from '@greenloop/core/testing';
import { FlowProducer, type Job, Worker } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { until } from '../test-support/until.ts';
import { startAdoption } from './adoption.ts';
import { loopAffinity } from './pinning.ts';

describe('adoption of a dead worker’s queues (real Redis and BullMQ)', () => {
  let t: ReturnType<typeof testRedis>;
  let pinned: PinnedQueues;
  beforeEach(() => {
    t = testRedis();
    pinned = new PinnedQueues(t.redis, t.prefix);
  });
  afterEach(async () => {
    await pinned.close();
    await t.cleanup();
  });

  it('ends the waiting and the stalled active jobs of a dead worker (the controller wakes), finishes its teardowns, and leaves a live one alone', async () => {
    const { redis, prefix, store } = t;
    const loopId = 'mxdead-00000001';
    // Two workers had pinned queues: `live` is registered, `dead` is not (its entry lapsed).
    const live = registerWorker(redis, prefix, { id: 'live', capacity: {}, artifacts: 'local:/x' }, 60_000);
    await live.beat();
    await redis.sadd(pinnedWorkersKey(prefix), 'dead', 'live');
    // The controller waits for a deploy and a test job in the dead worker's queues (as awaitStage adds them).
    const flows = new FlowProducer({ connection: redis.duplicate(), prefix });
    const child = (stage: 'deploy' | 'test') => ({
      name: `stage.${stage}`,
      queueName: pinnedQueueName(stage, 'dead'),
      data: { loopId, cycle: 1 },
      opts: { jobId: stageJobId(loopId, 1, stage), ignoreDependencyOnFailure: true },
    });
    const flow = await flows.add({
      name: 'loop.run',
      queueName: 'loops',
      data: { loopId },
      opts: { jobId: loopId },
      children: [child('deploy'), child('test')],
    });
    await flows.close();
    // The dead worker had taken the test job when it died: it is active, its lock (1 s) never renewed.
    let taken: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      taken = resolve;
    });
    const doomedConnection = redis.duplicate();
    const doomed = new Worker(
      pinnedQueueName('test', 'dead'),
      async () => {
        taken();
        await new Promise(() => {});
      },
      { connection: doomedConnection, prefix, lockDuration: 1000, skipLockRenewal: true, skipStalledCheck: true },
    );
    await started;
    await doomed.close(true);
    doomedConnection.disconnect();
    // A teardown handed to the dead worker, and a job of the live worker that must stay put.
    await pinned.of('deploy', 'dead').add('loop.teardown', { loopId }, { jobId: `${loopId}.teardown` });
    await pinned.of('deploy', 'live').add('stage.deploy', { loopId: 'mxlive-00000002', cycle: 1 }, { jobId: 'live-deploy' });

    // /metrics counts the pinned queues' jobs under their queue: the dead worker's deploy, teardown and test, the live one's deploy.
    const queues = createQueues(redis, prefix);
    const metrics = await readMetrics(store, queues);
    await closeQueues(queues);
    expect(metrics.queues.deploy).toMatchObject({ waiting: 3 });
    expect(metrics.queues.test).toMatchObject({ active: 1 });

    const tornDown: string[] = [];
    const adoption = startAdoption({
      store,
      log: createLogger('test', 'silent'),
      affinity: loopAffinity(redis, prefix, 'adopter', pinned),
      connection: redis,
      heartbeatMs: 200,
      lockDurationMs: 1000,
      tearDownWithout: async (id, dead) => void tornDown.push(`${id}@${dead}`),
    });
    try {
      const parent = flow.job;
      await until('the controller woken', async () => (await parent.getState()) === 'waiting', 15_000);
      for (const stage of ['deploy', 'test'] as const) {
        const job = (await pinned.of(stage, 'dead').getJob(stageJobId(loopId, 1, stage))) as Job;
        expect(await job.getState(), stage).toBe('failed');
        expect(job.failedReason, stage).toMatch(/^WORKER_LOST: worker dead is gone/);
      }
      expect(tornDown).toEqual([`${loopId}@dead`]);
      await until('the dead worker forgotten', async () => !(await redis.smembers(pinnedWorkersKey(prefix))).includes('dead'), 5000);
      expect(await redis.smembers(pinnedWorkersKey(prefix))).toEqual(expect.arrayContaining(['live', 'adopter']));
      expect(await (await pinned.of('deploy', 'live').getJob('live-deploy'))?.getState()).toBe('waiting');
    } finally {
      await adoption.stop();
      await live.stop();
    }
  });
});
