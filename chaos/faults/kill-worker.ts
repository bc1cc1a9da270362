// kill -9 of the worker process at a random point of a stage (or of the teardown), then a new worker.
import type { StageName } from '@greenloop/core';
import type { Trial } from '../trial.ts';

export const KILL_POINTS = ['deploy', 'test', 'analyze', 'fix', 'integrate', 'teardown'] as const;
export type KillPoint = (typeof KILL_POINTS)[number];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for `point` to start in any cycle, waits a random 0–`spreadMs`, then crashes the worker. */
export async function killWorkerDuring(t: Trial, point: KillPoint, random: () => number, spreadMs = 1500): Promise<void> {
  const e = await t.waitFor(
    (ev) => (point === 'teardown' ? ev.type === 'loop.finished' : ev.type === 'stage.started' && ev.stage === (point as StageName)),
    180_000,
  );
  if (!e) {
    t.notes.push(`${point} never started; no kill`);
    return;
  }
  // Teardown is short: kill within its first 300 ms or the window is gone.
  const delay = Math.floor(random() * (point === 'teardown' ? 300 : spreadMs));
  await sleep(delay);
  if (point === 'deploy' && e.cycle) t.interruptedDeploys.add(e.cycle);
  t.log(`kill -9 during ${point} of cycle ${e.cycle ?? '?'} after ${delay} ms`);
  await t.crashWorker();
}
