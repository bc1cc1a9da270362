import { addJob, type JobName, type JobPayload, type PinTarget, type Queues, queueOf } from '@greenloop/core';
import { Job } from 'bullmq';

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
  pinned?: PinTarget,
): Promise<void> {
  const existing = await Job.fromId(queueOf(queues, name, pinned), jobId);
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
