import {
  type AnalyzeStageResult,
  ConfigError,
  type CycleOutcome,
  type CycleRecord,
  describeError,
  type EnvironmentConfig,
  evaluateStopRules,
  type FixerConfig,
  type FixStageResult,
  GreenloopError,
  type JobStage,
  type LoopRecord,
  type LoopState,
  parsePayload,
  queueOf,
  StageTable,
  type StopReason,
  stageJobId,
  TERMINAL_STATES,
  type TypedStageRecord,
} from '@greenloop/core';
import { Job, UnrecoverableError, WaitingChildrenError } from 'bullmq';
import { keepPinned } from './affinity/lost-worker.ts';
import { pinTarget } from './affinity/pinning.ts';
import { loadEnvironment, type WorkerContext } from './context.ts';
import { stageJobFailure } from './final-failure.ts';
import { clusterBudgetStop, spendLedger } from './fix/budget.ts';
import { planFixes } from './fix/dispatch.ts';
import { ensureBranch } from './git/repo.ts';
import { addStageChild } from './stage-children.ts';
import { collectFixes } from './stage-closing.ts';
import { finish, notify, teardown } from './teardown.ts';

/** Why a project loop cannot begin: its remote could not be fetched, or the project cannot name a mirror. */
const SOURCE_FAILURES = ['SOURCE_FETCH_FAILED', 'PROJECT_INVALID'];

/** Thrown inside the controller to end processing for now: the job waits for its children. */
class Suspend extends Error {}

/**
 * The loop controller: a parent job that advances the loop one step at a time. Every decision is made
 * from persisted records, never from memory, so the job can crash, stall and be replayed anywhere:
 * stage jobs have deterministic ids (re-adding one is a no-op) and a finished stage is never rerun.
 * While a stage runs, this job sits in BullMQ's waiting-children state and holds no worker.
 */
