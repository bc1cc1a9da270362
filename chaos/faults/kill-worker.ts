// The points of a loop a fault aims at (a stage, the teardown, a shard, a proof), and kill -9 of the worker at one of them.
import type { LoopEvent, StageName } from '@greenloop/core';
import type { Trial } from '../trial.ts';

/** Every stage of a cycle, and the teardown after the verdict. */
export const KILL_POINTS = ['deploy', 'test', 'analyze', 'fix', 'integrate', 'teardown'] as const;
/** Points inside a stage that only some configurations have: one shard of a sharded suite, a fix's proof on its own deploy. */
export const FEATURE_KILL_POINTS = ['shard', 'prove'] as const;
export type FaultPoint = (typeof KILL_POINTS)[number] | (typeof FEATURE_KILL_POINTS)[number];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The event that says `point` has begun. */
export function begins(point: FaultPoint): (ev: LoopEvent) => boolean {
  switch (point) {
    case 'teardown':
      return (ev) => ev.type === 'loop.finished';
    case 'shard':
      return (ev) => ev.type === 'stage.progress' && ev.stage === 'test' && /^shard \d+\/\d+: running /.test(ev.message);
    case 'prove':
      return (ev) => ev.type === 'stage.progress' && ev.stage === 'fix' && ev.message.startsWith('proving the fix for ');
    default:
      return (ev) => ev.type === 'stage.started' && ev.stage === (point as StageName);
  }
}

/** Waits for `point` to start in any cycle, waits a random 0–`spreadMs`, then crashes the worker. */
export async function killWorkerDuring(t: Trial, point: FaultPoint, random: () => number, spreadMs = 1500): Promise<void> {
  const e = await t.waitFor(begins(point), 180_000);
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
