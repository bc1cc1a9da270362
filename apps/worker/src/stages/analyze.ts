import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AnalyzeStageResult } from '@greenloop/core';
import { GreenloopError } from '@greenloop/core';
import { analyzeCycle, type PreviousCycle, toPreviousCycle } from '../analysis/analyze-cycle.ts';
import { RedisFlakeHistory } from '../analysis/redis-flake-history.ts';
import { loadEnvironment, type WorkerContext } from '../context.ts';
import { spendLedger } from '../fix/budget.ts';
import { appendFixSection } from '../fix/outcomes-report.ts';
import { loopPaths } from '../paths.ts';
import { requireLoop } from './deploy.ts';
import type { StageOutput, StageRun } from './run-stage.ts';
import { readPublishedTestStatuses, readTestStatuses, writeTestStatuses } from './test-statuses.ts';

/** What the analyze stage stores (defined in core's stage table; re-exported for tests). */
export type { AnalyzeStageResult };

/**
 * Analyze: parse the JUnit evidence, pull the services' logs for the test window, cluster the failures
 * against earlier cycles and write the cycle report (markdown + JSON) and one dossier per cluster.
 */
export async function analyzeStage(ctx: WorkerContext, run: StageRun): Promise<StageOutput<AnalyzeStageResult>> {
  const loop = await requireLoop(ctx, run.loopId);
  const { environment } = await loadEnvironment(ctx, loop);
  const [cycle, deploy, test] = await Promise.all([
    ctx.store.getCycle(loop.id, run.cycle),
    ctx.store.getStage(loop.id, run.cycle, 'deploy'),
    ctx.store.getStage(loop.id, run.cycle, 'test'),
  ]);
  if (!cycle || !deploy?.result || !test?.result) throw new GreenloopError('EVIDENCE_MISSING', `cycle ${run.cycle} has no deploy or test result to analyze`);
  const services = deploy.result.services;
  const runResult = test.result;

  run.progress(`pulling ${environment.logs.provider} logs for ${services.length} service(s)`);
  const logs = await ctx
    .logSource(environment)
    .pull({ services, from: runResult.startedAt, to: runResult.finishedAt, runId: runResult.runId, signal: run.signal });

  // Earlier cycles, with the fix commits integrated after each, so "fixed" names the commit that fixed it.
  const previous: PreviousCycle[] = [];
  for (let n = 1; n < run.cycle; n++) {
    const c = await ctx.store.getCycle(loop.id, n);
    const a = c?.stages.analyze?.result;
    if (!c || !a) continue;
    const applied = c.stages.integrate?.result?.applied ?? [];
    const fixedBy = Object.fromEntries(applied.map((x) => [x.fingerprint, x.commit]));
    // Separate disks: an earlier cycle that ran on a worker lost since left its file in the artifact store only.
    const testStatuses =
      (await readTestStatuses(a.testStatusesFile)) ??
      (ctx.affinity ? await readPublishedTestStatuses(ctx.artifacts, loop.id, a.testStatusesFile) : undefined) ??
      {};
    previous.push(toPreviousCycle(n, c.commit, { totals: a.totals, clusters: a.clusters, testStatuses }, applied.length ? fixedBy : undefined));
  }
  const paths = loopPaths(ctx.env.home, loop.id);
  const cycleDir = join(paths.cycleDir(run.cycle), 'analyze');
  await mkdir(cycleDir, { recursive: true });
  run.progress(`analyzing ${runResult.junitFiles.length} JUnit file(s) and ${logs.entries.length} log entries`);
  const result = await analyzeCycle({
    loopId: loop.id,
    cycle: run.cycle,
    commit: cycle.commit,
    environment: loop.environment,
    junitFiles: runResult.junitFiles,
    ...(runResult.rerunJunitFiles?.length ? { rerunJunitFiles: runResult.rerunJunitFiles } : {}),
    run: runResult,
    services,
    logs,
    previous,
    config: { tests: environment.tests, categories: environment.categories, ...(environment.fixer ? { fixer: environment.fixer } : {}) },
    cycleDir,
    repoDir: paths.deployWorktree(run.cycle),
    // Across loops and workers: "flaked in N loops" is what tells a flaky test from a broken one.
    history: new RedisFlakeHistory(ctx.store.redis, ctx.store.prefix),
  });
  const { testStatuses, ...rest } = result;
  const testStatusesFile = join(cycleDir, 'test-statuses.json');
  await writeTestStatuses(testStatusesFile, testStatuses);
  // The previous cycle's fixes (landed, re-done, dropped, rejected), with their reasons, in this report too.
  const prev = run.cycle > 1 ? await ctx.store.getCycle(loop.id, run.cycle - 1) : undefined;
  if (prev) {
    const titles = Object.fromEntries((prev.stages.analyze?.result?.clusters ?? []).map((c) => [c.fingerprint, c.title]));
    const spent = (await spendLedger(ctx.store, loop.id, prev.n)).loop;
    await appendFixSection(result.report, prev.n, prev.stages.fix?.result, prev.stages.integrate?.result, titles, spent);
  }
  const t = result.totals;
  return {
    result: { ...rest, testStatusesFile },
    // "NOT REAL" is what `greenloop status` reads to call the cycle untrusted (apps/cli/src/render.ts).
    summary: `${t.passed}/${t.total} passed, ${t.failed} failed, ${t.skipped} skipped; ${result.clusters.length} cluster(s)${result.realness.real ? '' : `; NOT REAL: ${result.realness.reasons.join('; ')}`}`,
  };
}
