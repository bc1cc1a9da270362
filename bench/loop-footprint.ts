// What one demo loop leaves behind, as the retention pass measures it: Redis keys and bytes (MEMORY
// USAGE), artifact bytes, branches. Runs N demo loops end to end (real worker, Redis, git, services),
// then a dry-run retention pass as if 31 days had gone by.
//   REDIS_URL=redis://127.0.0.1:6379 node bench/loop-footprint.ts [loops=3]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeQueues, createLogger, createQueues, LoopStore, Redis, readEnv, startLoop, TERMINAL_STATES } from '@greenloop/core';
import { pruneFinishedLoops, startWorker } from '@greenloop/worker';
import { createDemoRepo } from '../apps/cli/src/demo-repo.ts';

const loops = Number(process.argv[2] ?? 3);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const dir = mkdtempSync(join(tmpdir(), 'gl-footprint-'));
const repo = createDemoRepo(join(dir, 'repo')) && join(dir, 'repo');
const env = readEnv({
  REDIS_URL: redisUrl,
  GREENLOOP_HOME: join(dir, 'home'),
  GREENLOOP_REPO: repo,
  GREENLOOP_PREFIX: `glfoot-${Date.now().toString(36)}`,
  LOG_LEVEL: 'warn',
});
const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
const store = new LoopStore(redis, env.GREENLOOP_PREFIX);
const worker = await startWorker(env, createLogger('bench', 'warn'), redisUrl, { PATH: process.env.PATH, HOME: process.env.HOME });
const queues = createQueues(redis, env.GREENLOOP_PREFIX);
try {
  for (let i = 0; i < loops; i++) {
    const out = await startLoop({ store, queues }, { environment: 'demo', actor: { kind: 'cli', name: 'footprint' } });
    if (out.kind !== 'created') throw new Error(`loop ${i}: ${out.kind}`);
    for (;;) {
      const l = await store.getLoop(out.loop.id);
      if (l && TERMINAL_STATES.includes(l.state) && (await store.activeLoop('demo')) !== l.id) break;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const report = await pruneFinishedLoops({ store, repo, home: env.home, retentionMs: 30 * 86_400_000, dryRun: true, now: Date.now() + 31 * 86_400_000 });
  const rows = report.loops.map((l) => ({
    loop: l.id,
    state: l.state,
    redisKeys: l.redisKeys,
    redisKB: +(l.redisBytes / 1024).toFixed(1),
    artifactKB: +(l.artifactBytes / 1024).toFixed(1),
    branches: l.branches.length,
  }));
  console.table(rows);
  const avg = (f: (r: (typeof rows)[number]) => number) => (rows.reduce((s, r) => s + f(r), 0) / rows.length).toFixed(1);
  console.log(
    `per loop (mean of ${rows.length}): ${avg((r) => r.redisKeys)} Redis keys, ${avg((r) => r.redisKB)} KB in Redis, ${avg((r) => r.artifactKB)} KB of artifacts, ${avg((r) => r.branches)} branches`,
  );
} finally {
  await closeQueues(queues);
  await worker.close();
  await store.clearAll();
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
}