export async function processLoop(ctx: WorkerContext, job: Job, token: string): Promise<LoopState> {
  const { loopId } = parsePayload('loop.run', job.data);
  const { store } = ctx;
  let loop = await store.getLoop(loopId);
  if (!loop) throw new UnrecoverableError(`loop ${loopId} does not exist`);
  // A replay after the verdict: finish the teardown a crash interrupted (idempotent when done).
  if (TERMINAL_STATES.includes(loop.state)) return (await teardown(ctx, loop)).state;
  const log = ctx.log.child({ loopId });

  // The claim is a lease: renewing it here (and from the worker's heartbeat) keeps it; if it lapsed
  // while no worker ran this loop and another loop took the environment, this one must not go on.
  const claim = await store.renewClaim(loop.environment, loopId);
  if (!claim.claimed) {
    return await finish(ctx, loop, 'failed', {
      rule: 'stage-error',
      message: claim.holder
        ? `loop ${claim.holder} took over ${loop.environment} after this loop's claim expired (no worker renewed it for ${Math.round(store.claims.leaseMs / 1000)}s)`
        : `this loop's claim on ${loop.environment} was released; it cannot go on without it`,
    });
  }

  try {
    // Begun first: the loop's configuration is greenloop.yaml at the commit begin() records.
    if (loop.state === 'queued') {
      try {
        loop = await begin(ctx, loop);
      } catch (err) {
        // A project's remote that cannot be fetched ends the loop (and frees its environment) with git's reason, never a retry loop.
        if (!(err instanceof GreenloopError && SOURCE_FAILURES.includes(err.code))) throw err;
        return await finish(ctx, loop, 'failed', { rule: 'source-unavailable', message: `${err.code}: ${describeError(err)}` });
      }
    }
    let environment: EnvironmentConfig;
    try {
      environment = (await loadEnvironment(ctx, loop)).environment;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return await finish(ctx, loop, 'failed', { rule: 'config-invalid', message: `${err.code}: ${describeError(err)}` });
    }

    for (;;) {
      if (await store.isCancelRequested(loopId)) {
        await recordFinishedAnalysis(ctx, loop);
        return await finish(ctx, loop, 'cancelled', { rule: 'cancelled', message: 'cancelled on request' });
      }
      // Separate disks: a loop whose worker is gone has its cycle redeployed here (before any child is added again).
      const pinned = await keepPinned(ctx, loop);
      if (!('id' in pinned)) return await finish(ctx, loop, 'failed', pinned);
      loop = pinned;
      const n: number = loop.cycle;
      const cycle = await store.getCycle(loopId, n);
      if (!cycle) throw new UnrecoverableError(`cycle ${n} of loop ${loopId} is missing`);

      const stageFailure = (rec: { stage: string; error?: { message: string; hint?: string } }, rule: StopReason['rule']): StopReason => ({
        rule,
        message: `cycle ${n} ${rec.stage} failed: ${rec.error?.message ?? 'no reason recorded'}${rec.error?.hint ? ` — ${rec.error.hint}` : ''}`,
      });

      // deploy → test → analyze
      const deploy = await awaitStage(ctx, job, token, loop, cycle, 'deploy');
      if (deploy.status === 'cancelled') continue;
      if (deploy.status !== 'succeeded') return await finish(ctx, loop, 'stopped', stageFailure(deploy, 'deploy-failed'));
      const test = await awaitStage(ctx, job, token, loop, cycle, 'test');
      if (test.status === 'cancelled') continue;
      if (test.status !== 'succeeded') return await finish(ctx, loop, 'stopped', stageFailure(test, 'tests-failed-to-run'));
      const analyze = await awaitStage(ctx, job, token, loop, cycle, 'analyze');
      if (analyze.status === 'cancelled') continue;
      const analysis = analyze.result;
      if (analyze.status !== 'succeeded' || !analysis) return await finish(ctx, loop, 'stopped', stageFailure(analyze, 'stage-error'));

      if (cycle.totals === undefined) await recordAnalysis(ctx, loop, cycle, analysis);
      loop.latest = analysis.totals;

      // Budgets are checked on what earlier cycles spent, so a controller replayed after this cycle's fixers ran decides the same.
      const perLoop = environment.fixer?.budget?.perLoop;
      const earlier = environment.fixer?.budget ? await spendLedger(store, loopId, n - 1) : undefined;
      const stop =
        evaluateStopRules(
          await outcomes(ctx, loopId, n),
          environment.loop,
          Date.now() - Date.parse(loop.startedAt ?? loop.createdAt),
          perLoop && earlier ? { cap: perLoop, spent: earlier.loop, nextRun: earlier.costliestRun } : undefined,
        ) ?? (environment.fixer && earlier ? clusterBudgetStop(earlier, environment.fixer, analysis.clusters) : undefined);
      if (stop) return await finish(ctx, loop, stop.rule === 'green' ? 'green' : 'stopped', stop);

      // fix → integrate (skipped when no fixer is configured: the loop redeploys and retests only)
      let nextCommit = cycle.commit;
      if (environment.fixer) {
        const fix = await awaitFixes(ctx, job, token, loop, cycle, environment.fixer, analysis);
        if (fix.status === 'cancelled') continue;
        if (fix.result?.results.some((r) => r.outcome === 'accepted')) {
          const integrate = await awaitStage(ctx, job, token, loop, cycle, 'integrate');
          if (integrate.status === 'cancelled') continue;
          if (integrate.status !== 'succeeded' || !integrate.result) return await finish(ctx, loop, 'stopped', stageFailure(integrate, 'stage-error'));
          nextCommit = integrate.result.commit;
        }
      }

      // next cycle
      const ledger = await spendLedger(store, loopId, n);
      const spent = ledger.byCycle[n];
      await store.saveCycle({ ...cycle, ...(spent ? { spend: spent } : {}), finishedAt: cycle.finishedAt ?? new Date().toISOString() });
      const next: CycleRecord = {
        loopId,
        n: n + 1,
        commit: nextCommit,
        startedAt: new Date().toISOString(),
        ...(loop.worker ? { worker: loop.worker } : {}),
        stages: {},
      };
      if (!(await store.getCycle(loopId, n + 1))) await store.saveCycle(next);
      loop = { ...loop, cycle: n + 1, commit: nextCommit, ...(ledger.loop ? { spend: ledger.loop } : {}) };
      delete loop.stage;
      await store.saveLoop(loop);
      await store.emit({
        type: 'cycle.started',
        loopId,
        cycle: n + 1,
        message: `cycle ${n + 1} started at ${nextCommit.slice(0, 7)}`,
        data: { commit: nextCommit },
      });
      log.info({ cycle: n + 1, commit: nextCommit }, 'cycle started');
    }
  } catch (err) {
    if (err instanceof Suspend) throw new WaitingChildrenError();
    throw err;
  }
}

