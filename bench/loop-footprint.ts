// What one demo loop leaves behind, as the retention pass measures it: Redis keys and bytes (MEMORY
// USAGE), artifact bytes, branches. Runs N demo loops end to end (real worker, Redis, git, services),
// then a dry-run retention pass as if 31 days had gone by.
//   REDIS_URL=redis://127.0.0.1:6379 node bench/loop-footprint.ts [loops=3]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pruneFinishedLoops } from '@greenloop/worker';
import { createDemoRepo } from '../apps/cli/src/demo-repo.ts';
import { startBenchWorker } from './bench-worker.ts';

const loops = Number(process.argv[2] ?? 3);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const dir = mkdtempSync(join(tmpdir(), 'gl-footprint-'));
const repo = createDemoRepo(join(dir, 'repo')) && join(dir, 'repo');
const bench = await startBenchWorker({ redisUrl, dir, repo, prefix: 'glfoot' });
const { env, store } = bench;
try {
  for (let i = 0; i < loops; i++) await bench.runLoop('demo', 'footprint');
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
  await bench.close();
}
