// Cancel while a given stage runs.
import type { StageName } from '@greenloop/core';
import type { Trial } from '../trial.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function cancelDuring(t: Trial, stage: StageName, random: () => number): Promise<void> {
  const e = await t.waitFor((ev) => ev.type === 'stage.started' && ev.stage === stage, 180_000);
  if (!e) {
    t.notes.push(`${stage} never started; no cancel`);
    return;
  }
  await sleep(Math.floor(random() * 500));
  t.log(`cancel during ${stage} of cycle ${e.cycle ?? '?'}`);
  await t.cancel();
}