async function begin(ctx: WorkerContext, loop: LoopRecord): Promise<LoopRecord> {
  const { repo, base } = await ctx.repos.begin(loop);
  const branch = `greenloop/${loop.id}`;
  const commit = await ensureBranch(repo, branch, base);
  const now = new Date().toISOString();
  // Separate disks: pinned to this worker, whose mirror now holds the loop branch (see LoopRecord.worker).
  const worker = ctx.affinity ? { worker: ctx.affinity.self } : {};
  const started: LoopRecord = { ...loop, state: 'running', startedAt: loop.startedAt ?? now, branch, baseCommit: base, commit, cycle: 1, ...worker };
  if (!(await ctx.store.getCycle(loop.id, 1))) await ctx.store.saveCycle({ loopId: loop.id, n: 1, commit, startedAt: now, ...worker, stages: {} });
  await ctx.store.saveLoop(started);
  await ctx.store.emit({
    type: 'loop.started',
    loopId: loop.id,
    message: `loop started on ${loop.environment} at ${commit.slice(0, 7)} (branch ${branch})`,
    data: { commit, branch },
  });
  await ctx.store.emit({ type: 'cycle.started', loopId: loop.id, cycle: 1, message: `cycle 1 started at ${commit.slice(0, 7)}`, data: { commit } });
  await notify(ctx, started, 'loop-started');
  return started;
}

/** Returns the stage's final record, enqueueing its job and suspending the controller when needed. */
async function awaitStage<S extends JobStage>(
  ctx: WorkerContext,
  job: Job,
  token: string,
  loop: LoopRecord,
  cycle: CycleRecord,
  stage: S,
): Promise<TypedStageRecord<S>> {
  const done = await ctx.store.getStage(loop.id, cycle.n, stage);
  if (done && done.status !== 'running') return done;
  const childId = stageJobId(loop.id, cycle.n, stage);
  const name = StageTable[stage].job;
  const pinned = await pinTarget(ctx, loop.worker, name);
  await addStageChild(ctx.queues, job, name, { loopId: loop.id, cycle: cycle.n }, childId, pinned);
  await setStage(ctx, loop, stage);
  if (await job.moveToWaitingChildren(token)) throw new Suspend();
  const rec = await ctx.store.getStage(loop.id, cycle.n, stage);
  if (rec && rec.status !== 'running') return rec;
  // The child ended without a final record: its job failed for good (it stalled too often, or Redis went
  // away mid-write) and its onFinalFailure has not closed the record yet. BullMQ keeps the reason.
  const child = await Job.fromId(queueOf(ctx.queues, name, pinned), childId);
  return {
    stage,
    status: 'failed',
    startedAt: rec?.startedAt ?? new Date().toISOString(),
    attempts: rec?.attempts ?? 0,
    error: child?.failedReason
      ? stageJobFailure(stage, child.failedReason)
      : { code: 'STAGE_LOST', message: `the ${stage} job ended without recording a result; see the worker logs` },
  };
}

/**
 * The fix step (the controller owns its record, see the stage table): one child job per dispatched
 * cluster, in parallel, each recording its own outcome; the record gathers them.
 */
