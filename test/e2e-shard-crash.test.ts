// End-to-end: kill -9 the worker while the shards of a sharded suite run; a new worker takes over the test
// stage (same plan) and the shard jobs (their earlier attempts ended), and the merged run is complete.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoopStore } from '@greenloop/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { isolatedEnv, startLoopDirect, waitForEnd, waitForEvent, workerProcesses } from './demo-harness.ts';
import { createShardSuiteRepo, SHARD_FILES_COMMAND } from './fixtures/shard-suite.ts';

describe('e2e: worker crash while shards run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'greenloop-shard-crash-'));
  const repo = join(dir, 'repo');
  // 2 shards × 2 files × 2 tests of 600 ms: a window of ~2.5 s inside the shards to kill the worker.
  createShardSuiteRepo(repo, {
    runner: 'node',
    files: 4,
    testsPerFile: 2,
    waitMs: 600,
    environments: { crash: { command: SHARD_FILES_COMMAND.node, shards: 2 } },
  });
  const { env, redisUrl, prefix } = isolatedEnv(dir, repo, { GREENLOOP_LOCK_DURATION: '3s', GREENLOOP_STALLED_INTERVAL: '1s' });
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const store = new LoopStore(redis, prefix);
  const workers = workerProcesses({
    redisUrl,
    home: env.home,
    repo,
    prefix,
    logLevel: 'error',
    extra: { GREENLOOP_LOCK_DURATION: '3s', GREENLOOP_STALLED_INTERVAL: '1s' },
  });
  afterAll(async () => {
    workers.killAll();
    await store.clearAll();
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reruns the shards a dead worker held and merges a complete run', { timeout: 120_000 }, async () => {
    const first = workers.start();
    const id = await startLoopDirect(store, prefix, 'crash', 'shard-crash');

    const running = await waitForEvent(store, id, (e) => /^shard 2\/2: running /.test(e.message), 60_000);
    let killed = false;
    if (running) {
      await new Promise((r) => setTimeout(r, 800));
      first.kill('SIGKILL');
      killed = true;
    }
    expect(killed).toBe(true);
    await new Promise((r) => first.once('exit', r));
    // Nothing recorded yet: the dead worker's shards were mid-run.
    expect(await redis.hlen(`${prefix}:loop:${id}:shards`)).toBe(1);

    workers.start();
    const loop = await waitForEnd(store, id, 90_000);
    expect(loop?.state, JSON.stringify(loop?.stop)).toBe('green');
    const t = (await store.getStage(id, 1, 'test'))?.result;
    expect(t?.shards?.map((s) => s.status)).toEqual(['finished', 'finished']);
    expect((await store.getStage(id, 1, 'analyze'))?.result?.totals).toMatchObject({ total: 8, passed: 8 });
  });
});
