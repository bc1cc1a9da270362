import { type CycleRecord, describeError, type LoopRecord, type StopReason } from '@greenloop/core';
import type { WorkerContext } from '../context.ts';
import { releaseCycleSlots } from '../fix/fixer-slots.ts';
import { gitExec } from '../git/repo.ts';
import { ShardRecords } from '../shards/shard-records.ts';
import { forgetAttempts } from '../stages/owned-attempt.ts';

/**
 * The controller's check, before each step, that the worker its loop is pinned to is alive. When it is
 * gone (its registry entry lapsed, or it shut down), everything of the current cycle that was on its disk
 * (deploy worktree, evidence, dossiers, fix commits) and machine (local services) is gone too, so the
 * cycle starts over from its deploy, at its commit, on this worker: the loop is re-pinned here and the
 * cycle's records are dropped. The commit must be fetchable here — the loop branch is pushed to the
 * project's remote after each integrate — or the loop ends saying why.
 * Returns the loop (re-pinned or as it was), or the reason it cannot go on.
 */
export async function keepPinned(ctx: WorkerContext, loop: LoopRecord): Promise<LoopRecord | StopReason> {
  const affinity = ctx.affinity;
  if (!affinity) return loop;
  const self = affinity.self;
  if (loop.worker === self || (loop.worker && (await affinity.isLive(loop.worker)))) return loop;
  const cycle = await ctx.store.getCycle(loop.id, loop.cycle);
  if (!cycle) return loop;
  if (!loop.worker) {
    // Begun before the installation switched to separate disks: it goes on here.
    const pinned: LoopRecord = { ...loop, worker: self };
    await ctx.store.saveLoop(pinned);
    await ctx.store.saveCycle({ ...cycle, worker: self });
    return pinned;
  }
  const lost = loop.worker;
  const n = cycle.n;
  try {
    const repo = await ctx.repos.repoFor(loop, cycle.commit);
    // The loop branch as the lost worker left it (integrate works on it): the branch at the cycle's commit.
    if (loop.branch) await gitExec(repo, ['branch', '--force', '--no-track', loop.branch, cycle.commit]);
  } catch (err) {
    return {
      rule: 'source-unavailable',
      message: `worker ${lost} was lost in cycle ${n}, and its commit ${cycle.commit.slice(0, 12)} cannot be fetched on worker ${self} to redeploy it: ${describeError(err)}`,
    };
  }
  // Services a lost worker started on its machine cannot be stopped from another: they end with it. The
  // cycle's own, or (its deploy not done) the previous cycle's, which that deploy may not have stopped yet.
  const deployed = async (m: number) => {
    const c = m >= 1 ? await ctx.store.getCycle(loop.id, m) : undefined;
    return c?.worker === lost ? c.stages.deploy?.result?.services : undefined;
  };
  const left = ((await deployed(n)) ?? (await deployed(n - 1)) ?? []).filter((s) => s.pid);
  // Pinned first: a job of the lost worker that still runs somewhere sees the loop is not its own any more.
  const repinned: LoopRecord = { ...loop, worker: self };
  delete repinned.stage;
  await ctx.store.saveLoop(repinned);
  const fresh: CycleRecord = { loopId: loop.id, n, commit: cycle.commit, startedAt: new Date().toISOString(), worker: self, stages: {} };
  await ctx.store.resetCycle(fresh);
  const { redis, prefix } = ctx.store;
  await forgetAttempts(redis, prefix, loop.id, n);
  await new ShardRecords(redis, prefix, loop.id, n).forget();
  await releaseCycleSlots(redis, prefix, loop.id, n);
  const message = `worker ${lost} lost; cycle ${n} redeployed on worker ${self} at ${cycle.commit.slice(0, 7)}`;
  ctx.log.warn({ loopId: loop.id, cycle: n, lost, worker: self }, 'worker lost; cycle redeployed here');
  await ctx.store.emit({ type: 'notice', loopId: loop.id, cycle: n, message, data: { lostWorker: lost, worker: self, commit: cycle.commit } });
  await ctx.store.addNotice(loop.id, message);
  if (left.length) {
    const services = left.map((s) => `${s.service} (pid ${s.pid})`).join(', ');
    await ctx.store.addNotice(
      loop.id,
      `services worker ${lost} started on its machine could not be stopped from worker ${self}: ${services}; they end with that machine`,
    );
  }
  return repinned;
}
