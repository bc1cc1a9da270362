import { type FixResult, type LoopRecord, STAGES, type StageName, type StageStatus, type TypedStageRecord } from '@greenloop/core';
import type { WorkerContext } from './context.ts';
import { publishArtifacts } from './publish/artifacts.ts';

/**
 * The fix stage's record, gathered from each cluster's recorded outcome (a cluster whose job ended
 * without one counts as failed). `status` is the record's final status: `succeeded`, or `cancelled`
 * when the loop was cancelled while fixers ran.
 */
export async function collectFixes(
  ctx: WorkerContext,
  loopId: string,
  n: number,
  record: TypedStageRecord<'fix'>,
  status: Extract<StageStatus, 'succeeded' | 'cancelled'>,
): Promise<TypedStageRecord<'fix'>> {
  const { store } = ctx;
  const planned = record.result?.planned ?? [];
  const skipped = record.result?.skipped ?? [];
  const results: FixResult[] = [];
  for (const fingerprint of planned) {
    const outcome = await store.getFixOutcome(loopId, n, fingerprint);
    results.push(
      outcome ??
        (status === 'cancelled'
          ? { fingerprint, outcome: 'cancelled', reason: 'the loop was cancelled', attempts: 0 }
          : { fingerprint, outcome: 'failed', reason: 'the fix job ended without recording an outcome', attempts: 0 }),
    );
  }
  // Each fix job wrote its prompt, diff and gate output: published before the record says the fixes are in.
  // (Separate disks: on the loop's worker, by each fix job; this controller's disk has none of them.)
  if (!ctx.affinity) await publishArtifacts(ctx, loopId, n, 'fix');
  const accepted = results.filter((r) => r.outcome === 'accepted').length;
  const final: TypedStageRecord<'fix'> = {
    ...record,
    status,
    finishedAt: new Date().toISOString(),
    summary: `${accepted}/${planned.length} fix(es) accepted${skipped.length ? `, ${skipped.length} skipped` : ''}`,
    result: { planned, skipped, results },
  };
  if (!(await store.saveStage(loopId, n, final))) return (await store.getStage(loopId, n, 'fix')) ?? final;
  await store.emit({
    type: 'stage.finished',
    loopId,
    cycle: n,
    stage: 'fix',
    message: `fix ${status === 'succeeded' ? 'done' : status}: ${final.summary}`,
    data: { status },
  });
  return final;
}

/**
 * When a loop ends, no stage record of its last cycle may stay `running` (the API view would show it
 * running forever): each is closed as `cancelled` (a cancelled loop) or `failed`. A stage job that is
 * still alive somewhere cannot rewrite it afterwards (LoopStore.saveStage keeps the first final word).
 */
export async function closeOpenStages(ctx: WorkerContext, loop: LoopRecord): Promise<void> {
  if (loop.cycle < 1) return;
  const cancelled = loop.state === 'cancelled';
  for (const stage of STAGES) await closeStage(ctx, loop, stage, cancelled);
}

async function closeStage<S extends StageName>(ctx: WorkerContext, loop: LoopRecord, stage: S, cancelled: boolean): Promise<void> {
  const { store } = ctx;
  const n = loop.cycle;
  const rec = await store.getStage(loop.id, n, stage);
  if (rec?.status !== 'running') return;
  if (stage === 'fix') {
    const fix = await store.getStage(loop.id, n, 'fix');
    if (fix) await collectFixes(ctx, loop.id, n, fix, 'cancelled');
    return;
  }
  const status: StageStatus = cancelled ? 'cancelled' : 'failed';
  const closed: TypedStageRecord<S> = {
    ...rec,
    status,
    finishedAt: new Date().toISOString(),
    summary: cancelled ? 'loop cancelled' : 'the loop ended while this stage was running',
    ...(cancelled ? {} : { error: { code: 'STAGE_ABANDONED', message: `the loop ended (${loop.stop?.message ?? loop.state}) while this stage was running` } }),
  };
  if (!(await store.saveStage(loop.id, n, closed))) return;
  await store.emit({ type: 'stage.finished', loopId: loop.id, cycle: n, stage, message: `${stage} ${status}: ${closed.summary}`, data: { status } });
}
