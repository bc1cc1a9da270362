// 20 triggers fired the moment the loop reports `loop.finished` (its teardown is running).
import type { Trial } from '../trial.ts';

export async function triggersDuringTeardown(t: Trial, count = 20): Promise<void> {
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
