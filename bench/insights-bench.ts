/**
 * Insights benchmark: how long GET /v1/insights/{clusters,flaky} take to compute from the loop records
 * (they read the newest N loops' cycles on every request; nothing is precomputed). Run:
 * `node bench/insights-bench.ts` (uses REDIS_URL, a Redis on 127.0.0.1:6379, or starts one). Writes
 * 200 loops × 3 analyzed cycles (5 clusters, 20 failing and 3 flaky tests per cycle) under a fresh
 * prefix, deleted at the end, and prints the median of 5 reads for 30 loops (the default) and 200 (the
 * maximum). Figures, never pass/fail.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnalyzeStageResult, ClusterSummary, LoopRecord } from '@greenloop/core';
import { createLogger, LoopStore, Redis, resolveRedis } from '@greenloop/core';
import { clusterHistories } from '../apps/api/src/routes/insights/clusters.ts';
import { flakyTests } from '../apps/api/src/routes/insights/flaky.ts';
import { readHistory } from '../apps/api/src/routes/insights/history.ts';
import { figure } from './figure.ts';

const LOOPS = 200;
const CYCLES = 3;

function cluster(i: number): ClusterSummary {
  return {
    fingerprint: `fp${String(i).padStart(10, '0')}`,
    title: `Cluster ${i}`,
    triage: 'server-error',
    status: 'new',
    tests: [`t${i}a`, `t${i}b`],
    sampleMessage: 'boom',
    endpoints: [],
  };
}

async function write(store: LoopStore): Promise<void> {
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  for (let l = 0; l < LOOPS; l++) {
    const id = `bench-${String(l).padStart(6, '0')}`;
    const startedAt = new Date(t0 + l * 86_400_000).toISOString();
    const loop: LoopRecord = {
      id,
      environment: l % 2 ? 'staging' : 'production',
      state: 'stopped',
      createdAt: startedAt,
      startedAt,
      startedBy: { kind: 'schedule', name: 'nightly' },
      cycle: CYCLES,
    };
    await store.createLoop(loop);
    for (let n = 1; n <= CYCLES; n++) {
      const at = new Date(Date.parse(startedAt) + n * 60_000).toISOString();
      const clusters = Array.from({ length: 5 }, (_, k) => cluster((l * 7 + n * 3 + k) % 60));
      const result: AnalyzeStageResult = {
        green: false,
        totals: { total: 500, passed: 477, failed: 20, skipped: 3, durationMs: 1000 },
        realness: { real: true, reasons: [] },
        clusters,
        fixed: [],
        flaky: Array.from({ length: 3 }, (_, k) => `flaky-${(l + k) % 40}`),
        failingTests: Array.from({ length: 20 }, (_, k) => `t${(l + k) % 120}`),
        report: { markdown: '/r.md', json: '/r.json' },
        clusterFiles: {},
        testStatusesFile: '/s.json',
      };
      await store.saveCycle({ loopId: id, n, commit: 'c'.repeat(40), startedAt: at, finishedAt: at, stages: {} });
      await store.saveStage(id, n, { stage: 'analyze', status: 'succeeded', startedAt: at, finishedAt: at, attempts: 1, result });
    }
  }
}

async function median(fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[2] as number;
}

export async function main(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'greenloop-insights-bench-'));
  const log = createLogger('bench', 'warn');
  const redisInfo = await resolveRedis({ ...(process.env.REDIS_URL ? { redisUrl: process.env.REDIS_URL } : {}), home, log });
  const prefix = `glbench-${randomBytes(4).toString('hex')}`;
  const redis = new Redis(redisInfo.url, { maxRetriesPerRequest: null });
  const store = new LoopStore(redis, prefix);
  try {
    await write(store);
    for (const loops of [30, 200]) {
      const read = await median(() => readHistory(store, { loops }));
      const { loops: history } = await readHistory(store, { loops });
      const clusters = await median(async () => clusterHistories(history));
      const flaky = await median(async () => flakyTests(history));
      console.log(
        `${loops} loops × ${CYCLES} cycles: read ${read.toFixed(1)} ms, clusters ${clusters.toFixed(2)} ms (${clusterHistories(history).length}), flaky ${flaky.toFixed(2)} ms (${flakyTests(history).length})`,
      );
      figure(`insights.${loops}.read`, read, 'ms');
      figure(`insights.${loops}.clusters`, clusters, 'ms');
      figure(`insights.${loops}.flaky`, flaky, 'ms');
    }
  } finally {
    await store.clearAll();
    redis.disconnect();
    await redisInfo.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

if (import.meta.main) await main();
