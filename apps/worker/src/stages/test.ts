import { glob, mkdir, rm } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import {
  formatDuration,
  GreenloopError,
  type ProcessRecorder,
  placeholderNames,
  renderString,
  stageOutputSchema,
  type TestRunResult,
  type TestsConfig,
} from '@greenloop/core';
import { loadEnvironment, type WorkerContext } from '../context.ts';
import { loopPaths } from '../paths.ts';
import { runCommand } from '../process/run-command.ts';
import { type SandboxSettings, sandboxSettings } from '../process/sandbox.ts';
import { startServiceProxies } from '../proxy/service-proxies.ts';
import { failingFirst } from '../shards/shard-plan.ts';
import { ShardRecords } from '../shards/shard-records.ts';
import { listSuiteFiles, notRunTests, previouslyFailingFiles } from '../shards/suite-files.ts';
import { requireLoop } from './deploy.ts';
import { runOwnedAttempt } from './owned-attempt.ts';
import { type RerunPlan, rerunFailedTests, rerunPlan } from './rerun.ts';
import type { StageOutput, StageRun } from './run-stage.ts';
import { runSuite, suiteEnvironment } from './suite-run.ts';
import { type MergedRun, runShards, shardCount, shardSlots } from './test-shards.ts';

/** Absolute, de-duplicated files matching the JUnit globs (relative globs are relative to `cwd`). */
export async function findJunitFiles(globs: readonly string[], cwd: string): Promise<string[]> {
  const found = new Set<string>();
  for (const pattern of globs) {
    for await (const f of glob(pattern, { cwd })) found.add(isAbsolute(f) ? f : join(cwd, f));
  }
  return [...found].sort();
}

/**
 * Flake check: the failed tests rerun at the same revision, up to `tests.rerun` times (stages/rerun.ts builds
 * each runner's filter and decides what to rerun); here, how one rerun process runs. Returns every rerun's
 * JUnit files for the analysis, which judges flaky vs broken with the shared flake history.
 */
async function rerunFailed(
  ctx: WorkerContext,
  run: StageRun,
  plan: RerunPlan,
  junitFiles: string[],
  values: Record<string, string>,
  env: Record<string, string>,
  cwd: string,
  tests: TestsConfig,
  procs: ProcessRecorder,
  sandbox: SandboxSettings,
): Promise<string[]> {
  return await rerunFailedTests(plan, junitFiles, values, values.artifacts as string, cwd, {
    progress: (m) => run.progress(m),
    warn: (m) => ctx.log.warn({ loopId: run.loopId, cycle: run.cycle }, m),
    junitFiles: (d) =>
      findJunitFiles(
        tests.junit.map((g) => renderString(g, { ...values, artifacts: d })),
        cwd,
      ),
    exec: async (argv, dir, attempt) => {
      await mkdir(dir, { recursive: true });
      const tracked = procs.track('rerun');
      const res = await runCommand({
        argv,
        cwd,
        env: { ...env, GREENLOOP_ARTIFACTS: dir, GREENLOOP_RUN_ID: `${env.GREENLOOP_RUN_ID}-rerun${attempt > 1 ? attempt : ''}` },
        timeoutMs: tests.timeout,
        stdoutFile: join(dir, 'stdout.txt'),
        stderrFile: join(dir, 'stderr.txt'),
        outputLimit: tests.outputLimit,
        signal: run.signal,
        onSpawn: tracked.onSpawn,
        sandbox: { settings: sandbox, kind: 'test', network: 'host', writable: [cwd, dir] },
      });
      await tracked.release();
      if (res.cancelled) throw new GreenloopError('CANCELLED', 'test rerun cancelled', { retryable: true });
    },
  });
}

/**
 * Test: the suite's argv against the deployed URLs (GREENLOOP_URL_<SERVICE>), with a run id the suite
 * forwards to the services for log correlation. The whole process group dies at the timeout. Raw
 * stdout/stderr and the JUnit XML stay in the cycle's artifacts as evidence.
 */
