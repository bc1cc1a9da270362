// The chaos plan: which faults, how many trials, in what order; the rows of the table.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StageName } from '@greenloop/core';
import { cancelDuring } from './faults/cancel.ts';
import { daemonizingFixer } from './faults/daemon-fixer.ts';
import { type FaultPoint, KILL_POINTS, killWorkerDuring } from './faults/kill-worker.ts';
import { redisOutageDuring, slowSuite } from './faults/redis-outage.ts';
import { shardedSuite } from './faults/sharded-suite.ts';
import { slowDeploy } from './faults/slow-deploy.ts';
import { triggersDuringTeardown } from './faults/teardown-triggers.ts';
import { ChaosRedis } from './redis-server.ts';
import { abortCurrentTrial, runTrial, type TrialOptions, type TrialResult } from './trial.ts';

export interface ChaosOptions {
  /** kill -9 trials per kill point (6 points incl. teardown). */
  killsPerPoint: number;
  /** One more kill -9 trial for each of these points (the CI subset picks a few). */
  onlyKills?: readonly FaultPoint[];
  /** kill -9 while a fixer that setsid-daemonizes runs. */
  killFixWithDaemon: number;
  /**
   * kill -9 twice in one deploy (the retry's attempt too): BullMQ fails a job that stalled twice, and its
   * onFinalFailure must close the stage record so the loop stops with a reason instead of waiting forever.
   */
  killDeployTwice?: number;
  /** kill -9 while one shard of a suite in two shards (tests.shards) runs. */
  killShard?: number;
  /** kill -9 while an accepted fix is proven on its own deploy (fixer.proveOnDeploy, the demo-prove environment). */
  killProve?: number;
  /** One loop, two crashes: kill -9 while the deploy starts, then again while a daemonizing fixer runs (the CI subset). */
  killDeployThenDaemonFix?: number;
  /** Short Redis outages (2–6 s, 3 s lock) per stage of deploy/test/analyze/fix. */
  shortOutagesPerStage: number;
  /** Long outages: Redis down `longDownMs` during a `longTestS` test stage with greenloop's default lock (30 s). */
  longOutages: number;
  longDownMs: number;
  longTestS: number;
  /** Long outages (`longDownMs`, default lock) during each of deploy, analyze, fix and the teardown: each ends while Redis is away. */
  longOutagesPerStage?: number;
  /** Redis down 6 s in a 15 s test stage with a 3 s lock: the worker loses its lock while the suite runs. */
  lockLossOutages: number;
  /** Rounds of 20 triggers during teardown. */
  triggerRounds: number;
  /** Cancel trials per stage (deploy, test, analyze, fix, integrate). */
  cancelsPerStage: number;
  daemonFixers: number;
  /** Stop starting trials after this long (ms); the rest are reported as not run. */
  budgetMs: number;
  seed: number;
  log: (line: string) => void;
}

export const FULL: Omit<ChaosOptions, 'log'> = {
  killsPerPoint: 4,
  killFixWithDaemon: 2,
  killDeployTwice: 2,
  killShard: 2,
  killProve: 2,
  shortOutagesPerStage: 1,
  longOutages: 2,
  longDownMs: 35_000,
  longTestS: 120,
  longOutagesPerStage: 1,
  lockLossOutages: 2,
  triggerRounds: 10,
  cancelsPerStage: 1,
  daemonFixers: 3,
  budgetMs: 90 * 60_000,
  seed: 1,
};

export interface ChaosRow {
  fault: string;
  trials: number;
  green: number;
  duplicateDeploys: number;
  orphans: number;
  lostRecords: number;
  stuckClaims: number;
  notes: string[];
}

