import { join } from 'node:path';
import { describeError, type FixResult, FixResultSchema, GreenloopError, type IntegrateResult, recordFixOutcome } from '@greenloop/core';
import { DelayedError, type Job } from 'bullmq';
import { loadEnvironment, type WorkerContext } from '../context.ts';
import { budgetRefusal, fixAllowance, recordSpendMetric, spendLedger } from '../fix/budget.ts';
import { loopSecretNames } from '../fix/fixer-env.ts';
import { firstWait, fixersRunning, releaseFixerSlot, takeFixerSlot } from '../fix/fixer-slots.ts';
import { integrateFixes } from '../fix/integrate.ts';
import { appendFixSection } from '../fix/outcomes-report.ts';
import { proveFix } from '../fix/prove-on-deploy.ts';
import { redoConflictingFix } from '../fix/redo.ts';
import { runFix } from '../fix/run-fix.ts';
import type { PushTarget } from '../git/push.ts';
import { loopPaths } from '../paths.ts';
import { sandboxSettings } from '../process/sandbox.ts';
import { publishArtifacts } from '../publish/artifacts.ts';
import { pushTargetOf } from '../publish/loop-push.ts';
import { requireLoop } from './deploy.ts';
import { runOwnedAttempt } from './owned-attempt.ts';
import type { StageOutput, StageRun } from './run-stage.ts';

/**
 * One fixer for one failure cluster (a child job of the controller; several run in parallel). Its
 * outcome is stored under loop + cycle + cluster, so a replayed job returns the recorded outcome.
 */
export async function fixClusterJob(
  ctx: WorkerContext,
  payload: { loopId: string; cycle: number; fingerprint: string },
  job: Job,
  token: string,
): Promise<FixResult> {
  const { loopId, cycle: n, fingerprint } = payload;
  const recorded = await ctx.store.getFixOutcome(loopId, n, fingerprint);
  if (recorded) return recorded;
  const save = async (r: FixResult) => {
    // Separate disks: the controller that gathers the fixes runs elsewhere and cannot publish this worker's files.
    if (ctx.affinity) await publishArtifacts(ctx, loopId, n, `the fix for ${fingerprint}`);
    await ctx.store.putFixOutcome(loopId, n, r);
    await recordFixOutcome(ctx.store.redis, ctx.store.prefix, r.outcome).catch(() => undefined);
    if (r.spend) await recordSpendMetric(ctx, loopId, r);
    await ctx.store.emit({
      type: 'stage.progress',
      loopId,
      cycle: n,
      stage: 'fix',
      message: `fix for ${fingerprint}: ${r.outcome}${r.reason ? ` (${r.reason})` : ''}`,
      data: { fingerprint, outcome: r.outcome, ...(r.spend ? { spend: r.spend } : {}) },
    });
    return r;
  };
  if (await ctx.store.isCancelRequested(loopId)) return await save({ fingerprint, outcome: 'cancelled', attempts: 0 });

  const loop = await requireLoop(ctx, loopId);
  const { config, environment } = await loadEnvironment(ctx, loop);
  const fixer = environment.fixer;
  if (!fixer) return await save({ fingerprint, outcome: 'skipped', reason: 'no fixer configured', attempts: 0 });
  const cycle = await ctx.store.getCycle(loopId, n);
  const analysis = cycle?.stages.analyze?.result;
  const cluster = analysis?.clusters.find((c) => c.fingerprint === fingerprint);
  const files = analysis?.clusterFiles[fingerprint];
  if (!cycle || !cluster || !files) throw new GreenloopError('CLUSTER_NOT_FOUND', `cluster ${fingerprint} is not in cycle ${n}'s analysis`);
  const paths = loopPaths(ctx.env.home, loopId);
  const repo = await ctx.repos.repoFor(loop, cycle.commit);
  // A retry waits for a fixer a live worker still runs, and ends one a dead worker left (by record).
  const owned = { redis: ctx.store.redis, prefix: ctx.store.prefix, loopId, cycle: n, stage: `fix:${fingerprint}`, log: ctx.log };
  const proveMs = fixer.proveOnDeploy ? environment.tests.timeout + PROVE_DEPLOY_MS : 0;
  const maxWaitMs = (fixer.timeout + fixer.verifyTimeout + proveMs) * fixer.attemptsPerCycle + 60_000;
  const sandbox = sandboxSettings(environment.sandbox, { home: ctx.env.home, repo: ctx.env.repo, userHome: ctx.processEnv.HOME });
  const cycleServices = fixer.proveOnDeploy ? ((await ctx.store.getStage(loopId, n, 'deploy'))?.result?.services ?? []) : [];
  // fixer.concurrency holds per loop, whatever the worker's fix queue allows (other environments' settings).
  // Without a free slot the job goes back to wait as a delayed job, freeing this worker for others.
  const slot = { redis: ctx.store.redis, prefix: ctx.store.prefix, loopId, holder: `${n}:${fingerprint}`, limit: fixer.concurrency, leaseMs: maxWaitMs };
  if (!(await takeFixerSlot(slot))) {
    if (await firstWait(slot)) {
      const running = await fixersRunning(slot);
      await ctx.store.emit({
        type: 'stage.progress',
        loopId,
        cycle: n,
        stage: 'fix',
        message: `fix for "${cluster.title}" waits: ${running} of fixer.concurrency ${fixer.concurrency} running`,
        data: { fingerprint },
      });
    }
    await job.moveToDelayed(Date.now() + SLOT_RETRY_MS, token);
    throw new DelayedError();
  }
  const result = await ctx.cancels
    .run(loopId, (signal) =>
      runOwnedAttempt({ ...owned, maxWaitMs, signal, output: FixResultSchema }, async (processes): Promise<FixResult> => {
        // The budget is checked again right before this worker starts the fixer (fixers of this cycle that ran
        // first have reported since the plan); a fixer another worker still runs is waited for, never refused.
        const ledger = fixer.budget ? await spendLedger(ctx.store, loopId, n) : undefined;
        const overBudget = ledger && budgetRefusal(ledger, fixer.budget, fingerprint);
        if (overBudget) return { fingerprint, outcome: 'skipped', reason: `not started: ${overBudget}`, attempts: 0 };
        const budget = ledger && fixAllowance(ledger, fixer.budget, fingerprint);
        await ctx.store.emit({
          type: 'stage.progress',
          loopId,
          cycle: n,
          stage: 'fix',
          message: `fixer started for "${cluster.title}"`,
          data: { fingerprint },
        });
        return await runFix({
          repo,
          baseCommit: cycle.commit,
          loopId,
          cycle: n,
          cluster,
          promptFile: files.markdown,
          clusterFile: files.json,
          fixer,
          worktreeRoot: paths.fixWorktrees,
          artifactDir: join(paths.cycleDir(n), 'fix', fingerprint),
          processEnv: ctx.processEnv,
          // Every *Env greenloop.yaml names, in any environment, and the project's credentials variable are greenloop's secrets, whatever passEnv says.
          secretEnv: loopSecretNames(config, loop),
          sandbox,
          processes,
          ...(budget ? { budget } : {}),
          ...(fixer.proveOnDeploy
            ? {
                prove: (fix: FixResult, attempt: number, dir: string) =>
                  proveFix({
                    repo,
                    loopId,
                    cycle: n,
                    fingerprint,
                    attempt,
                    commit: fix.commit as string,
                    environment,
                    environmentName: loop.environment,
                    clusterFile: files.json,
                    cycleServices,
                    dir,
                    worktree: join(paths.fixWorktrees, `prove-${loopId}-${n}-${fingerprint}-${attempt}`),
                    provider: (s) => ctx.deployProvider(s),
                    stop: (d) => ctx.stopDeployed(d),
                    processEnv: ctx.processEnv,
                    sandbox,
                    processes,
                    signal,
                    log: ctx.log.child({ loopId, cycle: n, fingerprint, attempt }),
                    progress: (message) =>
                      void ctx.store.emit({ type: 'stage.progress', loopId, cycle: n, stage: 'fix', message, data: { fingerprint } }).catch(() => undefined),
                  }),
              }
            : {}),
          signal,
          log: ctx.log.child({ loopId, cycle: n, fingerprint }),
        });
      }),
    )
    .finally(() => releaseFixerSlot(slot).catch(() => undefined));
  return await save(result);
}

