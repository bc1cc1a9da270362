// End-to-end: kill -9 the worker while the shards of a sharded suite run; a new worker takes over the test
// stage (same plan) and the shard jobs (their earlier attempts ended), and the merged run is complete.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeQueues, createQueues, type LoopEvent, LoopStore, startLoop, TERMINAL_STATES } from '@greenloop/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { isolatedEnv } from './demo-harness.ts';
import { createShardSuiteRepo, SHARD_FILES_COMMAND } from './fixtures/shard-suite.ts';

const WORKER_MAIN = fileURLToPath(new URL('../apps/worker/src/main.ts', import.meta.url));

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
  const children: ChildProcess[] = [];
  const startWorkerProcess = () => {
    const child = spawn(process.execPath, [WORKER_MAIN], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        REDIS_URL: redisUrl,
        GREENLOOP_HOME: env.home,
        GREENLOOP_REPO: repo,
        GREENLOOP_PREFIX: prefix,
        GREENLOOP_LOCK_DURATION: '3s',
        GREENLOOP_STALLED_INTERVAL: '1s',
        LOG_LEVEL: 'error',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    return child;
  };
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await store.clearAll();
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reruns the shards a dead worker held and merges a complete run', { timeout: 120_000 }, async () => {
    const first = startWorkerProcess();
    const queues = createQueues(redis, prefix);
    const out = await startLoop({ store, queues }, { environment: 'crash', actor: { kind: 'cli', name: 'shard-crash' } });
    await closeQueues(queues);
    if (out.kind !== 'created') throw new Error(`loop not created: ${out.kind}`);
    const id = out.loop.id;

    let cursor = '0';
    let killed = false;
    const deadline = Date.now() + 60_000;
    while (!killed && Date.now() < deadline) {
      const events: LoopEvent[] = await store.readEvents(id, cursor, { blockMs: 500 });
      for (const e of events) {
        cursor = e.id ?? cursor;
        if (/^shard 2\/2: running /.test(e.message)) {
          await new Promise((r) => setTimeout(r, 800));
          first.kill('SIGKILL');
          killed = true;
          break;
        }
      }
    }
    expect(killed).toBe(true);
    await new Promise((r) => first.once('exit', r));
    // Nothing recorded yet: the dead worker's shards were mid-run.
    expect(await redis.hlen(`${prefix}:loop:${id}:shards`)).toBe(1);

    startWorkerProcess();
    const end = Date.now() + 90_000;
    for (;;) {
      const loop = await store.getLoop(id);
      if (loop && TERMINAL_STATES.includes(loop.state) && (await store.activeLoop('crash')) !== id) break;
      if (Date.now() > end) throw new Error(`loop did not end: ${JSON.stringify(loop)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const loop = await store.getLoop(id);
    expect(loop?.state, JSON.stringify(loop?.stop)).toBe('green');
    const t = (await store.getStage(id, 1, 'test'))?.result;
    expect(t?.shards?.map((s) => s.status)).toEqual(['finished', 'finished']);
    expect((await store.getStage(id, 1, 'analyze'))?.result?.totals).toMatchObject({ total: 8, passed: 8 });
  });
});
