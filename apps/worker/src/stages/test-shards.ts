import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatDuration, GreenloopError, type ShardSummary, stageJobId, type TestsConfig } from '@greenloop/core';
import { addLoopJob } from '../affinity/pinning.ts';
import { RedisDurationHistory } from '../analysis/redis-duration-history.ts';
import type { WorkerContext } from '../context.ts';
import { balanceFiles, failingFirst, type ShardPlan } from '../shards/shard-plan.ts';
import { ShardRecords } from '../shards/shard-records.ts';
import type { StageRun } from './run-stage.ts';
import type { SuiteRun } from './suite-run.ts';

/** The suite's run as the test stage reports it: one run, or the shards' runs merged. */
export interface MergedRun extends Omit<SuiteRun, 'filesNotStarted'> {
  shards?: ShardSummary[];
  /** Files handed to a run that timed out or crashed (those with no reported test are "not run"). */
  notRunFiles: string[];
}

/**
 * How many shards: `tests.shards`, or for "auto" the shard slots of the workers listening on the shards
 * queue (`slots`); never more than 64, nor than there are files to split.
 */
export async function shardCount(tests: Pick<TestsConfig, 'shards'>, files: readonly string[] | undefined, slots: () => Promise<number>): Promise<number> {
  const wanted = tests.shards === 'auto' ? Math.max(1, await slots()) : tests.shards;
  return Math.max(1, Math.min(wanted, 64, files?.length ?? wanted));
}

/** The shard slots listening: workers on the shards queue × the shards each takes (GREENLOOP_CONCURRENCY). */
export async function shardSlots(ctx: WorkerContext): Promise<number> {
  // Separate disks: the shards of a loop run on its worker alone.
  if (ctx.affinity) return ctx.env.GREENLOOP_CONCURRENCY;
  return (await ctx.queues.shards.getWorkersCount()) * ctx.env.GREENLOOP_CONCURRENCY;
}

interface ShardsSpec {
  loopId: string;
  environment: string;
  tests: TestsConfig;
  files: readonly string[] | undefined;
  failing: ReadonlySet<string>;
  count: number;
  runId: string;
  /** The test stage's evidence directory; shard i writes to `<dir>/shard-<i>`. */
  dir: string;
  worktree: string;
}

/**
 * A sharded suite: the plan (made once per cycle), one `stage.test-shard` job per shard in the shards
 * queue (any worker, any machine), then their outcomes merged into one run: JUnit files, stdout/stderr
 * and recorded requests. A shard that crashed or timed out is reported as such; the others' results stand.
 */
export async function runShards(ctx: WorkerContext, run: StageRun, spec: ShardsSpec): Promise<MergedRun> {
  const records = new ShardRecords(ctx.store.redis, ctx.store.prefix, spec.loopId, run.cycle);
  const plan = await records.keepPlan(await makePlan(ctx, spec));
  run.progress(
    `suite split into ${plan.count} shards (${plan.balancedBy === 'native' ? "the runner's own sharding" : `files balanced by ${plan.balancedBy === 'duration-history' ? 'their duration history' : 'count (no history yet)'}`})`,
    { shards: plan.count, balancedBy: plan.balancedBy, ...(plan.expectedMs ? { expectedMs: plan.expectedMs } : {}) },
  );
  for (let shard = 1; shard <= plan.count; shard++) {
    // Separate disks: shards run in this worker's deploy worktree, so they stay on this worker.
    await addLoopJob(
      ctx,
      ctx.affinity?.self,
      'stage.test-shard',
      { loopId: spec.loopId, cycle: run.cycle, shard, count: plan.count },
      { jobId: stageJobId(spec.loopId, run.cycle, 'test', `shard${shard}`) },
    );
  }
  const outcomes = await awaitOutcomes(run, records, plan, spec.tests.timeout);
  return await merge(spec.dir, outcomes, plan);
}

