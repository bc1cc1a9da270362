import { addJob, describeError, endLoopProcesses, type LoopRecord, type LoopState, type StopReason, TERMINAL_STATES } from '@greenloop/core';
import { addLoopJob, cycleRanHere } from './affinity/pinning.ts';
import { loadEnvironment, type WorkerContext } from './context.ts';
import { spendLedger } from './fix/budget.ts';
import { removeWorktree } from './git/repo.ts';
import { loopPaths } from './paths.ts';
import { publishArtifacts } from './publish/artifacts.ts';
import { pushToSource } from './publish/loop-push.ts';
import { shouldPublish } from './publish/publish-pull-request.ts';
import { enqueuePullRequest } from './publish/pull-request-job.ts';
import { closeOpenStages } from './stage-closing.ts';
import { stopServices } from './stages/deploy.ts';

/**
 * Ends the loop in two steps. The verdict is recorded and announced first (people are waiting for it),
 * with `teardown: 'pending'`; then {@link teardown} runs. A worker that dies in between leaves the
 * controller job to stall and be replayed, and the replay finds the terminal loop and completes it.
 */
export async function finish(ctx: WorkerContext, loop: LoopRecord, state: LoopState, stop: StopReason): Promise<LoopState> {
  const { store } = ctx;
  const cycle = loop.cycle > 0 ? await store.getCycle(loop.id, loop.cycle) : undefined;
  // What the fixers spent goes with the verdict (a loop cancelled while fixers ran included).
  const ledger = loop.cycle > 0 ? await spendLedger(store, loop.id, loop.cycle) : undefined;
  const cycleSpend = ledger?.byCycle[loop.cycle];
  if (cycle && !cycle.finishedAt) await store.saveCycle({ ...cycle, ...(cycleSpend ? { spend: cycleSpend } : {}), finishedAt: new Date().toISOString() });
  const ended: LoopRecord = {
    ...loop,
    ...(ledger?.loop ? { spend: ledger.loop } : {}),
    state,
    stop,
    finishedAt: new Date().toISOString(),
    teardown: 'pending',
  };
  delete ended.stage;
  await store.saveLoop(ended);
  await store.emit({
    type: 'loop.finished',
    loopId: loop.id,
    cycle: loop.cycle,
    message: `loop ${state}: ${stop.message}`,
    data: { state, stop, ...(ended.spend ? { spend: ended.spend } : {}) },
  });
  ctx.log.info({ loopId: loop.id, state, rule: stop.rule }, stop.message);
  await notify(ctx, ended, 'loop-finished');
  return (await teardown(ctx, ended)).state;
}

/**
 * The teardown of a terminal loop, idempotent step by step: stage records closed, candidates promoted
 * (green), local services stopped, scratch worktrees removed (evidence stays in artifacts), and only then
 * the environment released, so the next loop never overlaps with this one's processes.
 *
 * With separate disks the machine's part (services, processes, worktrees, evidence not yet published)
 * belongs to the loop's worker: elsewhere the whole teardown is handed to it as a `loop.teardown` job. A
 * worker that is gone (`machineLost`, or found dead here) took that part with it: the rest is done here.
 */
export async function teardown(ctx: WorkerContext, loop: LoopRecord, opts: { machineLost?: string } = {}): Promise<LoopRecord> {
  const { store } = ctx;
  if (loop.teardown === 'pending') {
    let lost = opts.machineLost;
    const elsewhere = ctx.affinity && loop.worker && loop.worker !== ctx.affinity.self ? loop.worker : undefined;
    if (elsewhere && !lost) {
      if (await ctx.affinity?.isLive(elsewhere)) {
        await addLoopJob(ctx, elsewhere, 'loop.teardown', { loopId: loop.id }, { jobId: `${loop.id}.teardown` });
        ctx.repos.release(loop.id);
        return loop;
      }
      lost = elsewhere;
    }
    await closeOpenStages(ctx, loop);
    if (lost) await store.addNotice(loop.id, `worker ${lost} is gone: the services, processes and scratch checkouts of the loop on its machine end with it`);
    else await tearDownMachine(ctx, loop);
    if (loop.state === 'green') await promoteCandidates(ctx, loop);
    await sweepFixCandidates(ctx, loop);
    // A project loop's result exists only in this worker's mirror until it is on the project's remote.
    if (loop.source && shouldPublish(loop)) await pushToSource(ctx, loop);
    // Its own job, not a child of the controller: a GitHub outage never changes the verdict or holds the environment.
    await enqueuePullRequest(ctx, loop);
  }
  ctx.repos.release(loop.id);
  // Released before `done` is written: a crash between the two replays a teardown that is a no-op.
  await store.releaseEnvironment(loop.environment, loop.id);
  if (loop.teardown !== 'pending') return loop;
  const done: LoopRecord = { ...loop, teardown: 'done' };
  await store.saveLoop(done);
  return done;
}

