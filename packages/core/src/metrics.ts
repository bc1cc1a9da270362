import type { Redis } from 'ioredis';
import type { FixOutcome, LoopState, StageName } from './domain.ts';
import { LOOP_STATES, STAGES } from './domain.ts';
import { PINNED_QUEUES, QUEUE_NAMES } from './jobs.ts';
import { PinnedQueues, pinnedWorkersKey, type Queues } from './queues.ts';
import type { Spend } from './spend.ts';
import type { LoopStore } from './store.ts';
import { listWorkers } from './worker-registry.ts';

/**
 * Metrics live in Redis, not in process memory: stages run in whichever worker picks them up, and the
 * API that serves /metrics may be another process. Histograms keep one counter per bucket (not
 * cumulative) plus sum and count in a hash, so recording is one round trip.
 */

/** Stage duration buckets in seconds: stages range from a second (analyze) to an hour (tests, fixers). */
export const STAGE_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600] as const;

const FIX_OUTCOMES: readonly FixOutcome[] = ['accepted', 'rejected', 'no-change', 'failed', 'timed-out', 'skipped', 'cancelled'];

const stageKey = (prefix: string, stage: string) => `${prefix}:metrics:stage-duration:${stage}`;
const fixKey = (prefix: string) => `${prefix}:metrics:fix-outcomes`;
const spendKey = (prefix: string) => `${prefix}:metrics:fixer-spend`;
const SPEND_FIELDS = ['usd', 'inputTokens', 'outputTokens'] as const;

/** Records how long one stage run took. Called by the worker when a stage finishes (any status). */
export async function recordStageDuration(redis: Redis, prefix: string, stage: StageName, ms: number): Promise<void> {
  const seconds = Math.max(0, ms) / 1000;
  const bucket = STAGE_DURATION_BUCKETS.find((b) => seconds <= b);
  await redis
    .multi()
    .hincrby(stageKey(prefix, stage), bucket === undefined ? 'inf' : String(bucket), 1)
    .hincrby(stageKey(prefix, stage), 'count', 1)
    .hincrbyfloat(stageKey(prefix, stage), 'sum', seconds)
    .exec();
}

/** Counts one fixer outcome. Called by the worker when a fix job ends. */
export async function recordFixOutcome(redis: Redis, prefix: string, outcome: FixOutcome): Promise<void> {
  await redis.hincrby(fixKey(prefix), outcome, 1);
}

/**
 * Adds what one fixer run reported spending to its environment's counters. Called once per recorded fix
 * outcome (and re-done fix), so a replayed job that returns its recorded outcome does not count twice.
 */
export async function recordFixerSpend(redis: Redis, prefix: string, environment: string, spend: Spend): Promise<void> {
  const tx = redis.multi();
  // Environment names are [a-z][a-z0-9-]* (config schema): "|" cannot occur in them.
  if (spend.usd) tx.hincrbyfloat(spendKey(prefix), `${environment}|usd`, spend.usd);
  if (spend.inputTokens) tx.hincrby(spendKey(prefix), `${environment}|inputTokens`, spend.inputTokens);
  if (spend.outputTokens) tx.hincrby(spendKey(prefix), `${environment}|outputTokens`, spend.outputTokens);
  await tx.exec();
}

export interface MetricsSnapshot {
  loopsByState: Record<LoopState, number>;
  queues: Record<string, Record<string, number>>;
  stageDurations: Record<string, { buckets: { le: number; count: number }[]; inf: number; sum: number; count: number }>;
  fixOutcomes: Record<string, number>;
  /** What fixers reported spending, per environment (only environments that reported something). */
  fixerSpend: Record<string, Required<Spend>>;
  /** Live workers (registry entries) per greenloop version, and the jobs they run per queue. */
  workers: { byVersion: Record<string, number>; busy: Record<string, number>; capacity: Record<string, number> };
}

/**
 * Reads everything /metrics shows. Loops by state walks the loop index in batches of 500, so a scrape
 * costs O(loops kept); fine for the thousands a team keeps, worth a counter if that ever grows.
 */
