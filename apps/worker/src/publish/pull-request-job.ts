import { addJob, describeError, type JobPayload, type LoopRecord } from '@greenloop/core';
import { loadEnvironment, type WorkerContext } from '../context.ts';
import type { PushTarget } from '../git/push.ts';
import type { RetryPolicy } from './host-retry.ts';
import { pullRequestHost, tokenNeeds } from './hosts.ts';
import { pushTargetOf } from './loop-push.ts';
import { type PublishOutcome, publishPullRequest, recordRefusal, shouldPublish } from './publish-pull-request.ts';

/** Test seams of the host adapters (time, retry pacing); production uses the defaults. */
export type HostTuning = RetryPolicy;

/**
 * The `publish.pull-request` job: reads the environment's `pullRequest` and `loop.push` config and the
 * token from the worker's environment, then publishes. Transient failures throw (BullMQ retries with
 * backoff); permanent ones are recorded on the loop and end the job.
 */
export async function runPullRequestJob(ctx: WorkerContext, payload: JobPayload<'publish.pull-request'>, tuning: HostTuning = {}): Promise<PublishOutcome> {
  const loop = await ctx.store.getLoop(payload.loopId);
  if (!loop) return { status: 'skipped', reason: `loop ${payload.loopId} does not exist (pruned?)` };
  const { environment } = await loadEnvironment(ctx, loop);
  const config = environment.pullRequest;
  if (!config) return { status: 'skipped', reason: `environment ${loop.environment} has no pullRequest configured` };
  const token = ctx.processEnv[config.tokenEnv];
  if (!token) {
    const reason = `${config.tokenEnv} (pullRequest.tokenEnv) is not set in the worker's environment: set it to ${tokenNeeds(config)} on ${config.repository}`;
    await recordRefusal(ctx.store, loop.id, reason, nounOf(config.provider));
    return { status: 'refused', reason };
  }
  let push: PushTarget | undefined;
  try {
    push = pushTargetOf(ctx, loop, environment);
  } catch (err) {
    const reason = describeError(err);
    await recordRefusal(ctx.store, loop.id, reason, nounOf(config.provider));
    return { status: 'refused', reason };
  }
  // GREENLOOP_URL has a default (loopback), useless in a pull request: links only when a public URL was given.
  const publicUrl = config.publicUrl ?? (ctx.processEnv.GREENLOOP_URL ? ctx.env.GREENLOOP_URL : undefined);
  return await publishPullRequest(
    {
      store: ctx.store,
      host: () => pullRequestHost(config, token, ctx.log, tuning),
      repo: await ctx.repos.repoFor(loop, loop.commit),
      ...(push ? { push } : {}),
      ...(config.base ? { base: config.base } : {}),
      links: publicUrl ? { publicUrl } : {},
      log: ctx.log,
    },
    loop.id,
  );
}

/**
 * Enqueues the job for a loop that ended with something to propose and an environment with
 * `pullRequest`. Called from the teardown (replayed after a crash; the job id makes it once per loop).
 * Never throws: publishing is never a reason for a loop's teardown to fail.
 */
export async function enqueuePullRequest(ctx: WorkerContext, loop: LoopRecord): Promise<void> {
  if (!shouldPublish(loop)) return;
  try {
    const { environment } = await loadEnvironment(ctx, loop);
    if (!environment.pullRequest) return;
    await addJob(ctx.queues, 'publish.pull-request', { loopId: loop.id }, { jobId: `${loop.id}.publish.pull-request` });
  } catch (err) {
    ctx.log.warn({ loopId: loop.id, err: describeError(err) }, 'could not enqueue the pull request job');
  }
}

/** onFinalFailure of the job (`publish-notice`): its retries are spent; the loop says so. */
export async function pullRequestJobFailed(ctx: WorkerContext, loopId: string, attempts: number, reason: string): Promise<void> {
  // A loop pruned by retention meanwhile gets no notice (it would leave a hash with no loop in it).
  const loop = await ctx.store.getLoop(loopId);
  if (!loop) return;
  const provider = await loadEnvironment(ctx, loop).then(
    ({ environment }) => environment.pullRequest?.provider,
    () => undefined,
  );
  await recordRefusal(ctx.store, loopId, `gave up after ${attempts} attempt(s): ${reason}`, nounOf(provider));
}

function nounOf(provider: 'github' | 'gitlab' | undefined): string {
  return provider === 'gitlab' ? 'merge request' : 'pull request';
}