/** The part of a teardown that needs the loop's machine: its evidence, services, processes and worktrees. */
async function tearDownMachine(ctx: WorkerContext, loop: LoopRecord): Promise<void> {
  const { store } = ctx;
  await publishArtifacts(ctx, loop.id, loop.cycle, 'the loop ended');
  try {
    // The last cycle's services, and the one before's in case the last deploy failed half-way (if they ran here).
    for (let n = loop.cycle; n >= 1 && n >= loop.cycle - 1; n--) {
      if (await cycleRanHere(ctx, loop.id, n)) await stopServices(ctx, (await store.getStage(loop.id, n, 'deploy'))?.result?.services ?? []);
    }
  } catch (err) {
    ctx.log.warn({ loopId: loop.id, err: describeError(err) }, 'could not stop the loop’s services');
  }
  // Then everything else the loop ever spawned, by record and by tag: a crashed attempt's children,
  // daemons a fixer or a suite left in a session of their own.
  const swept = await endLoopProcesses(store.redis, store.prefix, loop.id);
  if (swept) ctx.log.warn({ loopId: loop.id, processes: swept }, 'ended processes the loop left running');
  // A loop that never began (its project's remote could not be fetched) made no worktree to remove.
  const repo = loop.baseCommit ? await ctx.repos.repoFor(loop).catch(() => undefined) : undefined;
  const paths = loopPaths(ctx.env.home, loop.id);
  if (repo) {
    for (let n = 1; n <= loop.cycle; n++) await removeWorktree(repo, paths.deployWorktree(n)).catch(() => undefined);
    await removeWorktree(repo, paths.integrateWorktree).catch(() => undefined);
  }
}

/**
 * What a controller job that failed for good leaves behind (onFinalFailure of `loop.run`): the loop is
 * recorded `failed` with the reason and torn down, so its environment is released and cancel or a new
 * trigger work again. Never throws: the environment is released even if the teardown cannot finish.
 */
export async function failLoop(ctx: WorkerContext, loopId: string, reason: string): Promise<void> {
  const loop = await ctx.store.getLoop(loopId);
  if (!loop) return;
  try {
    if (TERMINAL_STATES.includes(loop.state)) await teardown(ctx, loop);
    else await finish(ctx, loop, 'failed', { rule: 'stage-error', message: `the loop controller failed: ${reason}` });
  } catch (err) {
    ctx.log.error({ loopId, err: describeError(err) }, 'teardown of a failed loop did not complete; releasing its environment');
    await ctx.store.releaseEnvironment(loop.environment, loop.id);
  }
}

/** Green with candidate revisions (Cloud Run, 0% traffic under a tag): now they get the traffic. */
async function promoteCandidates(ctx: WorkerContext, loop: LoopRecord): Promise<void> {
  const deployed = (await ctx.store.getStage(loop.id, loop.cycle, 'deploy'))?.result?.services ?? [];
  const { environment } = await loadEnvironment(ctx, loop);
  for (const d of deployed) {
    const svc = environment.services.find((s) => s.name === d.service);
    if (svc?.deploy.provider !== 'cloud-run' || !svc.deploy.candidate) continue;
    try {
      await ctx.deployProvider(svc).promote?.(d, {});
      await ctx.store.emit({ type: 'notice', loopId: loop.id, message: `promoted ${d.service} revision ${d.revision} to 100% of traffic` });
    } catch (err) {
      const message = `could not promote ${d.service} revision ${d.revision}: ${describeError(err)}; traffic stays on the previous revision`;
      await ctx.store.addNotice(loop.id, message);
      await ctx.store.emit({ type: 'notice', loopId: loop.id, message });
    }
  }
}

/** fixer.proveOnDeploy on Cloud Run: candidates a worker that died mid-proof left tagged are removed. */
async function sweepFixCandidates(ctx: WorkerContext, loop: LoopRecord): Promise<void> {
  // A loop's config is its base commit's and never changes: one that does not load never ran a proof.
  const environment = await loadEnvironment(ctx, loop).then(
    (l) => l.environment,
    () => undefined,
  );
  if (!environment?.fixer?.proveOnDeploy) return;
  try {
    for (const svc of environment.services) {
      if (svc.deploy.provider !== 'cloud-run') continue;
      const removed =
        (await ctx.deployProvider(svc).sweepFixCandidates?.(svc, { id: loop.id, cycles: loop.cycle }, { signal: AbortSignal.timeout(300_000) })) ?? [];
      if (removed.length) ctx.log.warn({ loopId: loop.id, service: svc.name, revisions: removed }, 'removed fix candidates a proof left behind');
    }
  } catch (err) {
    const message = `could not remove fix candidates left on Cloud Run: ${describeError(err)}`;
    await ctx.store.addNotice(loop.id, message);
  }
}

/** Enqueues a notification; a notification problem never stops a loop. */
export async function notify(ctx: WorkerContext, loop: LoopRecord, kind: 'loop-started' | 'cycle-finished' | 'loop-finished', cycle?: number): Promise<void> {
  try {
    const { environment } = await loadEnvironment(ctx, loop);
    if (!environment.notifications.slack && !environment.notifications.webhook) return;
    await addJob(
      ctx.queues,
      'notify',
      { loopId: loop.id, kind, ...(cycle ? { cycle } : {}) },
      { jobId: [loop.id, 'notify', kind, cycle].filter(Boolean).join('.') },
    );
  } catch (err) {
    ctx.log.warn({ loopId: loop.id, err: describeError(err) }, 'could not enqueue notification');
  }
}