async function awaitFixes(
  ctx: WorkerContext,
  job: Job,
  token: string,
  loop: LoopRecord,
  cycle: CycleRecord,
  fixer: FixerConfig,
  analysis: AnalyzeStageResult,
): Promise<TypedStageRecord<'fix'>> {
  const { store } = ctx;
  let record = await store.getStage(loop.id, cycle.n, 'fix');
  if (record && record.status !== 'running') return record;
  if (!record) {
    const attempts: Record<string, number> = {};
    for (let n = 1; n < cycle.n; n++) {
      const r = (await store.getStage(loop.id, n, 'fix'))?.result;
      for (const f of r?.results ?? [])
        if (f.outcome !== 'skipped' && f.outcome !== 'cancelled') attempts[f.fingerprint] = (attempts[f.fingerprint] ?? 0) + Math.max(1, f.attempts);
      // A fix re-done at integration (it conflicted) spent attempts too.
      for (const x of (await store.getStage(loop.id, n, 'integrate'))?.result?.redone ?? [])
        attempts[x.fingerprint] = (attempts[x.fingerprint] ?? 0) + x.attempts;
    }
    const plan = planFixes(analysis.clusters, fixer, attempts, fixer.budget ? await spendLedger(store, loop.id, cycle.n - 1) : undefined);
    const planned: FixStageResult = { planned: plan.dispatch.map((c) => c.fingerprint), skipped: plan.skipped, results: [] };
    record = { stage: 'fix', status: 'running', startedAt: new Date().toISOString(), attempts: 1, result: planned };
    await store.saveStage(loop.id, cycle.n, record);
    await store.emit({
      type: 'stage.started',
      loopId: loop.id,
      cycle: cycle.n,
      stage: 'fix',
      message: `dispatching ${plan.dispatch.length} fixer(s); ${plan.skipped.length} cluster(s) left to a person`,
    });
  }
  const planned = record.result?.planned ?? [];
  for (const fingerprint of planned) {
    const fix = stageJobId(loop.id, cycle.n, 'fix', fingerprint);
    await addStageChild(ctx.queues, job, 'stage.fix', { loopId: loop.id, cycle: cycle.n, fingerprint }, fix, await pinTarget(ctx, loop.worker, 'stage.fix'));
  }
  await setStage(ctx, loop, 'fix');
  if (planned.length && (await job.moveToWaitingChildren(token))) throw new Suspend();
  return await collectFixes(ctx, loop.id, cycle.n, record, (await store.isCancelRequested(loop.id)) ? 'cancelled' : 'succeeded');
}

async function setStage(ctx: WorkerContext, loop: LoopRecord, stage: LoopRecord['stage']): Promise<void> {
  if (loop.stage === stage) return;
  loop.stage = stage;
  await ctx.store.saveLoop(loop);
}

async function recordAnalysis(ctx: WorkerContext, loop: LoopRecord, cycle: CycleRecord, a: AnalyzeStageResult): Promise<void> {
  const updated: CycleRecord = {
    ...cycle,
    totals: a.totals,
    green: a.green,
    failingTests: a.failingTests,
    failingFingerprints: a.clusters.map((c) => c.fingerprint),
    report: a.report,
  };
  await ctx.store.saveCycle(updated);
  const t = a.totals;
  await ctx.store.emit({
    type: 'cycle.finished',
    loopId: loop.id,
    cycle: cycle.n,
    message: `cycle ${cycle.n}: ${t.passed}/${t.total} passed, ${t.failed} failed${a.fixed.length ? `, ${a.fixed.length} cluster(s) fixed` : ''}${a.realness.real ? '' : ' — run flagged as not real'}`,
    data: { totals: t, green: a.green, clusters: a.clusters.length, fixed: a.fixed.length, real: a.realness.real, report: a.report.markdown },
  });
  await notify(ctx, loop, 'cycle-finished', cycle.n);
}

/** A cancel that lands between the analyze stage and its recording still leaves the cycle's totals and report. */
async function recordFinishedAnalysis(ctx: WorkerContext, loop: LoopRecord): Promise<void> {
  const cycle = await ctx.store.getCycle(loop.id, loop.cycle);
  const analyze = await ctx.store.getStage(loop.id, loop.cycle, 'analyze');
  if (cycle && cycle.totals === undefined && analyze?.status === 'succeeded' && analyze.result) await recordAnalysis(ctx, loop, cycle, analyze.result);
}

async function outcomes(ctx: WorkerContext, loopId: string, upTo: number): Promise<CycleOutcome[]> {
  const out: CycleOutcome[] = [];
  for (let n = 1; n <= upTo; n++) {
    const a = (await ctx.store.getStage(loopId, n, 'analyze'))?.result;
    if (!a) continue;
    out.push({
      n,
      green: a.green,
      real: a.realness.real,
      realnessReasons: a.realness.reasons,
      failing: a.clusters.map((c) => c.fingerprint),
      // Decided by the analysis (fixer.massFailure is config), so its report and this stop say the same thing.
      ...(a.environment ? { environment: a.environment } : {}),
    });
  }
  return out;
}
