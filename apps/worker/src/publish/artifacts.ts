import { describeError } from '@greenloop/core';
import type { WorkerContext } from '../context.ts';
import { loopPaths } from '../paths.ts';

/**
 * Publishes what the loop has written so far to the artifact store (a no-op for the local store, whose
 * files are already where the API reads). Called when a stage ends, when a cycle's fixes are collected
 * and when the loop is torn down. A failure never fails the stage: the files stay on this worker's disk,
 * the next call sends whatever is still missing, and the loop's events say it happened.
 */
export async function publishArtifacts(
  ctx: Pick<WorkerContext, 'artifacts' | 'env' | 'log' | 'store'>,
  loopId: string,
  cycle: number,
  after: string,
): Promise<void> {
  if (ctx.artifacts.kind === 'local') return;
  const started = Date.now();
  try {
    const r = await ctx.artifacts.syncLoop(loopId, loopPaths(ctx.env.home, loopId).artifacts);
    ctx.log.info({ loopId, cycle, after, ...r, ms: Date.now() - started, store: ctx.artifacts.location }, 'artifacts published');
    if (r.refused.length)
      await ctx.store.emit({
        type: 'notice',
        loopId,
        cycle,
        message: `${r.refused.length} artifact(s) not published: their path holds a secret (${r.refused.slice(0, 3).join(', ')})`,
      });
  } catch (err) {
    ctx.log.warn({ loopId, cycle, after, err: describeError(err) }, 'artifacts could not be published; the next stage retries');
    await ctx.store
      .emit({ type: 'notice', loopId, cycle, message: `artifacts not published yet after ${after} (${describeError(err)}); retried at the next stage` })
      .catch(() => undefined);
  }
}
