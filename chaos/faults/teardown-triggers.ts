// 20 triggers fired the moment the loop reports `loop.finished` (its teardown is running).
import type { Trial } from '../trial.ts';

/**
 * With `cancelAfterDeploy`, the loop is cancelled once its first deploy is up, so its teardown (services to
 * stop, worktrees to remove) comes within seconds instead of after a whole green loop.
 */
export async function triggersDuringTeardown(t: Trial, opts: { count?: number; cancelAfterDeploy?: boolean } = {}): Promise<void> {
  const count = opts.count ?? 20;
  if (opts.cancelAfterDeploy) {
    await t.waitFor((ev) => ev.type === 'stage.started' && ev.stage === 'test', 120_000);
    await t.cancel();
  }
  const e = await t.waitFor((ev) => ev.type === 'loop.finished', 240_000);
  if (!e) {
    t.notes.push('loop never finished; no triggers');
    return;
  }
  const created = (await Promise.all(Array.from({ length: count }, () => t.trigger().catch(() => undefined)))).filter((id): id is string => !!id);
  // At most one loop may start, and only once the finished loop released the environment.
  if (created.length > 1) {
    t.duplicateDeploys += created.length - 1;
    t.notes.push(`${created.length} loops started by one burst`);
  }
  for (const id of created) {
    // The new loop is not what this trial measures: cancel it and check it ends cleanly too.
    t.extraLoops.push(id);
    await t.store.requestCancel(id);
  }
}
