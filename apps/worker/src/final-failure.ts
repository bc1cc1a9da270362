import { describeError, type FinalFailure, isJobName, JobCatalog, type JobName, parsePayload, STAGES, type StageName, StageTable } from '@greenloop/core';
import type { Job } from 'bullmq';
import type { WorkerContext } from './context.ts';
import { pullRequestJobFailed } from './publish/pull-request-job.ts';
import { ShardRecords } from './shards/shard-records.ts';
import { failLoop } from './teardown.ts';

/**
 * What each catalog entry's `onFinalFailure` does (see FinalFailure in core's jobs.ts). Runs when a job
 * lands in BullMQ's failed set for good: its last attempt failed, it threw an UnrecoverableError, or it
 * stalled more often than allowed. Without it, a controller that fails its last attempt leaves the loop
 * `queued` and its environment claimed forever.
 */
export function finalFailureHandlers(ctx: WorkerContext): Record<FinalFailure, (job: Job, reason: string) => Promise<void>> {
  const { store } = ctx;
  return {
    'fail-loop': async (job, reason) => {
      const { loopId } = parsePayload('loop.run', job.data);
      await failLoop(ctx, loopId, reason);
    },
    'fail-stage': async (job, reason) => {
      const { loopId, cycle } = parsePayload('stage.deploy', job.data);
      const stage = STAGES.find((s) => StageTable[s].job === job.name);
      if (!stage) return;
      const rec = await store.getStage(loopId, cycle, stage);
      if (rec?.status !== 'running') return;
      await store.saveStage(loopId, cycle, {
        ...rec,
        status: 'failed',
        finishedAt: new Date().toISOString(),
        error: stageJobFailure(stage, reason),
      });
    },
    'fail-fix': async (job, reason) => {
      const { loopId, cycle, fingerprint } = parsePayload('stage.fix', job.data);
      if (await store.getFixOutcome(loopId, cycle, fingerprint)) return;
      await store.putFixOutcome(loopId, cycle, { fingerprint, outcome: 'failed', reason: `the fix job failed for good: ${reason}`, attempts: 0 });
    },
    'fail-shard': async (job, reason) => {
      const { loopId, cycle, shard } = parsePayload('stage.test-shard', job.data);
      await new ShardRecords(store.redis, store.prefix, loopId, cycle).putOutcome({
        shard,
        status: 'crashed',
        dir: '',
        junitFiles: [],
        reason: `the shard job failed for good: ${reason}`,
      });
    },
    notice: async (job, reason) => {
      const { loopId, kind } = parsePayload('notify', job.data);
      // A loop pruned by retention meanwhile gets no notice (it would leave a hash with no loop in it).
      if (!(await store.getLoop(loopId))) return;
      await store.addNotice(loopId, `the ${kind} notification was not delivered after ${job.attemptsMade} attempt(s): ${reason}`);
    },
    'publish-notice': async (job, reason) => {
      const { loopId } = parsePayload('publish.pull-request', job.data);
      await pullRequestJobFailed(ctx, loopId, job.attemptsMade, reason);
    },
    log: async () => {},
  };
}

/** The error a stage record gets when its job failed for good (BullMQ's reason: its last error, or "job stalled more than allowable limit"). */
export function stageJobFailure(stage: StageName, reason: string): { code: string; message: string } {
  return { code: 'STAGE_JOB_FAILED', message: `the ${stage} job failed for good: ${reason}` };
}

/** Wires the handlers to a BullMQ worker's `failed` event; only jobs that are failed for good count. */
export async function onJobFailed(ctx: WorkerContext, handlers: ReturnType<typeof finalFailureHandlers>, job: Job | undefined, err: Error): Promise<void> {
  if (!job || !isJobName(job.name)) return;
  const name: JobName = job.name;
  try {
    // A retry moves the job to delayed/waiting; only the failed set is final.
    if ((await job.getState()) !== 'failed') return;
    const policy = JobCatalog[name].onFinalFailure;
    ctx.log.error({ job: job.id, name, attempts: job.attemptsMade, policy, err: err.message }, 'job failed for good');
    await handlers[policy](job, err.message);
  } catch (e) {
    ctx.log.error({ job: job.id, name, err: describeError(e) }, 'onFinalFailure did not complete');
  }
}