export async function testStage(ctx: WorkerContext, run: StageRun): Promise<StageOutput<TestRunResult>> {
  const loop = await requireLoop(ctx, run.loopId);
  const { environment } = await loadEnvironment(ctx, loop);
  // A retry (lost lock, crashed worker) adopts a run that is still owned or finished; ends one that is not.
  return await runOwnedAttempt(
    { ...ownedAttemptBase(ctx, run), stage: 'test', maxWaitMs: 2 * environment.tests.timeout + 60_000, output: stageOutputSchema('test') },
    (procs) => runTests(ctx, run, procs),
  );
}

/** Where a stage's attempts are recorded, for `runOwnedAttempt`. */
export function ownedAttemptBase(ctx: WorkerContext, run: StageRun) {
  return { redis: ctx.store.redis, prefix: ctx.store.prefix, loopId: run.loopId, cycle: run.cycle, signal: run.signal, log: ctx.log };
}

async function runTests(ctx: WorkerContext, run: StageRun, procs: ProcessRecorder): Promise<StageOutput<TestRunResult>> {
  const loop = await requireLoop(ctx, run.loopId);
  const { environment } = await loadEnvironment(ctx, loop);
  const tests = environment.tests;
  const deploy = await ctx.store.getStage(loop.id, run.cycle, 'deploy');
  const services = deploy?.result?.services;
  if (!services) throw new GreenloopError('DEPLOY_MISSING', `cycle ${run.cycle} has no successful deploy to test`);
  const cycle = await ctx.store.getCycle(loop.id, run.cycle);
  const paths = loopPaths(ctx.env.home, loop.id);
  const dir = join(paths.cycleDir(run.cycle), 'test');
  const worktree = paths.deployWorktree(run.cycle);

  // A retried sharded stage keeps its plan and the shards that finished (their evidence is in dir).
  if (!(await new ShardRecords(ctx.store.redis, ctx.store.prefix, loop.id, run.cycle).plan())) await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'junit'), { recursive: true });

  const attempt = ((await ctx.store.getStage(loop.id, run.cycle, 'test'))?.attempts ?? 1).toString();
  const runId = `${loop.id}-c${run.cycle}-a${attempt}`;
  const values = {
    commit: cycle?.commit ?? '',
    shortCommit: (cycle?.commit ?? '').slice(0, 7),
    cycle: String(run.cycle),
    loop: loop.id,
  };
  // Sandboxed: writable only the cycle's checkout and this test directory; network host (the services).
  const sandbox = sandboxSettings(environment.sandbox, { home: ctx.env.home, repo: ctx.env.repo, userHome: ctx.processEnv.HOME });
  // The files matter only to a command that takes them: otherwise every part would run the whole suite.
  const takesFiles = tests.command.some((a) => placeholderNames(a).includes('shardFiles'));
  const files = tests.files && takesFiles ? await listSuiteFiles(tests.files, worktree, loop.environment) : undefined;
  const failing = files && tests.failedFirst ? await previouslyFailingFiles(ctx, loop.id, run.cycle, files, worktree) : new Set<string>();
  const count = await shardCount(tests, files, () => shardSlots(ctx));
  const plan = rerunPlan(tests);
  if (plan && files) plan.suiteFiles = files;
  const rerun = (junitFiles: string[], suite: { env: Record<string, string>; values: Record<string, string> }) =>
    rerunFailed(ctx, run, plan as RerunPlan, junitFiles, { ...suite.values, artifacts: join(dir, 'rerun') }, suite.env, worktree, tests, procs, sandbox);

  let merged: MergedRun;
  let rerunJunitFiles: string[] | undefined;
  if (count === 1) {
    const order = files ? failingFirst(files, failing) : undefined;
    const suite = await runSuite({
      ctx,
      run,
      procs,
      environment: loop.environment,
      tests,
      sandbox,
      services,
      worktree,
      dir,
      runId,
      values,
      shard: { index: 1, count: 1 },
      ...(order ? { files: [...order.first, ...order.rest], first: order.first } : {}),
      whileProxied: async (s) => {
        if (plan && s.junitFiles.length && !s.timedOut) rerunJunitFiles = await rerun(s.junitFiles, s);
      },
    });
    merged = { ...suite, notRunFiles: suite.timedOut ? [...(files ?? [])] : [] };
  } else {
    merged = await runShards(ctx, run, { loopId: loop.id, environment: loop.environment, tests, files, failing, count, runId, dir, worktree });
    if (plan && merged.junitFiles.length) {
      // One rerun of every shard's failures, behind proxies of its own (appending to the merged requests.jsonl).
      await using proxies = tests.proxy ? await startServiceProxies(services, join(dir, 'requests.jsonl'), `${runId}-rerun`) : undefined;
      const suite = suiteEnvironment({ processEnv: ctx.processEnv, tests, procs, services, dir, runId, values, shard: { index: 1, count: 1 } }, proxies?.urls);
      rerunJunitFiles = await rerun(merged.junitFiles, suite);
    }
  }
  if (merged.sandboxWarning) ctx.log.warn({ loopId: loop.id, cycle: run.cycle }, merged.sandboxWarning);

  const notRun =
    merged.timedOut || merged.shards?.some((s) => s.status !== 'finished') ? await notRunTests(ctx, loop.id, run.cycle, merged, files, worktree) : [];
  const result: TestRunResult = {
    runId,
    startedAt: merged.startedAt,
    finishedAt: merged.finishedAt,
    exitCode: merged.exitCode,
    signal: merged.signal,
    timedOut: merged.timedOut,
    junitFiles: merged.junitFiles,
    stdoutFile: merged.stdoutFile,
    stderrFile: merged.stderrFile,
    truncatedBytes: merged.truncatedBytes,
    sandboxed: merged.sandboxed,
    ...(merged.sandboxed ? {} : { sandboxNote: merged.sandboxWarning ?? 'sandbox: off in greenloop.yaml' }),
    ...(rerunJunitFiles ? { rerunJunitFiles } : {}),
    ...(notRun.length ? { notRun } : {}),
    ...(merged.shards ? { shards: merged.shards } : {}),
  };
  const junitGlobs = tests.junit.map((g) => renderString(g, { ...values, runId, artifacts: dir, shard: '1', shardCount: String(count) }));
  if (merged.junitFiles.length === 0 && merged.timedOut) {
    throw new GreenloopError(
      'TESTS_TIMED_OUT',
      `the test command did not finish within ${formatDuration(tests.timeout)}; its process group was killed before it wrote any test result`,
      {
        hint: `raise environments.${loop.environment}.tests.timeout, split the suite (tests.shards), or find the hanging test in ${result.stdoutFile}; pytest writes what finished when interrupted, node --test does not`,
        details: { ...result },
      },
    );
  }
  if (merged.junitFiles.length === 0) {
    throw new GreenloopError(
      'JUNIT_MISSING',
      `the test command exited with code ${merged.exitCode ?? merged.signal} and wrote no JUnit XML matching ${junitGlobs.join(', ')}`,
      {
        hint: `make the runner write JUnit XML (e.g. node --test --test-reporter=junit --test-reporter-destination={{artifacts}}/junit.xml) and list it in tests.junit; output is in ${result.stdoutFile}`,
        details: { ...result },
      },
    );
  }
  const how = merged.shards ? `${merged.shards.length} shards` : 'suite';
  const partial = merged.timedOut ? `; TIMED OUT after ${formatDuration(tests.timeout)}: partial results, ${notRun.length} test(s)/file(s) not run` : '';
  return {
    result,
    summary: `${how} finished with exit code ${merged.exitCode ?? merged.signal} in ${formatDuration(merged.durationMs)}; ${merged.junitFiles.length} JUnit file(s) to analyze${partial}${merged.sandboxed ? '' : `; UNSANDBOXED: ${result.sandboxNote}`}`,
  };
}
