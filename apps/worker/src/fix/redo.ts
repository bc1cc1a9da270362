import { join } from 'node:path';
import { type CycleRecord, type EnvironmentConfig, type FixResult, FixResultSchema, type LoopRecord } from '@greenloop/core';
import type { WorkerContext } from '../context.ts';
import { loopPaths } from '../paths.ts';
import { sandboxSettings } from '../process/sandbox.ts';
import { runOwnedAttempt } from '../stages/owned-attempt.ts';
import { budgetRefusal, recordSpendMetric, spendLedger } from './budget.ts';
import { runFix } from './run-fix.ts';

/** What re-doing one conflicting fix needs from the integrate stage. */
export interface RedoRequest {
  loop: LoopRecord;
  environment: EnvironmentConfig;
  /** What the fixer's passEnv may not name: `loopSecretNames` (every *Env of greenloop.yaml, the project's credentials variable). */
  secretEnv: readonly string[];
  cycle: CycleRecord;
  /** The accepted fix whose pick conflicted. */
  fix: FixResult;
  /** The loop branch with the fixes integrated before it: the new fixer starts here. */
  base: string;
  /** Why the pick failed (conflicting files and the fix it conflicts with), given to the fixer. */
  conflict: string;
  signal: AbortSignal;
}

/**
 * Runs a conflicting fix's fixer again, from the integrated commit, with the conflict in its prompt; its
 * attempts count toward the cluster's budget (the integrate record keeps them). The outcome is recorded
 * per cycle and cluster, so a retried integrate step picks the same commit instead of running it again.
 */
export async function redoConflictingFix(ctx: WorkerContext, req: RedoRequest): Promise<FixResult> {
  const { loop, environment, cycle, fix } = req;
  const recorded = await ctx.store.getRedoOutcome(loop.id, cycle.n, fix.fingerprint);
  if (recorded) return recorded;
  const fixer = environment.fixer;
  const analysis = cycle.stages.analyze?.result;
  const cluster = analysis?.clusters.find((c) => c.fingerprint === fix.fingerprint);
  const files = analysis?.clusterFiles[fix.fingerprint];
  if (!fixer || !cluster || !files)
    return { fingerprint: fix.fingerprint, outcome: 'skipped', reason: 'no fixer or cluster evidence to re-do it with', attempts: 0 };
  // A re-done fix is another fixer run: the budget is checked before it starts, like any other.
  const ledger = fixer.budget ? await spendLedger(ctx.store, loop.id, cycle.n) : undefined;
  const overBudget = ledger && budgetRefusal(ledger, fixer.budget, fix.fingerprint);
  if (overBudget) {
    const refused: FixResult = { fingerprint: fix.fingerprint, outcome: 'skipped', reason: `not re-done: ${overBudget}`, attempts: 0 };
    await ctx.store.putRedoOutcome(loop.id, cycle.n, refused);
    return refused;
  }
  const paths = loopPaths(ctx.env.home, loop.id);
  const repo = await ctx.repos.repoFor(loop, req.base);
  await ctx.store.emit({
    type: 'stage.progress',
    loopId: loop.id,
    cycle: cycle.n,
    stage: 'integrate',
    message: `fix for "${cluster.title}" conflicts (${req.conflict}); its fixer runs again on top of the integrated fixes`,
    data: { fingerprint: fix.fingerprint },
  });
  const owned = { redis: ctx.store.redis, prefix: ctx.store.prefix, loopId: loop.id, cycle: cycle.n, stage: `redo:${fix.fingerprint}`, log: ctx.log };
  const maxWaitMs = fixer.timeout + fixer.verifyTimeout + 60_000;
  const result = await runOwnedAttempt({ ...owned, maxWaitMs, signal: req.signal, output: FixResultSchema }, (processes) =>
    runFix({
      repo,
      baseCommit: req.base,
      loopId: loop.id,
      cycle: cycle.n,
      cluster,
      promptFile: files.markdown,
      clusterFile: files.json,
      fixer,
      worktreeRoot: paths.fixWorktrees,
      artifactDir: join(paths.cycleDir(cycle.n), 'fix', fix.fingerprint, 'redo'),
      processEnv: ctx.processEnv,
      secretEnv: req.secretEnv,
      sandbox: sandboxSettings(environment.sandbox, { home: ctx.env.home, repo: ctx.env.repo, userHome: ctx.processEnv.HOME }),
      processes,
      // One attempt: the first fix was accepted; only its placement changed.
      maxAttempts: 1,
      previousAttempts: [
        {
          reason: `your earlier fix for this cluster was accepted but conflicts with fixes integrated before it: ${req.conflict}. The checkout now contains those fixes; make your change on top of them`,
        },
      ],
      signal: req.signal,
      log: ctx.log.child({ loopId: loop.id, cycle: cycle.n, fingerprint: fix.fingerprint, redo: true }),
    }),
  );
  await ctx.store.putRedoOutcome(loop.id, cycle.n, result);
  if (result.spend) await recordSpendMetric(ctx, loop.id, result);
  return result;
}
