import { describeError, type Logger, type LoopStore, PINNED_QUEUES, pinnedQueueName, pinnedWorkersKey, type QueueName, type Redis } from '@greenloop/core';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { LoopAffinity } from './pinning.ts';

/** Job states that still wait for a consumer (an active job of a dead worker stalls back to waiting). */
const UNFINISHED = ['waiting', 'active', 'delayed', 'prioritized', 'paused', 'waiting-children'] as const;

/**
 * Adoption of a dead worker's queues (GREENLOOP_WORKER_DISKS=separate). Only the worker a loop is pinned to
 * consumes its queues, so when it dies its waiting jobs would never run and its active ones would never be
 * stall-checked: the controllers waiting for them would wait forever. Every live worker looks, once a
 * heartbeat, for workers that registered pinned queues and are no longer live; one of them (a lock) runs a
 * BullMQ Worker on each of the dead worker's queues that still hold jobs, until none is left:
 * - a stage, shard or fix job fails at once (UnrecoverableError `WORKER_LOST`). Its final-failure policy is
 *   not run: the controller, woken by its failed child (ignoreDependencyOnFailure), finds its loop's worker
 *   gone and redeploys the cycle on a live worker (affinity/lost-worker.ts);
 * - a loop's teardown is finished here, without what only the dead machine could do (say so on the loop).
 * Active jobs stall back to waiting once the dead worker's lock lapses (GREENLOOP_LOCK_DURATION).
 */
export function startAdoption(deps: {
  store: LoopStore;
  log: Logger;
  affinity: LoopAffinity;
  /** A connection to duplicate for the adopting BullMQ workers. */
  connection: Redis;
  heartbeatMs: number;
  /** GREENLOOP_LOCK_DURATION: how long a dead worker's active job stays locked. */
  lockDurationMs: number;
  /** Finishes a loop's teardown without the dead worker's machine (see teardown.ts). */
  tearDownWithout(loopId: string, dead: string): Promise<void>;
}): { stop(): Promise<void> } {
  const { store, log, affinity, connection, heartbeatMs, lockDurationMs } = deps;
  const known = pinnedWorkersKey(store.prefix);
  let stopped = false;
  let running: Promise<void> = Promise.resolve();

  const unfinished = async (worker: string) => {
    const out = new Map<QueueName, number>();
    for (const q of PINNED_QUEUES) {
      const counts = await affinity.queues.of(q, worker).getJobCounts(...UNFINISHED);
      const n = Object.values(counts).reduce((a, b) => a + b, 0);
      if (n) out.set(q, n);
    }
    return out;
  };

  const adopt = async (dead: string, queues: readonly QueueName[]) => {
    const lock = store.key('adopting', dead);
    if ((await store.redis.set(lock, affinity.self, 'PX', heartbeatMs * 4, 'NX')) !== 'OK') return;
    log.warn({ dead, queues }, 'adopting the queues of a dead worker');
    const reason = `WORKER_LOST: worker ${dead} is gone (no heartbeat); the loop's controller redeploys its cycle on a live worker`;
    const processor = async (job: Job) => {
      if (job.name !== 'loop.teardown') throw new UnrecoverableError(reason);
      await deps.tearDownWithout((job.data as { loopId: string }).loopId, dead);
      return 'torn down without its machine';
    };
    const connections: Redis[] = [];
    const workers = queues.map((q) => {
      const c = connection.duplicate();
      connections.push(c);
      const w = new Worker(pinnedQueueName(q, dead), processor, {
        connection: c,
        prefix: store.prefix,
        concurrency: 50,
        lockDuration: lockDurationMs,
        // The dead worker's active jobs come back once their locks lapse: looked for every second.
        stalledInterval: 1000,
      });
      w.on('error', (err) => log.warn({ dead, queue: q, err: err.message }, 'adoption worker error'));
      return w;
    });
    try {
      // Bounded: a dead worker's lock lapses within GREENLOOP_LOCK_DURATION, then its job stalls back.
      const giveUpAt = Date.now() + lockDurationMs * 3 + 60_000;
      while (!stopped && Date.now() < giveUpAt) {
        await store.redis.pexpire(lock, heartbeatMs * 4);
        if ((await unfinished(dead)).size === 0) {
          await store.redis.srem(known, dead);
          log.warn({ dead }, 'the dead worker’s jobs are ended; its loops go on elsewhere');
          break;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
      if ((await store.redis.get(lock)) === affinity.self) await store.redis.del(lock);
    }
  };

  const tick = async () => {
    try {
      for (const worker of await store.redis.smembers(known)) {
        if (stopped) return;
        if (await affinity.isLive(worker)) continue;
        const left = await unfinished(worker);
        if (left.size === 0) await store.redis.srem(known, worker);
        else await adopt(worker, [...left.keys()]);
      }
    } catch (err) {
      log.warn({ err: describeError(err) }, 'adoption check skipped');
    }
  };

  const ready = store.redis.sadd(known, affinity.self);
  const timer = setInterval(() => {
    running = running.then(tick);
  }, heartbeatMs);
  timer.unref();
  running = ready.then(tick, tick);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