/** A small deterministic generator, so a seed replays the same kill points. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Plan = { group: string; opts: Omit<TrialOptions, 'redis' | 'log'>; inject: Parameters<typeof runTrial>[1] }[];

function plan(o: ChaosOptions): Plan {
  const random = mulberry32(o.seed);
  const p: Plan = [];
  for (let i = 0; i < o.killsPerPoint; i++)
    for (const point of KILL_POINTS)
      p.push({ group: 'kill -9 worker (every stage + teardown)', opts: { fault: `kill-${point}` }, inject: (t) => killWorkerDuring(t, point, random) });
  for (const point of o.onlyKills ?? [])
    p.push({ group: `kill -9 worker during ${point}`, opts: { fault: `kill-${point}` }, inject: (t) => killWorkerDuring(t, point, random) });
  for (let i = 0; i < o.killFixWithDaemon; i++)
    p.push({
      group: 'kill -9 worker while a daemonizing fixer runs',
      opts: { fault: 'kill-fix-daemon', prepareRepo: daemonizingFixer },
      inject: (t) => killWorkerDuring(t, 'fix', random, 300),
    });
  for (let i = 0; i < (o.killDeployTwice ?? 0); i++)
    p.push({
      group: 'kill -9 worker twice in one deploy (the job fails for good)',
      // The service waits 3 s before it starts: both kills land inside an attempt of the same deploy.
      opts: {
        fault: 'kill-deploy-twice',
        expect: { stopped: 'deploy-failed' },
        prepareRepo: slowDeploy(3),
        check: async (t) => {
          const loop = await t.store.getLoop(t.loopId);
          const deploy = await t.store.getStage(t.loopId, 1, 'deploy');
          const problems: string[] = [];
          if (!/the deploy job failed for good: job stalled more than allowable limit/.test(loop?.stop?.message ?? ''))
            problems.push(`stop message "${loop?.stop?.message}" does not give the job's final failure`);
          if (deploy?.status !== 'failed') problems.push(`the deploy record is ${deploy?.status ?? 'missing'}, not failed`);
          return problems;
        },
      },
      inject: async (t) => {
        await killWorkerDuring(t, 'deploy', random, 2500);
        await killWorkerDuring(t, 'deploy', random, 2500);
      },
    });
  for (let i = 0; i < (o.killShard ?? 0); i++)
    p.push({
      group: 'kill -9 worker while a shard runs (tests.shards: 2)',
      opts: { fault: 'kill-shard', prepareRepo: shardedSuite(2) },
      inject: (t) => killWorkerDuring(t, 'shard', random, 800),
    });
  for (let i = 0; i < (o.killProve ?? 0); i++)
    p.push({
      group: 'kill -9 worker while a fix is proven on its own deploy (proveOnDeploy)',
      opts: { fault: 'kill-prove', environment: 'demo-prove' },
      inject: (t) => killWorkerDuring(t, 'prove', random, 2000),
    });
  for (let i = 0; i < (o.killDeployThenDaemonFix ?? 0); i++)
    p.push({
      group: 'kill -9 worker during deploy, then during a daemonizing fixer',
      opts: { fault: 'kill-deploy-then-fix-daemon', prepareRepo: daemonizingFixer },
      inject: async (t) => {
        await killWorkerDuring(t, 'deploy', random, 800);
        await killWorkerDuring(t, 'fix', random, 300);
      },
    });
  const outageStages: StageName[] = ['deploy', 'test', 'analyze', 'fix'];
  for (let i = 0; i < o.shortOutagesPerStage; i++)
    for (const stage of outageStages) {
      const down = 2000 + Math.floor(random() * 4000);
      p.push({
        group: 'redis restart 2–6 s, short stages (3 s lock)',
        opts: { fault: `redis-${stage}-${down}ms` },
        inject: (t) => redisOutageDuring(t, stage, down, Math.floor(random() * 500)),
      });
    }
  for (let i = 0; i < o.longOutages; i++) {
    const suite = slowSuite(o.longTestS);
    p.push({
      group: `redis down ${o.longDownMs / 1000} s in a ${o.longTestS} s test stage (default 30 s lock)`,
      opts: { fault: 'redis-long', lock: 'default', timeoutMs: (o.longTestS + o.longDownMs / 1000) * 1000 + 300_000, ...suite },
      inject: (t) => redisOutageDuring(t, 'test', o.longDownMs, 10_000),
    });
  }
  for (let i = 0; i < (o.longOutagesPerStage ?? 0); i++)
    for (const point of ['deploy', 'analyze', 'fix', 'teardown'] as const)
      p.push({
        group: `redis down ${o.longDownMs / 1000} s during deploy, analyze, fix, teardown (default 30 s lock)`,
        opts: { fault: `redis-long-${point}`, lock: 'default', timeoutMs: o.longDownMs + 300_000, releaseWithinMs: o.longDownMs + 60_000 },
        inject: (t) => redisOutageDuring(t, point, o.longDownMs, Math.floor(random() * (point === 'teardown' ? 300 : 500))),
      });
  for (let i = 0; i < o.lockLossOutages; i++) {
    const suite = slowSuite(15);
    p.push({
      group: 'redis down 6 s in a 15 s test stage (3 s lock: the lock is lost)',
      opts: { fault: 'redis-lock-loss', ...suite },
      inject: (t) => redisOutageDuring(t, 'test', 6000, 3000),
    });
  }
  for (let i = 0; i < o.triggerRounds; i++)
    p.push({
      group: '20 triggers during teardown (of a loop cancelled after its deploy)',
      opts: { fault: 'triggers-teardown', expect: 'cancelled' },
      inject: (t) => triggersDuringTeardown(t, { cancelAfterDeploy: true }),
    });
  const cancelStages: StageName[] = ['deploy', 'test', 'analyze', 'fix', 'integrate'];
  for (let i = 0; i < o.cancelsPerStage; i++)
    for (const stage of cancelStages)
      p.push({ group: 'cancel during every stage', opts: { fault: `cancel-${stage}`, expect: 'cancelled' }, inject: (t) => cancelDuring(t, stage, random) });
  for (let i = 0; i < o.daemonFixers; i++)
    p.push({ group: 'fixer that setsid-daemonizes', opts: { fault: 'daemon-fixer', prepareRepo: daemonizingFixer }, inject: async () => {} });
  return p;
}

let running: ChaosRedis | undefined;

/** Ends the trial in progress and the suite's redis-server (a signal, or a test runner's timeout). */
export async function abortChaos(): Promise<void> {
  abortCurrentTrial();
  await running?.stop();
}

