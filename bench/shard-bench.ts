/**
 * Sharding: wall time of the test stage for a bundled I/O-bound suite of 200 tests (20 node --test files of
 * 10, each test waiting ~50 ms on the service through the recording proxy), with 4 shards ÷ with 1 shard.
 * Run: `node bench/shard-bench.ts [rounds=2]` (REDIS_URL, else a Redis on 127.0.0.1:6379).
 *
 * One worker, one repository, two environments (`one`, `four`) differing only in tests.shards; the loops
 * alternate round by round so machine load hits both alike. The figure is the median 4-shard test stage
 * over the median 1-shard one (the stage record's start to finish: planning, shard jobs, proxies, runner
 * start-up and the merge included). Prints the load average too: on a shared machine, read it with it.
 */
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createShardSuiteRepo, SHARD_FILES_COMMAND } from '../test/fixtures/shard-suite.ts';
import { startBenchWorker } from './bench-worker.ts';
import { figure } from './figure.ts';

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export async function main(rounds = 2): Promise<void> {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const dir = mkdtempSync(join(tmpdir(), 'gl-shard-bench-'));
  const repo = join(dir, 'repo');
  createShardSuiteRepo(repo, {
    runner: 'node',
    files: 20,
    testsPerFile: 10,
    waitMs: 50,
    environments: {
      one: { command: SHARD_FILES_COMMAND.node, shards: 1, failedFirst: false },
      four: { command: SHARD_FILES_COMMAND.node, shards: 4, failedFirst: false },
    },
  });
  const bench = await startBenchWorker({ redisUrl, dir, repo, prefix: 'glshard' });
  const { store } = bench;
  const times: Record<'one' | 'four', number[]> = { one: [], four: [] };
  try {
    for (let r = 0; r < rounds; r++) {
      for (const environment of r % 2 ? (['four', 'one'] as const) : (['one', 'four'] as const)) {
        const { loop } = await bench.runLoop(environment, 'shard-bench');
        const test = await store.getStage(loop.id, 1, 'test');
        const total = (await store.getStage(loop.id, 1, 'analyze'))?.result?.totals.total;
        if (test?.status !== 'succeeded' || !test.finishedAt || total !== 200) {
          throw new Error(`${environment}: the test stage ${test?.status} with ${total} tests (${test?.error?.message ?? test?.summary})`);
        }
        const ms = Date.parse(test.finishedAt) - Date.parse(test.startedAt);
        times[environment].push(ms);
        const runs = test.result?.shards?.map((x) => x.durationMs ?? 0) ?? [
          Date.parse(test.result?.finishedAt ?? '') - Date.parse(test.result?.startedAt ?? ''),
        ];
        const slowest = Math.max(...runs);
        console.log(
          `round ${r + 1}: ${environment === 'one' ? '1 shard ' : '4 shards'} test stage ${(ms / 1000).toFixed(2)} s (runner processes ${runs.map((x) => (x / 1000).toFixed(2)).join(', ')} s; stage − slowest ${((ms - slowest) / 1000).toFixed(2)} s)`,
        );
      }
    }
  } finally {
    await bench.close();
  }
  const one = median(times.one);
  const four = median(times.four);
  console.log(
    `200 tests × 50 ms: 1 shard ${(one / 1000).toFixed(2)} s, 4 shards ${(four / 1000).toFixed(2)} s (median of ${rounds}); load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  figure('shards.4v1', Number((four / one).toFixed(3)), 'ratio', 'goal<=0.30');
}

if (import.meta.url === `file://${process.argv[1]}`) await main(Number(process.argv[2] ?? 2));
