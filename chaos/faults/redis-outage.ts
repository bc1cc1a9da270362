// Redis shut down (SIGKILL, AOF kept) while a stage runs, restarted after `downMs`.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addFile, commitRepo, type Trial } from '../trial.ts';
import { begins, type FaultPoint } from './kill-worker.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Redis down for `downMs`, `afterMs` after `point` (a stage, the teardown, …) began. */
export async function redisOutageDuring(t: Trial, point: FaultPoint, downMs: number, afterMs: number): Promise<void> {
  const e = await t.waitFor(begins(point), 180_000);
  if (!e) {
    t.notes.push(`${point} never started; no outage`);
    return;
  }
  await sleep(afterMs);
  t.log(`redis down for ${downMs} ms during ${point} of cycle ${e.cycle ?? '?'}`);
  await t.opts.redis.outage(downMs);
}

/**
 * A test that takes `seconds` in cycle 1 only (later cycles stay fast). Each cycle-1 run first requests
 * /chaos-slow-run from the demo service, whose log (outside the sandbox the suite may run in) then
 * shows how many times the suite ran.
 */
export function slowFirstCycleTest(seconds: number): string {
  return [
    "import { test } from 'node:test';",
    "test('slow in the first cycle, fine always', async () => {",
    "  if (process.env.GREENLOOP_CYCLE !== '1') return;",
    "  await fetch(process.env.GREENLOOP_URL_API + '/chaos-slow-run').then((r) => r.arrayBuffer()).catch(() => undefined);",
    `  await new Promise((r) => setTimeout(r, ${seconds * 1000}));`,
    '});',
    '',
  ].join('\n');
}

/** Adds the slow test to the demo repository and returns the check that it ran exactly once in cycle 1. */
export function slowSuite(seconds: number): { prepareRepo: (repo: string) => void; check: (t: Trial) => string[] } {
  return {
    prepareRepo: (repo) => {
      // The demo's suite timeout (2m) is shorter than a long suite plus an outage.
      commitRepo(repo, 'chaos: a suite timeout for a slow suite', () => {
        const file = join(repo, 'greenloop.yaml');
        const yaml = readFileSync(file, 'utf8');
        if (!yaml.includes('      timeout: 2m\n')) throw new Error('the demo greenloop.yaml no longer has tests.timeout: 2m');
        writeFileSync(file, yaml.replace('      timeout: 2m\n', '      timeout: 15m\n'));
      });
      addFile(repo, 'e2e/zz-slow.test.js', slowFirstCycleTest(seconds));
    },
    check: (t) => {
      const dir = join(t.home, 'artifacts', t.loopId, 'cycle-1', 'deploy');
      let runs = 0;
      for (const f of existsSync(dir) ? readdirSync(dir) : []) {
        if (f.endsWith('.log'))
          runs += readFileSync(join(dir, f), 'utf8')
            .split('\n')
            .filter((l) => l.includes('/chaos-slow-run')).length;
      }
      return runs === 1 ? [] : [`the cycle-1 suite ran ${runs} times (expected once)`];
    },
  };
}
