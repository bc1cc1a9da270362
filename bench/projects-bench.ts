// What projects add to the paths they touch, on a real Redis: (1) ProjectStore.loopSource, which every
// POST /v1/loops and schedule firing of a `<project>/<environment>` runs (the project's record plus the
// worker registry, for the rolling-upgrade guard), with 3 and 50 live workers; (2) the check behind
// DELETE /v1/projects/:name (a SCAN for the project's environment claims), with N other keys in Redis.
// Prints medians.
//   REDIS_URL=redis://127.0.0.1:6379 node bench/projects-bench.ts [otherKeys=20000]
// (`npm run bench -- projects` runs it with the defaults.)
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { LoopStore, PROJECTS_CAPABILITY, ProjectStore, Redis, registerWorker, type WorkerRegistration } from '@greenloop/core';
import { figure } from './figure.ts';

async function median(runs: number, fn: () => Promise<unknown>): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b)[Math.floor(runs / 2)] as number;
}

export async function main(otherKeys = 20_000): Promise<void> {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
  const store = new LoopStore(redis, `glbench-projects-${randomBytes(4).toString('hex')}`);
  const projects = new ProjectStore(store);
  const workers: WorkerRegistration[] = [];
  try {
    await projects.create({ name: 'shop', remote: 'git@github.com:acme/shop.git', credentialsSecret: 'SHOP_DEPLOY_KEY' }, 'bench');
    for (const count of [3, 50]) {
      while (workers.length < count) {
        const w = registerWorker(redis, store.prefix, {
          id: `w${workers.length}`,
          capacity: { loops: 50 },
          artifacts: 'local:/x',
          capabilities: [PROJECTS_CAPABILITY],
        });
        await w.beat();
        workers.push(w);
      }
      const ms = await median(200, () => projects.loopSource('shop/staging'));
      console.log(`loopSource('shop/staging') with ${count} live workers: median ${ms.toFixed(3)} ms (a short name: no Redis call)`);
      figure(`projects.loop-source.${count}-workers`, ms, 'ms');
    }

    for (let i = 0; i < otherKeys; i += 1000) {
      const tx = redis.pipeline();
      for (let j = i; j < Math.min(otherKeys, i + 1000); j++) tx.set(store.key('filler', j), '1');
      await tx.exec();
    }
    for (let i = 0; i < 20; i++) await store.claimEnvironment(i % 2 ? `shop/env${i}` : `other/env${i}`, `loop-${i}`);
    const dbsize = await redis.dbsize();
    const ms = await median(20, () => projects.activeLoops('shop'));
    console.log(`activeLoops('shop') (the DELETE check), ${dbsize} keys in this Redis: median ${ms.toFixed(1)} ms`);
    figure('projects.delete-check', ms, 'ms', `(${dbsize}-keys)`);
  } finally {
    for (const w of workers) await w.stop();
    await store.clearAll();
    redis.disconnect();
  }
}

if (import.meta.main) await main(Number(process.argv[2] ?? 20_000));
