// Redis shut down (SIGKILL, AOF kept) while a stage runs, restarted after `downMs`.
import type { StageName } from '@greenloop/core';
import type { Trial } from '../trial.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function redisOutageDuring(t: Trial, stage: StageName, downMs: number, afterMs: number): Promise<void> {
  const e = await t.waitFor((ev) => ev.type === 'stage.started' && ev.stage === stage, 180_000);
  if (!e) {
    t.notes.push(`${stage} never started; no outage`);
    return;
  }
  await sleep(afterMs);
  t.log(`redis down for ${downMs} ms during ${stage} of cycle ${e.cycle ?? '?'}`);
  await t.opts.redis.outage(downMs);
}

/** A suite whose one test takes `seconds` in cycle 1 only (later cycles stay fast). */
export function slowFirstCycleTest(seconds: number): string {
  return [
    "import { test } from 'node:test';",
    `test('slow in the first cycle, fine always', () => new Promise((r) => setTimeout(r, process.env.GREENLOOP_CYCLE === '1' ? ${seconds * 1000} : 10)));`,
    '',
  ].join('\n');
}
