// End-to-end: a suite split into shards (each its own job and evidence directory, merged into one
// analysis), the tests that failed last cycle run first, and a suite that times out still yields what
// finished — on node --test and on pytest, with a real worker, Redis, local service and sandbox.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeQueues, createLogger, createQueues, LoopStore, startLoop, TERMINAL_STATES } from '@greenloop/core';
import { startWorker } from '@greenloop/worker';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { isolatedEnv } from './demo-harness.ts';
import { createShardSuiteRepo, SHARD_FILES_COMMAND, type ShardSuiteOptions } from './fixtures/shard-suite.ts';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

async function runLoop(o: ShardSuiteOptions, environment: string) {
  const dir = mkdtempSync(join(tmpdir(), 'greenloop-shards-'));
  const repo = join(dir, 'repo');
  createShardSuiteRepo(repo, o);
  const { env, redisUrl, prefix } = isolatedEnv(dir, repo);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const store = new LoopStore(redis, prefix);
  cleanups.push(async () => {
    await store.clearAll();
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });
  const events: string[] = [];
  const worker = await startWorker(env, createLogger('e2e', 'silent'), redisUrl, { ...process.env });
  const queues = createQueues(redis, prefix);
  try {
    const out = await startLoop({ store, queues }, { environment, actor: { kind: 'cli', name: 'shards' } });
    if (out.kind !== 'created') throw new Error(out.kind);
    const deadline = Date.now() + 150_000;
    for (;;) {
      const loop = await store.getLoop(out.loop.id);
      if (loop && TERMINAL_STATES.includes(loop.state) && (await store.activeLoop(environment)) !== loop.id) break;
      if (Date.now() > deadline) throw new Error(`loop did not end: ${JSON.stringify(loop)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const e of await store.readEvents(out.loop.id, '0', { count: 5000 })) events.push(e.message);
    const loop = await store.getLoop(out.loop.id);
    if (!loop) throw new Error('loop vanished');
    return { loop, store, events };
  } finally {
    await closeQueues(queues);
    await worker.close();
  }
}

describe('e2e: sharded suites, failing tests first, partial results', () => {
  it('node --test: 3 shards merged into one analysis; cycle 2 balances by history and runs the failed file first', { timeout: 180_000 }, async () => {
    const { loop, store, events } = await runLoop(
      {
        runner: 'node',
        files: 6,
        testsPerFile: 3,
        waitMs: 30,
        failing: ['f4_t1'],
        environments: { shards: { command: SHARD_FILES_COMMAND.node, shards: 3, rerun: { preset: 'node-test', times: 1 } } },
        loop: { maxCycles: 2 },
      },
      'shards',
    );
    expect(loop.cycle, JSON.stringify(loop.stop)).toBe(2);
    const c1 = (await store.getStage(loop.id, 1, 'test'))?.result;
    expect(c1?.shards?.map((s) => s.status)).toEqual(['finished', 'finished', 'finished']);
    // Each shard its own evidence directory, two files each (6 files, equal weights on the first run).
    expect(c1?.shards?.map((s) => s.files?.length)).toEqual([2, 2, 2]);
    expect(new Set(c1?.shards?.map((s) => s.dir)).size).toBe(3);
    expect(c1?.junitFiles).toHaveLength(3);
    // One analysis over every shard: 18 tests, the one failure found; every shard's requests recorded.
    const a1 = (await store.getStage(loop.id, 1, 'analyze'))?.result;
    expect(a1?.totals).toMatchObject({ total: 18, failed: 1, passed: 17 });
    expect(a1?.failingTests.some((t) => t.includes('f4_t1'))).toBe(true);
    const requests = readFileSync(join(c1?.stdoutFile ?? '', '..', 'requests.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(requests.length).toBeGreaterThanOrEqual(18);
    expect(events.some((m) => /split into 3 shards .*by count \(no history yet\)/.test(m))).toBe(true);
    // The rerun of the merged failures gets the failed test's file for {{shardFiles}}: one testcase, no skipped others.
    expect(c1?.rerunJunitFiles).toHaveLength(1);
    expect(readFileSync(c1?.rerunJunitFiles?.[0] ?? '', 'utf8').match(/<testcase /g)).toHaveLength(1);

    // Cycle 2: the history balances the split, and the file that failed runs first, on its own.
    expect(events.some((m) => /split into 3 shards .*by their duration history/.test(m))).toBe(true);
    const c2 = (await store.getStage(loop.id, 2, 'test'))?.result;
    const withFailed = c2?.shards?.find((s) => s.files?.includes('tests/s004.test.js'));
    expect(withFailed?.files?.[0]).toBe('tests/s004.test.js');
    expect(existsSync(join(withFailed?.dir ?? '', 'first', 'junit.xml'))).toBe(true);
    expect(events.some((m) => /tests that failed last cycle ran first: 2 pass now, 1 still fail \(f4_t1\)/.test(m))).toBe(true);
    expect((await store.getStage(loop.id, 2, 'analyze'))?.result?.totals).toMatchObject({ total: 18, failed: 1 });
  });

  it("node --test --test-shard: the runner's own sharding through {{shard}}/{{shardCount}}, merged", { timeout: 180_000 }, async () => {
    const native = [
      'node',
      '--test',
      '--test-shard={{shard}}/{{shardCount}}',
      '--test-reporter=junit',
      '--test-reporter-destination={{artifacts}}/junit.xml',
      'tests/*.test.js',
    ];
    const { loop, store, events } = await runLoop(
      { runner: 'node', files: 4, testsPerFile: 2, waitMs: 10, environments: { native: { command: native, shards: 2, files: undefined } } },
      'native',
    );
    const t = (await store.getStage(loop.id, 1, 'test'))?.result;
    expect(t?.shards?.map((s) => [s.status, s.files])).toEqual([
      ['finished', undefined],
      ['finished', undefined],
    ]);
    expect(events.some((m) => /split into 2 shards \(the runner's own sharding\)/.test(m))).toBe(true);
    expect(events.some((m) => /shard 2\/2: running node --test --test-shard=2\/2 /.test(m))).toBe(true);
    // Each shard ran half the files; together, the whole suite once.
    const a = (await store.getStage(loop.id, 1, 'analyze'))?.result;
    expect(a?.totals).toMatchObject({ total: 8, passed: 8 });
    expect(loop.state).toBe('green');
  });

  it('pytest: a timed-out shard keeps what finished, a crashed one is reported, the rest are listed as not run, the third shard stands', {
    timeout: 180_000,
  }, async () => {
    const { loop, store, events } = await runLoop(
      {
        runner: 'pytest',
        files: 6,
        testsPerFile: 3,
        waitMs: 20,
        // Shards by file count: [s000, s003], [s001, s004], [s002, s005]. s001 hangs at its second test
        // (s004 never starts); s002 kills pytest at its first test (no JUnit at all).
        hanging: ['f1_t1'],
        crashing: ['f2_t0'],
        // The timeout must cover a healthy shard's pytest start-up and 6 tests on a loaded 2-core CI machine
        // (6 s did not, once, while the machine ran other builds); the hung shard waits it out either way.
        environments: { slow: { command: SHARD_FILES_COMMAND.pytest, shards: 3, timeout: '15s' } },
      },
      'slow',
    );
    const t = (await store.getStage(loop.id, 1, 'test'))?.result;
    expect(t?.timedOut).toBe(true);
    expect(t?.shards?.map((s) => [s.status, s.files])).toEqual([
      ['finished', ['tests/test_s000.py', 'tests/test_s003.py']],
      ['timed-out', ['tests/test_s001.py', 'tests/test_s004.py']],
      ['crashed', ['tests/test_s002.py', 'tests/test_s005.py']],
    ]);
    // pytest, interrupted at the timeout, wrote the test that finished before the hang: partial results, analyzed.
    const a = (await store.getStage(loop.id, 1, 'analyze'))?.result;
    // 6 of shard 1, 1 of the hung shard (the test it was interrupted in counts as not run, not passed).
    expect(a?.totals).toMatchObject({ total: 7, failed: 0 });
    expect(t?.notRun).toEqual(['tests/test_s004.py', 'tests/test_s002.py', 'tests/test_s005.py']);
    expect(events.some((m) => /TIMED OUT after 15s: partial results/.test(m))).toBe(true);
    const report = readFileSync(a?.report.markdown ?? '', 'utf8');
    expect(report).toMatch(/\*\*Not run \(3\):\*\*/);
    expect(report).toMatch(/\| 3 +\| crashed/);
  });

  it('pytest unsharded: the failed file runs first in cycle 2, and when the rest times out what finished is analyzed', { timeout: 180_000 }, async () => {
    const { loop, store, events } = await runLoop(
      {
        runner: 'pytest',
        files: 3,
        testsPerFile: 2,
        waitMs: 20,
        failing: ['f2_t0'],
        hangingInCycle: { tests: ['f1_t1'], cycle: 2 },
        environments: { one: { command: SHARD_FILES_COMMAND.pytest, timeout: '15s', rerun: { preset: 'pytest', times: 1 } } },
        loop: { maxCycles: 2 },
      },
      'one',
    );
    const c1 = (await store.getStage(loop.id, 1, 'test'))?.result;
    expect(c1?.timedOut).toBe(false);
    // The pytest rerun: the node id alone ({{shardFiles}} empty, or pytest would rerun the whole file).
    expect(readFileSync(c1?.rerunJunitFiles?.[0] ?? '', 'utf8').match(/<testcase /g)).toHaveLength(1);
    const t = (await store.getStage(loop.id, 2, 'test'))?.result;
    expect(t?.timedOut).toBe(true);
    expect(t?.shards).toBeUndefined();
    expect(events.some((m) => /^suite: tests that failed last cycle ran first: 1 pass now, 1 still fail \(test_f2_t0\)/.test(m))).toBe(true);
    // Cycle 2: the first run (test_s002, 2 tests) and the rest up to the hang (s000's 2, s001's first).
    const a = (await store.getStage(loop.id, 2, 'analyze'))?.result;
    expect(a?.totals).toMatchObject({ total: 5, failed: 1 });
    expect(t?.notRun?.length).toBe(1);
    expect(t?.notRun?.[0]).toMatch(/test_f1_t1/);
    expect(readFileSync(t?.stdoutFile ?? '', 'utf8')).toMatch(/=== greenloop: files that failed last cycle, run first \(1\) ===/);
  });
});
