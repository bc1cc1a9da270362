import { join } from 'node:path';
import { describeError, GreenloopError, isRetryable, type JobPayload, type ShardSummary, ShardSummarySchema } from '@greenloop/core';
import type { Job } from 'bullmq';
import { loadEnvironment, type WorkerContext } from '../context.ts';
import { loopPaths } from '../paths.ts';
import { sandboxSettings } from '../process/sandbox.ts';
import { ShardRecords } from '../shards/shard-records.ts';
import { requireLoop } from './deploy.ts';
import { runOwnedAttempt } from './owned-attempt.ts';
import { runSuite } from './suite-run.ts';

/**
 * One shard of a sharded suite (the `stage.test-shard` job): runs its part of the plan behind its own
 * recording proxies into `test/shard-<i>/`, and records its outcome for the test stage to merge. A
 * timeout is an outcome (partial results kept), not an error; a transient error is retried by BullMQ,
 * and the last attempt's error is recorded as a crashed shard.
 */
export async function testShardJob(ctx: WorkerContext, payload: JobPayload<'stage.test-shard'>, job: Job): Promise<ShardSummary['status']> {
  const { loopId, cycle, shard, count } = payload;
  const records = new ShardRecords(ctx.store.redis, ctx.store.prefix, loopId, cycle);
  const done = (await records.outcomes(count)).get(shard);
  if (done) return done.status;
  // A shard that waited in the queue past its loop's end must not test services that were stopped.
  const test = await ctx.store.getStage(loopId, cycle, 'test');
  if ((await ctx.store.isCancelRequested(loopId)) || (test && test.status !== 'running')) return 'crashed';
  const dir = join(loopPaths(ctx.env.home, loopId).cycleDir(cycle), 'test', `shard-${shard}`);
  try {
    const outcome = await ctx.cancels.run(loopId, (signal) => runShard(ctx, payload, dir, signal));
    await records.putOutcome(outcome);
    return outcome.status;
  } catch (err) {
    if (await ctx.store.isCancelRequested(loopId)) return 'crashed';
    if (isRetryable(err) && job.attemptsMade + 1 < (job.opts.attempts ?? 1)) throw err;
    await records.putOutcome({ shard, status: 'crashed', dir, junitFiles: [], reason: describeError(err) });
    return 'crashed';
  }
}

async function runShard(ctx: WorkerContext, payload: JobPayload<'stage.test-shard'>, dir: string, signal: AbortSignal): Promise<ShardSummary> {
  const { loopId, cycle, shard, count } = payload;
  const plan = await new ShardRecords(ctx.store.redis, ctx.store.prefix, loopId, cycle).plan();
  if (!plan) throw new GreenloopError('SHARD_PLAN_MISSING', `cycle ${cycle} has no shard plan for shard ${shard}/${count}`);
  const loop = await requireLoop(ctx, loopId);
  const { environment } = await loadEnvironment(ctx, loop);
  const services = (await ctx.store.getStage(loopId, cycle, 'deploy'))?.result?.services;
  if (!services) throw new GreenloopError('DEPLOY_MISSING', `cycle ${cycle} has no successful deploy to test`);
  const commit = (await ctx.store.getCycle(loopId, cycle))?.commit ?? '';
  const paths = loopPaths(ctx.env.home, loopId);
  const run = {
    loopId,
    cycle,
    signal,
    progress: (message: string, data?: Record<string, unknown>) => {
      void ctx.store.emit({ type: 'stage.progress', loopId, cycle, stage: 'test', message, ...(data ? { data } : {}) }).catch(() => undefined);
    },
  };
  const base = { redis: ctx.store.redis, prefix: ctx.store.prefix, loopId, cycle, signal, log: ctx.log };
  return await runOwnedAttempt(
    { ...base, stage: `test-shard:${shard}`, maxWaitMs: 2 * environment.tests.timeout + 60_000, output: ShardSummarySchema },
    async (procs) => {
      const files = plan.files?.[shard - 1];
      const first = plan.first?.[shard - 1];
      const res = await runSuite({
        ctx,
        run,
        procs,
        environment: loop.environment,
        tests: environment.tests,
        sandbox: sandboxSettings(environment.sandbox, { home: ctx.env.home, repo: ctx.env.repo, userHome: ctx.processEnv.HOME }),
        services,
        worktree: paths.deployWorktree(cycle),
        dir,
        runId: `${plan.runId}-s${shard}`,
        values: { commit, shortCommit: commit.slice(0, 7), cycle: String(cycle), loop: loopId },
        shard: { index: shard, count },
        ...(files ? { files } : {}),
        ...(first ? { first } : {}),
      });
      return {
        shard,
        // A runner that exits without a report (killed, crashed at start-up) is a crashed shard: its files are "not run".
        status: res.timedOut ? 'timed-out' : res.junitFiles.length ? 'finished' : 'crashed',
        dir,
        ...(files ? { files } : {}),
        exitCode: res.exitCode,
        startedAt: res.startedAt,
        finishedAt: res.finishedAt,
        durationMs: res.durationMs,
        truncatedBytes: res.truncatedBytes,
        sandboxed: res.sandboxed,
        junitFiles: res.junitFiles,
        ...(res.timedOut ? { reason: `timed out after ${Math.round(environment.tests.timeout / 1000)}s; what finished is kept` } : {}),
        ...(res.junitFiles.length === 0 && !res.timedOut ? { reason: `exited with ${res.exitCode ?? res.signal} and wrote no JUnit XML` } : {}),
      };
    },
  );
}