export async function readMetrics(store: LoopStore, queues: Queues): Promise<MetricsSnapshot> {
  const { redis, prefix } = store;
  const loopsByState = Object.fromEntries(LOOP_STATES.map((s) => [s, 0])) as Record<LoopState, number>;
  const total = await redis.zcard(store.key('loops'));
  for (let start = 0; start < total; start += 500) {
    const ids = await redis.zrange(store.key('loops'), start, start + 499);
    if (ids.length === 0) break;
    for (const { state } of await store.getLoops(ids)) if (state in loopsByState) loopsByState[state]++;
  }
  const queueCounts: MetricsSnapshot['queues'] = {};
  await Promise.all(
    QUEUE_NAMES.map(async (q) => {
      queueCounts[q] = await queues[q].getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized', 'waiting-children', 'paused');
    }),
  );
  // Separate disks: a loop's stage jobs wait in its worker's own copies of the queues (a dead one's too, until adopted).
  const pinned = new PinnedQueues(redis, prefix);
  try {
    for (const worker of await redis.smembers(pinnedWorkersKey(prefix)))
      for (const q of PINNED_QUEUES) {
        const counts = await pinned
          .of(q, worker)
          .getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized', 'waiting-children', 'paused');
        const into = queueCounts[q] ?? {};
        for (const [state, n] of Object.entries(counts)) into[state] = (into[state] ?? 0) + n;
        queueCounts[q] = into;
      }
  } finally {
    await pinned.close();
  }
  const pipeline = redis.pipeline();
  for (const s of STAGES) pipeline.hgetall(stageKey(prefix, s));
  pipeline.hgetall(fixKey(prefix));
  pipeline.hgetall(spendKey(prefix));
  const results = (await pipeline.exec()) ?? [];
  const stageDurations: MetricsSnapshot['stageDurations'] = {};
  STAGES.forEach((s, i) => {
    const h = (results[i]?.[1] ?? {}) as Record<string, string>;
    stageDurations[s] = {
      buckets: STAGE_DURATION_BUCKETS.map((le) => ({ le, count: Number(h[String(le)] ?? 0) })),
      inf: Number(h.inf ?? 0),
      sum: Number(h.sum ?? 0),
      count: Number(h.count ?? 0),
    };
  });
  const fixRaw = (results[STAGES.length]?.[1] ?? {}) as Record<string, string>;
  const fixOutcomes = Object.fromEntries(FIX_OUTCOMES.map((o) => [o, Number(fixRaw[o] ?? 0)]));
  const fixerSpend: MetricsSnapshot['fixerSpend'] = {};
  for (const [field, value] of Object.entries((results[STAGES.length + 1]?.[1] ?? {}) as Record<string, string>)) {
    const [env, kind] = field.split('|') as [string, string];
    if (!env || !SPEND_FIELDS.includes(kind as (typeof SPEND_FIELDS)[number])) continue;
    fixerSpend[env] ??= { usd: 0, inputTokens: 0, outputTokens: 0 };
    fixerSpend[env][kind as (typeof SPEND_FIELDS)[number]] = Number(value);
  }
  const workers: MetricsSnapshot['workers'] = { byVersion: {}, busy: {}, capacity: {} };
  for (const w of await listWorkers(redis, prefix)) {
    workers.byVersion[w.version] = (workers.byVersion[w.version] ?? 0) + 1;
    for (const [q, n] of Object.entries(w.capacity)) workers.capacity[q] = (workers.capacity[q] ?? 0) + n;
    for (const j of w.jobs) workers.busy[j.queue] = (workers.busy[j.queue] ?? 0) + 1;
  }
  return { loopsByState, queues: queueCounts, stageDurations, fixOutcomes, fixerSpend, workers };
}

/** Prometheus text exposition format (version 0.0.4). */
export function renderPrometheus(m: MetricsSnapshot): string {
  const lines: string[] = [];
  const head = (name: string, type: string, help: string) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  head('greenloop_loops', 'gauge', 'Loops by state.');
  for (const [state, n] of Object.entries(m.loopsByState)) lines.push(`greenloop_loops{state="${state}"} ${n}`);
  head('greenloop_queue_jobs', 'gauge', 'Jobs per queue and job state.');
  for (const [queue, counts] of Object.entries(m.queues)) {
    for (const [state, n] of Object.entries(counts)) lines.push(`greenloop_queue_jobs{queue="${queue}",state="${state}"} ${n}`);
  }
  head('greenloop_stage_duration_seconds', 'histogram', 'Duration of stage runs.');
  for (const [stage, h] of Object.entries(m.stageDurations)) {
    let cumulative = 0;
    for (const b of h.buckets) {
      cumulative += b.count;
      lines.push(`greenloop_stage_duration_seconds_bucket{stage="${stage}",le="${b.le}"} ${cumulative}`);
    }
    lines.push(`greenloop_stage_duration_seconds_bucket{stage="${stage}",le="+Inf"} ${cumulative + h.inf}`);
    lines.push(`greenloop_stage_duration_seconds_sum{stage="${stage}"} ${h.sum}`);
    lines.push(`greenloop_stage_duration_seconds_count{stage="${stage}"} ${h.count}`);
  }
  head('greenloop_fix_outcomes_total', 'counter', 'Fixer runs by outcome.');
  for (const [outcome, n] of Object.entries(m.fixOutcomes)) lines.push(`greenloop_fix_outcomes_total{outcome="${outcome}"} ${n}`);
  const spend = Object.entries(m.fixerSpend);
  head('greenloop_fixer_spend_usd_total', 'counter', 'US dollars fixers reported spending, by environment.');
  for (const [env, s] of spend) lines.push(`greenloop_fixer_spend_usd_total{environment="${env}"} ${s.usd}`);
  head('greenloop_fixer_input_tokens_total', 'counter', 'Input tokens fixers reported (cached ones included), by environment.');
  for (const [env, s] of spend) lines.push(`greenloop_fixer_input_tokens_total{environment="${env}"} ${s.inputTokens}`);
  head('greenloop_fixer_output_tokens_total', 'counter', 'Output tokens fixers reported, by environment.');
  for (const [env, s] of spend) lines.push(`greenloop_fixer_output_tokens_total{environment="${env}"} ${s.outputTokens}`);
  head('greenloop_workers', 'gauge', 'Live worker processes (registry heartbeats) by greenloop version.');
  for (const [version, n] of Object.entries(m.workers.byVersion)) lines.push(`greenloop_workers{version="${version.replace(/["\\\n]/g, '_')}"} ${n}`);
  head('greenloop_worker_capacity', 'gauge', 'Parallel jobs the live workers take, per queue.');
  for (const [queue, n] of Object.entries(m.workers.capacity)) lines.push(`greenloop_worker_capacity{queue="${queue}"} ${n}`);
  head('greenloop_worker_busy', 'gauge', 'Jobs the live workers run now, per queue.');
  for (const [queue, n] of Object.entries(m.workers.busy)) lines.push(`greenloop_worker_busy{queue="${queue}"} ${n}`);
  return `${lines.join('\n')}\n`;
}
