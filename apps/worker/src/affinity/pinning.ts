import {
  addJob,
  isPinnedJob,
  isWorkerLive,
  type JobName,
  type JobPayload,
  type PinnedQueues,
  type PinTarget,
  pinnedWorkersKey,
  type Redis,
} from '@greenloop/core';
import type { JobsOptions } from 'bullmq';
import type { WorkerContext } from '../context.ts';

/**
 * GREENLOOP_WORKER_DISKS=separate: loop affinity. A loop is pinned to the worker that begins it
 * (LoopRecord.worker) and its pinned jobs (see the job catalog) go to that worker's own queues; the
 * controller itself runs anywhere, as it reads and writes only Redis records.
 */
export interface LoopAffinity {
  /** This worker's registry id: the loops it begins (or adopts) are pinned to it. */
  readonly self: string;
  readonly queues: PinnedQueues;
  /** Whether `worker` is registered (a dead one's entry lapses three heartbeats after its last). */
  isLive(worker: string): Promise<boolean>;
}

export function loopAffinity(redis: Redis, prefix: string, self: string, queues: PinnedQueues): LoopAffinity {
  return { self, queues, isLive: async (worker) => worker === self || (await isWorkerLive(redis, prefix, worker)) };
}

/**
 * Where a job of a loop pinned to `worker` goes: that worker's own queue for a pinned job when loops have
 * affinity (the worker is then known to the adopters), undefined for the catalog's queue, as before.
 */
export async function pinTarget(ctx: Pick<WorkerContext, 'affinity' | 'store'>, worker: string | undefined, name: JobName): Promise<PinTarget | undefined> {
  if (!ctx.affinity || !worker || !isPinnedJob(name)) return undefined;
  // Known to the adopters before the job exists: a worker that died since it was last checked still gets its queues adopted.
  await ctx.store.redis.sadd(pinnedWorkersKey(ctx.store.prefix), worker);
  return { queues: ctx.affinity.queues, worker };
}

/** Adds a job of a loop pinned to `worker` (see {@link pinTarget}). */
export async function addLoopJob<N extends JobName>(
  ctx: Pick<WorkerContext, 'queues' | 'affinity' | 'store'>,
  worker: string | undefined,
  name: N,
  payload: JobPayload<N>,
  opts: JobsOptions,
) {
  return await addJob(ctx.queues, name, payload, opts, await pinTarget(ctx, worker, name));
}

/**
 * Whether what cycle `n` started (local services, processes) is on this worker's machine: always with a
 * shared disk; with affinity only when the cycle ran here. Another machine's pid is not ours to signal.
 */
export async function cycleRanHere(ctx: Pick<WorkerContext, 'store' | 'affinity'>, loopId: string, n: number): Promise<boolean> {
  if (!ctx.affinity) return true;
  const worker = (await ctx.store.getCycle(loopId, n))?.worker;
  return worker === undefined || worker === ctx.affinity.self;
}
