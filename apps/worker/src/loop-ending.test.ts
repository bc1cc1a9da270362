// The engine's promises about ending a loop, with a real worker, Redis, git and child processes:
// teardown completes after a crash between verdict and release; cancel leaves no stage `running`; a
// controller that fails for good records the loop failed and releases its environment.
import { execFileSync, spawn } from 'node:child_process';
import { addJob, type LoopRecord, type Queues, startLoop } from '@greenloop/core';
import { ANALYZED } from '@greenloop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoHarness, inProcessWorker } from '../../../test/demo-harness.ts';
import { isAlive } from './process/run-command.ts';
import { until } from './test-support/until.ts';

describe('ending a loop (real worker)', () => {
  const h = demoHarness();
  let worker: Awaited<ReturnType<typeof inProcessWorker>> | undefined;
  let queues: Queues;
  beforeAll(async () => {
    worker = await inProcessWorker(h);
    queues = worker.queues;
  });
  afterAll(async () => {
    await worker?.close();
    await h.cleanup();
  });

  it('a controller replayed after a crash between verdict and release completes the teardown', async () => {
    const id = 'mtear0-00000001';
    expect((await h.store.claimEnvironment('demo', id)).claimed).toBe(true);
    // What a worker killed right after recording the verdict of a cancelled loop leaves behind: a
    // service still running, the fix stage `running` with one of two outcomes recorded, the claim held.
    const service = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    const pid = service.pid as number;
    const now = new Date().toISOString();
    await h.store.saveCycle({ loopId: id, n: 1, commit: 'c0ffee', startedAt: now, stages: {} });
    const svc = { service: 'api', provider: 'local', url: 'http://127.0.0.1:1', revision: `local-${pid}`, readyAt: now, pid } as const;
    await h.store.saveStage(id, 1, { stage: 'deploy', status: 'succeeded', startedAt: now, attempts: 1, result: { services: [svc] } });
    await h.store.saveStage(id, 1, {
      stage: 'fix',
      status: 'running',
      startedAt: now,
      attempts: 1,
      result: { planned: ['aaaa1111', 'bbbb2222'], skipped: [], results: [] },
    });
    await h.store.putFixOutcome(id, 1, { fingerprint: 'aaaa1111', outcome: 'rejected', attempts: 1 });
    const verdict: LoopRecord = {
      id,
      environment: 'demo',
      createdAt: now,
      startedBy: { kind: 'cli', name: 'test' },
      state: 'cancelled',
      cycle: 1,
      stop: { rule: 'cancelled', message: 'cancelled on request' },
      finishedAt: now,
      teardown: 'pending',
    };
    await h.store.createLoop(verdict);
    expect(await h.store.activeLoop('demo')).toBe(id);

    // The replay: the controller job (stalled by the crash) runs again.
    await addJob(queues, 'loop.run', { loopId: id }, { jobId: id });
    await until('teardown done', async () => (await h.store.getLoop(id))?.teardown === 'done');
    expect(await h.store.activeLoop('demo')).toBeUndefined();
    await until('service stopped', async () => !isAlive(pid));
    const fix = await h.store.getStage(id, 1, 'fix');
    expect(fix?.status).toBe('cancelled');
    expect(fix?.result?.results).toEqual([
      { fingerprint: 'aaaa1111', outcome: 'rejected', attempts: 1 },
      { fingerprint: 'bbbb2222', outcome: 'cancelled', reason: 'the loop was cancelled', attempts: 0 },
    ]);
    expect((await h.store.getLoop(id))?.state).toBe('cancelled');
  });

  it('a cancel that lands between the analyze stage and its recording still leaves the cycle its totals and report', async () => {
    const id = 'mcanc0-00000001';
    expect((await h.store.claimEnvironment('demo', id)).claimed).toBe(true);
    const now = new Date().toISOString();
    const analyzed = ANALYZED;
    await h.store.createLoop({ id, environment: 'demo', createdAt: now, startedAt: now, startedBy: { kind: 'cli', name: 'test' }, state: 'running', cycle: 1 });
    await h.store.saveCycle({ loopId: id, n: 1, commit: 'c0ffee', startedAt: now, stages: {} });
    await h.store.saveStage(id, 1, { stage: 'analyze', status: 'succeeded', startedAt: now, finishedAt: now, attempts: 1, result: analyzed });
    await h.store.requestCancel(id);

    await addJob(queues, 'loop.run', { loopId: id }, { jobId: id });
    await until('loop cancelled and torn down', async () => (await h.store.getLoop(id))?.teardown === 'done');
    expect((await h.store.getLoop(id))?.state).toBe('cancelled');
    const cycle = await h.store.getCycle(id, 1);
    expect(cycle?.totals).toEqual(analyzed.totals);
    expect(cycle?.report).toEqual(analyzed.report);
  });

  it('a controller that fails its last attempt records the loop failed and releases the environment', async () => {
    // An unborn branch: HEAD names no commit, so the controller cannot begin.
    execFileSync('git', ['checkout', '-q', '--orphan', 'unborn'], { cwd: h.repo });
    try {
      const loopId = 'mfail0-00000001';
      const claim = await h.store.claimEnvironment('demo', loopId);
      expect(claim.claimed).toBe(true);
      await h.store.createLoop({
        id: loopId,
        environment: 'demo',
        state: 'queued',
        createdAt: new Date().toISOString(),
        startedBy: { kind: 'cli', name: 'test' },
        cycle: 0,
      });
      await addJob(queues, 'loop.run', { loopId }, { jobId: loopId, attempts: 1 });
      const loop = await until('loop failed', async () => {
        const l = await h.store.getLoop(loopId);
        return l?.state === 'failed' && l.teardown === 'done' ? l : undefined;
      });
      expect(loop.stop?.rule).toBe('stage-error');
      expect(loop.stop?.message).toMatch(/^the loop controller failed: /);
      expect(await h.store.activeLoop('demo')).toBeUndefined();
      // The environment takes a new loop again.
      const next = await startLoop({ store: h.store, queues }, { environment: 'demo', actor: { kind: 'cli', name: 'test' } });
      expect(next.kind).toBe('created');
      if (next.kind === 'created') await h.store.releaseEnvironment('demo', next.loop.id);
    } finally {
      execFileSync('git', ['checkout', '-q', '-f', 'main'], { cwd: h.repo });
    }
  });
});
