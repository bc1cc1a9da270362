import { describeError, GreenloopError, isRetryable, type JobStage, recordStageDuration, type StageRecord, type StageResult } from '@greenloop/core';
import type { Job } from 'bullmq';
import type { WorkerContext } from '../context.ts';
import { publishArtifacts } from '../publish/artifacts.ts';

export interface StageRun {
  loopId: string;
  cycle: number;
  signal: AbortSignal;
  /** Emits a stage.progress event (throttled by the caller where output is chatty). */
  progress: (message: string, data?: Record<string, unknown>) => void;
}

export interface StageOutput<R> {
  result: R;
  summary: string;
}

/**
 * The common life of a stage job, keyed by loop + cycle + stage so it is idempotent:
 * - a stage that already finished (any terminal status) is not run again — a replayed job is a no-op;
 * - a cancelled loop records `cancelled` without running;
 * - a permanent error, or the last attempt of a transient one, is recorded as `failed` and the job
 *   completes, so the controller (the parent) always wakes up and finds a record saying why;
 * - an earlier attempt's transient error is rethrown so BullMQ retries with backoff.
 */
export async function runStage<S extends JobStage>(
  ctx: WorkerContext,
  job: Job,
  stage: S,
  payload: { loopId: string; cycle: number },
  fn: (run: StageRun) => Promise<StageOutput<StageResult<S>>>,
): Promise<StageRecord<StageResult<S>>> {
  type R = StageResult<S>;
  const { store } = ctx;
  const { loopId, cycle } = payload;
  // Separate disks: written only while the loop is pinned here (see LoopStore.saveStage).
  const writer = ctx.affinity ? { worker: ctx.affinity.self } : {};
  const existing = await store.getStage(loopId, cycle, stage);
  if (existing && existing.status !== 'running') return existing;

  const record: StageRecord<R> & { stage: S } = {
    stage,
    status: 'running',
    startedAt: existing?.startedAt ?? new Date().toISOString(),
    attempts: (existing?.attempts ?? 0) + 1,
  };
  const finish = async (patch: Partial<StageRecord<R>>) => {
    // Evidence first: once the record says the stage ended, its files can be read wherever the API runs.
    await publishArtifacts(ctx, loopId, cycle, stage);
    Object.assign(record, patch, { finishedAt: new Date().toISOString() });
    // The loop ended and closed this record meanwhile: its word stands, this attempt's is dropped.
    if (!(await store.saveStage(loopId, cycle, record, writer))) return (await store.getStage(loopId, cycle, stage)) ?? record;
    const ms = Date.parse(record.finishedAt as string) - Date.parse(record.startedAt);
    await recordStageDuration(store.redis, store.prefix, stage, ms).catch(() => undefined);
    await store.emit({
      type: 'stage.finished',
      loopId,
      cycle,
      stage,
      message: `${stage} ${record.status === 'succeeded' ? 'done' : record.status}: ${record.summary ?? record.error?.message ?? ''}`,
      data: { status: record.status, durationMs: ms },
    });
    return record;
  };

  if (await store.isCancelRequested(loopId)) return await finish({ status: 'cancelled', summary: 'loop cancelled before the stage started' });

  if (!(await store.saveStage(loopId, cycle, record, writer))) return (await store.getStage(loopId, cycle, stage)) ?? record;
  await store.emit({
    type: 'stage.started',
    loopId,
    cycle,
    stage,
    message: record.attempts > 1 ? `${stage} started (attempt ${record.attempts})` : `${stage} started`,
  });
  const log = ctx.log.child({ loopId, cycle, stage });
  try {
    const out = await ctx.cancels.run(loopId, (signal) =>
      fn({
        loopId,
        cycle,
        signal,
        progress: (message, data) => {
          void store.emit({ type: 'stage.progress', loopId, cycle, stage, message, ...(data ? { data } : {}) }).catch(() => undefined);
        },
      }),
    );
    return await finish({ status: 'succeeded', result: out.result, summary: out.summary });
  } catch (err) {
    if (await store.isCancelRequested(loopId)) return await finish({ status: 'cancelled', summary: 'loop cancelled' });
    const lastAttempt = record.attempts >= (job.opts.attempts ?? 1);
    if (isRetryable(err) && !lastAttempt) {
      log.warn({ err: describeError(err), attempt: record.attempts }, 'stage failed, will retry');
      await store.emit({ type: 'stage.progress', loopId, cycle, stage, message: `attempt ${record.attempts} failed (${describeError(err)}); retrying` });
      throw err;
    }
    log.error({ err: describeError(err) }, 'stage failed');
    const e = err instanceof GreenloopError ? err : undefined;
    return await finish({
      status: 'failed',
      error: {
        code: e?.code ?? 'INTERNAL',
        message: err instanceof Error ? err.message : String(err),
        ...(e?.hint ? { hint: e.hint } : {}),
        ...(e?.details ? { details: e.details } : {}),
      },
    });
  }
}