/** Runs the plan against a redis-server of its own; returns one row per fault group. */
export async function runChaos(o: ChaosOptions): Promise<{ rows: ChaosRow[]; results: TrialResult[]; notRun: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'greenloop-chaos-redis-'));
  const redis = await ChaosRedis.start(dir);
  const rows = new Map<string, ChaosRow>();
  const results: TrialResult[] = [];
  const started = Date.now();
  let notRun = 0;
  running = redis;
  const onSignal = () => {
    void abortChaos().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const trials = plan(o);
    for (const [i, trial] of trials.entries()) {
      if (Date.now() - started > o.budgetMs) {
        notRun = trials.length - i;
        o.log(`time budget spent: ${notRun} trial(s) not run`);
        break;
      }
      if (!(await redis.pings())) await redis.up();
      const r = await runTrial({ ...trial.opts, redis, log: o.log }, trial.inject);
      results.push(r);
      const row = rows.get(trial.group) ?? {
        fault: trial.group,
        trials: 0,
        green: 0,
        duplicateDeploys: 0,
        orphans: 0,
        lostRecords: 0,
        stuckClaims: 0,
        notes: [],
      };
      row.trials++;
      if (r.ok) row.green++;
      row.duplicateDeploys += r.duplicateDeploys;
      row.orphans += r.orphans;
      row.lostRecords += r.lostRecords;
      row.stuckClaims += r.stuckClaims;
      if (r.notes.length) row.notes.push(`${r.fault}: ${r.notes.join('; ')}`);
      rows.set(trial.group, row);
      o.log(
        `${i + 1}/${trials.length} ${r.fault}: ${r.ok ? 'ok' : 'NOT OK'} in ${Math.round(r.durationMs / 1000)} s` +
          ` dup=${r.duplicateDeploys} orphans=${r.orphans} lost=${r.lostRecords} stuck=${r.stuckClaims}${r.notes.length ? ` — ${r.notes.join('; ')}` : ''}`,
      );
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    running = undefined;
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return { rows: [...rows.values()], results, notRun };
}

/** The table, as markdown. "green" counts trials that ended with the expected verdict (cancelled for cancel trials). */
export function renderTable(rows: readonly ChaosRow[]): string {
  const head = ['fault', 'trials', 'green', 'duplicate deploys', 'orphan processes', 'lost records', 'stuck claims'];
  const lines = rows.map((r) => [r.fault, r.trials, r.green, r.duplicateDeploys, r.orphans, r.lostRecords, r.stuckClaims].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  return [fmt(head), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...lines.map(fmt)].join('\n');
}