/** How soon a fix job that found no free fixer slot of its loop looks again. */
const SLOT_RETRY_MS = 500;

/** What deploying a fix's candidate may take besides its test run (builds and rollouts included). */
const PROVE_DEPLOY_MS = 15 * 60_000;

/** Integrate: accepted fixes cherry-picked onto the loop branch; the next cycle deploys the result. */
export async function integrateStage(ctx: WorkerContext, run: StageRun): Promise<StageOutput<IntegrateResult>> {
  const loop = await requireLoop(ctx, run.loopId);
  const { config, environment } = await loadEnvironment(ctx, loop);
  const cycle = await ctx.store.getCycle(loop.id, run.cycle);
  const fix = cycle?.stages.fix?.result;
  if (!cycle || !fix || !loop.branch) throw new GreenloopError('FIX_MISSING', `cycle ${run.cycle} has no fix stage to integrate`);
  const accepted = fix.results.filter((r) => r.outcome === 'accepted');
  // Each cycle's commit is pushed when greenloop.yaml asks (`loop.push`); a project loop's goes to its remote.
  // A push that cannot happen (the project's credentials variable unset) is said, never a failed cycle.
  let push: PushTarget | undefined;
  try {
    // Separate disks: a project loop's branch always goes to its remote, so a worker that adopts the
    // loop when this one is lost can fetch the commit the next cycle deploys.
    push = environment.loop.push || (ctx.affinity && loop.source) ? pushTargetOf(ctx, loop, environment) : undefined;
  } catch (err) {
    run.progress(`not pushing ${loop.branch}: ${describeError(err)}`);
  }
  run.progress(`integrating ${accepted.length} accepted fix(es) onto ${loop.branch}`);
  const result = await integrateFixes({
    repo: await ctx.repos.repoFor(loop),
    branch: loop.branch,
    worktree: loopPaths(ctx.env.home, loop.id).integrateWorktree,
    loopId: loop.id,
    cycle: run.cycle,
    fixes: accepted,
    ...(push ? { push } : {}),
    // A fix that conflicts is re-done on top of the fixes integrated before it, in this cycle.
    redo: (f, base, conflict) =>
      redoConflictingFix(ctx, { loop, environment, secretEnv: loopSecretNames(config, loop), cycle, fix: f, base, conflict, signal: run.signal }),
    log: ctx.log.child({ loopId: loop.id, cycle: run.cycle }),
  });
  const analysis = cycle.stages.analyze?.result;
  if (analysis) {
    const titles = Object.fromEntries(analysis.clusters.map((c) => [c.fingerprint, c.title]));
    const spent = (await spendLedger(ctx.store, loop.id, run.cycle)).loop;
    await appendFixSection(analysis.report, run.cycle, fix, result, titles, spent);
  }
  return {
    result,
    summary: `${result.applied.length} applied${result.redone?.length ? ` (${result.redone.length} re-done after a conflict)` : ''}, ${result.dropped.length} dropped; ${loop.branch} at ${result.commit.slice(0, 7)}`,
  };
}
