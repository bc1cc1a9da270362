import {
  addJob,
  type CycleOutcome,
  type CycleRecord,
  type DeployResult,
  describeError,
  type EnvironmentConfig,
  evaluateStopRules,
  type FixerConfig,
  type FixResult,
  type IntegrateResult,
  type LoopRecord,
  type LoopState,
  parsePayload,
  STAGE_JOB,
  type StageName,
  type StageRecord,
  type StopReason,
  stageJobId,
  TERMINAL_STATES,
} from '@greenloop/core';
import { type Job, UnrecoverableError, WaitingChildrenError } from 'bullmq';
import { loadEnvironment, type WorkerContext } from './context.ts';
import { planFixes } from './fix/dispatch.ts';
import { ensureBranch, removeWorktree, resolveCommit } from './git/repo.ts';
import { loopPaths } from './paths.ts';
import type { AnalyzeStageResult } from './stages/analyze.ts';
import { stopServices } from './stages/deploy.ts';
import { type FixStageResult, fixMarker } from './stages/fix.ts';

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
  if (TERMINAL_STATES.includes(loop.state)) return loop.state;
  const log = ctx.log.child({ loopId });

  let environment: EnvironmentConfig;
  try {
    environment = (await loadEnvironment(ctx, loop.environment)).environment;
  } catch (err) {
    return await finish(ctx, loop, 'failed', { rule: 'stage-error', message: describeError(err) });
  }

  try {
    if (loop.state === 'queued') loop = await begin(ctx, loop);

    for (;;) {
      if (await store.isCancelRequested(loopId)) return await finish(ctx, loop, 'cancelled', { rule: 'cancelled', message: 'cancelled on request' });
      const n: number = loop.cycle;
      const cycle = await store.getCycle(loopId, n);
      if (!cycle) throw new UnrecoverableError(`cycle ${n} of loop ${loopId} is missing`);

      const stageFailure = (rec: StageRecord, rule: StopReason['rule']): StopReason => ({
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
      if (analyze.status !== 'succeeded') return await finish(ctx, loop, 'stopped', stageFailure(analyze, 'stage-error'));
      const analysis = analyze.result as AnalyzeStageResult;

      if (cycle.totals === undefined) await recordAnalysis(ctx, loop, cycle, analysis);
      loop.latest = analysis.totals;

      const stop = evaluateStopRules(await outcomes(ctx, loopId, n), environment.loop, Date.now() - Date.parse(loop.startedAt ?? loop.createdAt));
      if (stop) return await finish(ctx, loop, stop.rule === 'green' ? 'green' : 'stopped', stop);

      // fix → integrate (skipped when no fixer is configured: the loop redeploys and retests only)
      let nextCommit = cycle.commit;
      if (environment.fixer) {
        const fix = await awaitFixes(ctx, job, token, loop, cycle, environment.fixer, analysis);
        if (fix.status === 'cancelled') continue;
        const fixResult = fix.result as FixStageResult;
        if (fixResult.results.some((r) => r.outcome === 'accepted')) {
          const integrate = await awaitStage(ctx, job, token, loop, cycle, 'integrate');
          if (integrate.status === 'cancelled') continue;
          if (integrate.status !== 'succeeded') return await finish(ctx, loop, 'stopped', stageFailure(integrate, 'stage-error'));
          nextCommit = (integrate.result as IntegrateResult).commit;
        }
      }

      // next cycle
      await store.saveCycle({ ...cycle, finishedAt: cycle.finishedAt ?? new Date().toISOString() });
      const next: CycleRecord = { loopId, n: n + 1, commit: nextCommit, startedAt: new Date().toISOString(), stages: {} };
      if (!(await store.getCycle(loopId, n + 1))) await store.saveCycle(next);
      loop = { ...loop, cycle: n + 1, commit: nextCommit };
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
  const base = await resolveCommit(ctx.env.repo, 'HEAD');
  const branch = `greenloop/${loop.id}`;
  const commit = await ensureBranch(ctx.env.repo, branch, base);
  const now = new Date().toISOString();
  const started: LoopRecord = { ...loop, state: 'running', startedAt: loop.startedAt ?? now, branch, baseCommit: base, commit, cycle: 1 };
  if (!(await ctx.store.getCycle(loop.id, 1))) await ctx.store.saveCycle({ loopId: loop.id, n: 1, commit, startedAt: now, stages: {} });
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
async function awaitStage(
  ctx: WorkerContext,
  job: Job,
  token: string,
  loop: LoopRecord,
  cycle: CycleRecord,
  stage: Exclude<StageName, 'fix'>,
): Promise<StageRecord> {
  const done = cycle.stages[stage];
  if (done && done.status !== 'running') return done;
  await addJob(ctx.queues, STAGE_JOB[stage], { loopId: loop.id, cycle: cycle.n }, childOpts(job, stageJobId(loop.id, cycle.n, stage)));
  await setStage(ctx, loop, stage);
  if (await job.moveToWaitingChildren(token)) throw new Suspend();
  const rec = await ctx.store.getStage(loop.id, cycle.n, stage);
  if (rec && rec.status !== 'running') return rec;
  // The child ended without a final record: its job failed outright (e.g. Redis went away mid-write).
  return {
    stage,
    status: 'failed',
    startedAt: rec?.startedAt ?? new Date().toISOString(),
    attempts: rec?.attempts ?? 0,
    error: { code: 'STAGE_LOST', message: `the ${stage} job ended without recording a result; see the worker logs` },
  };
}

/** The fix step: one child job per dispatched cluster, in parallel; the record lists every outcome. */
async function awaitFixes(
  ctx: WorkerContext,
  job: Job,
  token: string,
  loop: LoopRecord,
  cycle: CycleRecord,
  fixer: FixerConfig,
  analysis: AnalyzeStageResult,
): Promise<StageRecord> {
  const { store } = ctx;
  const done = cycle.stages.fix;
  if (done && done.status !== 'running') return done;
  let record = done as StageRecord<FixStageResult> | undefined;
  if (!record) {
    const attempts: Record<string, number> = {};
    for (let n = 1; n < cycle.n; n++) {
      const r = (await store.getStage<FixStageResult>(loop.id, n, 'fix'))?.result;
      for (const f of r?.results ?? [])
        if (f.outcome !== 'skipped' && f.outcome !== 'cancelled') attempts[f.fingerprint] = (attempts[f.fingerprint] ?? 0) + Math.max(1, f.attempts);
    }
    const plan = planFixes(analysis.clusters, fixer, attempts);
    record = {
      stage: 'fix',
      status: 'running',
      startedAt: new Date().toISOString(),
      attempts: 1,
      result: { planned: plan.dispatch.map((c) => c.fingerprint), skipped: plan.skipped, results: [] },
    };
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
    await addJob(ctx.queues, 'stage.fix', { loopId: loop.id, cycle: cycle.n, fingerprint }, childOpts(job, stageJobId(loop.id, cycle.n, 'fix', fingerprint)));
  }
  await setStage(ctx, loop, 'fix');
  if (planned.length && (await job.moveToWaitingChildren(token))) throw new Suspend();

  const results: FixResult[] = [];
  for (const fingerprint of planned) {
    const raw = await store.getMarker(loop.id, cycle.n, fixMarker(fingerprint));
    results.push(
      raw ? (JSON.parse(raw) as FixResult) : { fingerprint, outcome: 'failed', reason: 'the fix job ended without recording an outcome', attempts: 0 },
    );
  }
  const cancelled = await store.isCancelRequested(loop.id);
  const accepted = results.filter((r) => r.outcome === 'accepted').length;
  const final: StageRecord<FixStageResult> = {
    ...record,
    status: cancelled ? 'cancelled' : 'succeeded',
    finishedAt: new Date().toISOString(),
    summary: `${accepted}/${planned.length} fix(es) accepted${record.result?.skipped.length ? `, ${record.result.skipped.length} skipped` : ''}`,
    result: { planned, skipped: record.result?.skipped ?? [], results },
  };
  await store.saveStage(loop.id, cycle.n, final);
  await store.emit({
    type: 'stage.finished',
    loopId: loop.id,
    cycle: cycle.n,
    stage: 'fix',
    message: `fix ${final.status === 'succeeded' ? 'done' : final.status}: ${final.summary}`,
    data: { status: final.status },
  });
  return final;
}

function childOpts(job: Job, jobId: string) {
  // ignoreDependencyOnFailure: a child that dies without a record must still wake the controller.
  return { jobId, parent: { id: job.id as string, queue: job.queueQualifiedName }, ignoreDependencyOnFailure: true };
}

async function setStage(ctx: WorkerContext, loop: LoopRecord, stage: StageName): Promise<void> {
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

async function outcomes(ctx: WorkerContext, loopId: string, upTo: number): Promise<CycleOutcome[]> {
  const out: CycleOutcome[] = [];
  for (let n = 1; n <= upTo; n++) {
    const a = (await ctx.store.getStage<AnalyzeStageResult>(loopId, n, 'analyze'))?.result;
    if (!a) continue;
    out.push({ n, green: a.green, real: a.realness.real, realnessReasons: a.realness.reasons, failing: a.clusters.map((c) => c.fingerprint) });
  }
  return out;
}

/**
 * Ends the loop. The verdict is recorded and announced first (people are waiting for it); then local
 * services are stopped and scratch worktrees removed (evidence stays in artifacts); only then is the
 * environment released, so the next loop never overlaps with this one's processes.
 */
async function finish(ctx: WorkerContext, loop: LoopRecord, state: LoopState, stop: StopReason): Promise<LoopState> {
  const { store } = ctx;
  const cycle = await store.getCycle(loop.id, loop.cycle);
  if (cycle && !cycle.finishedAt) await store.saveCycle({ ...cycle, finishedAt: new Date().toISOString() });
  const ended: LoopRecord = { ...loop, state, stop, finishedAt: new Date().toISOString() };
  delete ended.stage;
  await store.saveLoop(ended);
  await store.emit({ type: 'loop.finished', loopId: loop.id, cycle: loop.cycle, message: `loop ${state}: ${stop.message}`, data: { state, stop } });
  ctx.log.info({ loopId: loop.id, state, rule: stop.rule }, stop.message);
  await notify(ctx, ended, 'loop-finished');

  if (state === 'green') await promoteCandidates(ctx, loop);
  try {
    // The last cycle's services, and the one before's in case the last deploy failed half-way.
    for (let n = loop.cycle; n >= 1 && n >= loop.cycle - 1; n--) {
      await stopServices(ctx, (await store.getStage<DeployResult>(loop.id, n, 'deploy'))?.result?.services ?? []);
    }
  } catch (err) {
    ctx.log.warn({ loopId: loop.id, err: describeError(err) }, 'could not stop the loop’s services');
  }
  const paths = loopPaths(ctx.env.home, loop.id);
  for (let n = 1; n <= loop.cycle; n++) await removeWorktree(ctx.env.repo, paths.deployWorktree(n)).catch(() => undefined);
  await removeWorktree(ctx.env.repo, paths.integrateWorktree).catch(() => undefined);
  await store.releaseEnvironment(loop.environment, loop.id);
  return state;
}

/** Green with candidate revisions (Cloud Run, 0% traffic under a tag): now they get the traffic. */
async function promoteCandidates(ctx: WorkerContext, loop: LoopRecord): Promise<void> {
  const deployed = (await ctx.store.getStage<DeployResult>(loop.id, loop.cycle, 'deploy'))?.result?.services ?? [];
  const { environment } = await loadEnvironment(ctx, loop.environment);
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

async function notify(ctx: WorkerContext, loop: LoopRecord, kind: 'loop-started' | 'cycle-finished' | 'loop-finished', cycle?: number): Promise<void> {
  try {
    const { environment } = await loadEnvironment(ctx, loop.environment);
    if (!environment.notifications.slack && !environment.notifications.webhook) return;
    await addJob(
      ctx.queues,
      'notify',
      { loopId: loop.id, kind, ...(cycle ? { cycle } : {}) },
      { jobId: [loop.id, 'notify', kind, cycle].filter(Boolean).join('.') },
    );
  } catch (err) {
    // A notification problem never stops a loop.
    ctx.log.warn({ loopId: loop.id, err: describeError(err) }, 'could not enqueue notification');
  }
}