async function makePlan(ctx: WorkerContext, spec: ShardsSpec): Promise<ShardPlan> {
  if (!spec.files) return { runId: spec.runId, count: spec.count, balancedBy: 'native' };
  const durations = await new RedisDurationHistory(ctx.store.redis, ctx.store.prefix, spec.environment).get(spec.files);
  const { shards, expectedMs } = balanceFiles(spec.files, durations, spec.count);
  const ordered = shards.map((files) => failingFirst(files, spec.failing));
  return {
    runId: spec.runId,
    count: spec.count,
    files: ordered.map((o) => [...o.first, ...o.rest]),
    first: ordered.map((o) => o.first),
    balancedBy: durations.size ? 'duration-history' : 'file-count',
    ...(durations.size ? { expectedMs } : {}),
  };
}

/**
 * Waits for every shard's outcome. A shard still missing well past its timeout (its job lost, every
 * worker gone) is reported as crashed rather than waited for forever.
 */
async function awaitOutcomes(run: StageRun, records: ShardRecords, plan: ShardPlan, timeoutMs: number): Promise<ShardSummary[]> {
  const giveUpAt = Date.now() + 3 * timeoutMs + 60_000;
  let reported = 0;
  for (;;) {
    if (run.signal.aborted) throw new GreenloopError('CANCELLED', 'test run cancelled', { retryable: true });
    const got = await records.outcomes(plan.count);
    if (got.size > reported) {
      reported = got.size;
      run.progress(`${got.size}/${plan.count} shards done`, { shardsDone: got.size, shards: plan.count });
    }
    if (got.size === plan.count || Date.now() > giveUpAt) {
      return Array.from({ length: plan.count }, (_, i) => {
        const shard = i + 1;
        return (
          got.get(shard) ?? {
            shard,
            status: 'crashed' as const,
            dir: '',
            junitFiles: [],
            reason: `no outcome within ${formatDuration(3 * timeoutMs + 60_000)}: the shard job was lost`,
          }
        );
      });
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function merge(dir: string, outcomes: readonly ShardSummary[], plan: ShardPlan): Promise<MergedRun> {
  const started = outcomes.map((o) => o.startedAt).filter((t): t is string => !!t);
  const finished = outcomes.map((o) => o.finishedAt).filter((t): t is string => !!t);
  const now = new Date().toISOString();
  const startedAt = started.sort()[0] ?? now;
  const finishedAt = finished.sort().at(-1) ?? now;
  const out: MergedRun = {
    startedAt,
    finishedAt,
    durationMs: Date.parse(finishedAt) - Date.parse(startedAt),
    exitCode: outcomes.find((o) => o.exitCode !== 0)?.exitCode ?? 0,
    signal: null,
    timedOut: outcomes.some((o) => o.status === 'timed-out'),
    junitFiles: outcomes.flatMap((o) => o.junitFiles),
    stdoutFile: join(dir, 'stdout.txt'),
    stderrFile: join(dir, 'stderr.txt'),
    truncatedBytes: outcomes.reduce((n, o) => n + (o.truncatedBytes ?? 0), 0),
    sandboxed: outcomes.every((o) => o.sandboxed !== false),
    shards: [...outcomes],
    notRunFiles: outcomes.filter((o) => o.status !== 'finished').flatMap((o) => plan.files?.[o.shard - 1] ?? []),
  };
  if (outcomes.some((o) => o.status === 'crashed')) out.exitCode = out.exitCode === 0 ? null : out.exitCode;
  // One stdout/stderr and one requests.jsonl for the analysis and the report, each shard under a header.
  for (const [name, file] of [
    ['stdout.txt', out.stdoutFile],
    ['stderr.txt', out.stderrFile],
  ] as const) {
    await writeFile(file, '');
    for (const o of outcomes) {
      const text = o.dir ? await readFile(join(o.dir, name), 'utf8').catch(() => '') : '';
      const how = o.status === 'finished' ? `exit ${o.exitCode ?? '?'}` : `${o.status}${o.reason ? `: ${o.reason}` : ''}`;
      await appendFile(file, `=== greenloop: shard ${o.shard}/${outcomes.length} (${how}) ===\n${text}\n`);
    }
  }
  const requests = join(dir, 'requests.jsonl');
  await writeFile(requests, '');
  for (const o of outcomes) if (o.dir) await appendFile(requests, await readFile(join(o.dir, 'requests.jsonl'), 'utf8').catch(() => ''));
  return out;
}
