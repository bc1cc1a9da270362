// End-to-end (long): kill -9 the worker process while a test stage runs; a new worker finishes the loop
// green with no cycle deployed twice and no record lost.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive } from '../apps/worker/src/process/run-command.ts';
import { demoHarness, startLoopDirect, waitForEvent, workerProcesses } from './demo-harness.ts';

describe('e2e: worker crash during a test stage', () => {
  const h = demoHarness({ GREENLOOP_LOCK_DURATION: '3s', GREENLOOP_STALLED_INTERVAL: '1s' });
  const workers = workerProcesses({
    redisUrl: h.redisUrl,
    home: h.env.home,
    repo: h.repo,
    prefix: h.env.GREENLOOP_PREFIX,
    logLevel: 'warn',
    extra: { GREENLOOP_LOCK_DURATION: '3s', GREENLOOP_STALLED_INTERVAL: '1s' },
  });
  afterAll(async () => {
    workers.killAll();
    await h.cleanup();
  });

  it('finishes green after the worker is killed mid-test, deploying each cycle once', { timeout: 180_000 }, async () => {
    // A slow (passing) test gives a window inside the test stage to kill the worker.
    writeFileSync(
      join(h.repo, 'e2e', 'zz-slow.test.js'),
      "import { test } from 'node:test';\ntest('slow but fine', () => new Promise((r) => setTimeout(r, 2500)));\n",
    );
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'add', '-A'], { cwd: h.repo });
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'slow test'], { cwd: h.repo });

    const first = workers.start();
    const id = await startLoopDirect(h.store, h.env.GREENLOOP_PREFIX, 'demo', 'crash-test');

    // Wait for cycle 1's test stage to start, then kill -9 the worker.
    const started = await waitForEvent(h.store, id, (e) => e.type === 'stage.started' && e.stage === 'test' && e.cycle === 1, 60_000);
    let killed = false;
    if (started) {
      await new Promise((r) => setTimeout(r, 500));
      first.kill('SIGKILL');
      killed = true;
    }
    expect(killed).toBe(true);
    await new Promise((r) => first.once('exit', r));
    expect(first.signalCode).toBe('SIGKILL');

    workers.start();
    const loop = await h.waitForEnd(id, 150_000);
    expect(loop.state).toBe('green');
    expect(loop.cycle).toBeGreaterThanOrEqual(3);

    const all = await h.store.readEvents(id, '0', { count: 100_000 });
    for (let n = 1; n <= loop.cycle; n++) {
      const cycle = await h.store.getCycle(id, n);
      expect(cycle, `cycle ${n} record`).toBeDefined();
      for (const stage of ['deploy', 'test', 'analyze'] as const) expect(cycle!.stages[stage]?.status, `cycle ${n} ${stage}`).toBe('succeeded');
      expect(cycle!.report).toBeDefined();
      // Deployed exactly once per cycle, even across the crash.
      expect(cycle!.stages.deploy!.attempts).toBe(1);
      // Services started by the killed worker were stopped by the new one (no orphans).
      for (const svc of cycle!.stages.deploy!.result!.services) expect(isAlive(svc.pid as number)).toBe(false);
      expect(all.filter((e) => e.type === 'stage.started' && e.stage === 'deploy' && e.cycle === n)).toHaveLength(1);
    }
    // The crashed test stage ran again on the new worker.
    expect((await h.store.getCycle(id, 1))!.stages.test!.attempts).toBe(2);
  });
});
