import { addJob, JobCatalog, type JobName, type JobPayload, type PinnedQueues, type Queues } from '@greenloop/core';
import { Job, type Queue } from 'bullmq';

/**
 * Adds a stage job as a child of the controller job `parent`, unless a job with that id already ran to
 * its end. The controller adds its children again every time it wakes (a crash may have come between
 * planning and adding), and re-adding is a no-op for a child still waiting or running, but BullMQ 5 puts a
 * child that already *failed* back among the parent's pending dependencies: the controller then waits for
 * it forever, holding its environment (seen when three fix jobs failed for good in one cycle).
 */
export async function addStageChild<N extends JobName>(
  queues: Queues,
  parent: Job,
  name: N,
  payload: JobPayload<N>,
  jobId: string,
  /** Separate disks: the loop's worker's own queue (affinity/pinning.ts). */
  pinned?: { queues: PinnedQueues; worker: string },
): Promise<void> {
  const existing = await Job.fromId(stageChildQueue(queues, name, pinned), jobId);
  if (existing && ((await existing.isFailed()) || (await existing.isCompleted()))) return;
  // ignoreDependencyOnFailure: a child that dies without a record must still wake the controller.
  await addJob(
    queues,
    name,
    payload,
    { jobId, parent: { id: parent.id as string, queue: parent.queueQualifiedName }, ignoreDependencyOnFailure: true },
    pinned,
  );
}

/** The queue a stage child goes to: its catalog queue, or (separate disks) the loop's worker's own copy of it. */
export function stageChildQueue(queues: Queues, name: JobName, pinned?: { queues: PinnedQueues; worker: string }): Queue {
  return pinned ? pinned.queues.of(JobCatalog[name].queue, pinned.worker) : queues[JobCatalog[name].queue];
}
