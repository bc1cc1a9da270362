// One in-process worker on real Redis for a benchmark: greenloop's settings for a scratch home under
// `dir` and the repository `repo`, a key prefix of its own, loops started as the CLI starts them and
// waited for, and a close that removes every key and the scratch directory.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { closeQueues, createLogger, createQueues, type Env, type LoopRecord, LoopStore, Redis, readEnv, startLoop, TERMINAL_STATES } from '@greenloop/core';
import { startWorker } from '@greenloop/worker';

export interface BenchWorker {
  env: Env;
  redis: Redis;
  store: LoopStore;
  /** Starts a loop on `environment` and waits until it has ended (teardown included); its record and wall time. */
  runLoop(environment: string, actorName: string): Promise<{ loop: LoopRecord; ms: number }>;
  /** Stops the worker, deletes every key under the prefix and the scratch directory. */
  close(): Promise<void>;
}

export async function startBenchWorker(opts: { redisUrl: string; dir: string; repo: string; prefix: string }): Promise<BenchWorker> {
  const env = readEnv({
    REDIS_URL: opts.redisUrl,
    GREENLOOP_HOME: join(opts.dir, 'home'),
    GREENLOOP_REPO: opts.repo,
    GREENLOOP_PREFIX: `${opts.prefix}-${Date.now().toString(36)}`,
    LOG_LEVEL: 'warn',
  });
  const redis = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
  const store = new LoopStore(redis, env.GREENLOOP_PREFIX);
  const worker = await startWorker(env, createLogger('bench', 'warn'), opts.redisUrl, { PATH: process.env.PATH, HOME: process.env.HOME });
  const queues = createQueues(redis, env.GREENLOOP_PREFIX);
  return {
    env,
    redis,
    store,
    async runLoop(environment, actorName) {
      const started = Date.now();
      const out = await startLoop({ store, queues }, { environment, actor: { kind: 'cli', name: actorName } });
      if (out.kind !== 'created') throw new Error(`${environment}: loop not created (${out.kind})`);
      for (;;) {
        const l = await store.getLoop(out.loop.id);
        if (l && TERMINAL_STATES.includes(l.state) && (await store.activeLoop(environment)) !== l.id) return { loop: l, ms: Date.now() - started };
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async close() {
      await worker.close();
      await closeQueues(queues);
      await store.clearAll();
      redis.disconnect();
      rmSync(opts.dir, { recursive: true, force: true });
    },
  };
}
