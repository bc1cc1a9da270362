// One demo cycle under greenloop (API-less start → BullMQ → deploy → test → analyze, real Redis, worker in
// this process) against the plain shell script bench/baseline-cycle.sh running the same deploy and test
// commands, in interleaved pairs (the order flips every pair, so drift and order effects hit both sides).
//   overhead.demo  median of the per-pair ratios greenloop ÷ shell, with the min–max spread  (goal ≤ 1.02)
//   cycle.floor    greenloop's cycle wall time (loop created → analysis done) ÷ the same cycle's pieces
//                  measured alone: deploy alone + suite alone (from the shell run of the same pair; the demo
//                  has one service and one shard, so they are the slowest ones) + analysis alone (the same
//                  cycle's evidence analysed again outside the worker: log pull + analyzeCycle)  (goal ≤ 1.05)
// It also prints where a cycle's time goes (median per stage and per gap between stages), which is the
// profile that points at what to take off the critical path.
// Run: node bench/overhead.ts [pairs=15]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  closeQueues,
  createConfigLoader,
  createLogger,
  createQueues,
  getEnvironment,
  LoopStore,
  readEnv,
  resolveRedis,
  startLoop,
  TERMINAL_STATES,
} from '@greenloop/core';
import { startWorker } from '@greenloop/worker';
import { Redis } from 'ioredis';
import { createDemoRepo } from '../apps/cli/src/demo-repo.ts';
import { analyzeCycle } from '../apps/worker/src/analysis/analyze-cycle.ts';
import { LocalLogSource } from '../apps/worker/src/logs/local.ts';
import { figure } from './figure.ts';

const BASELINE = fileURLToPath(new URL('./baseline-cycle.sh', import.meta.url));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** A one-cycle, no-fixer variant of the demo config: deploy → test → analyze, then stop. */
function oneCycleConfig(repo: string): void {
  const yaml = readFileSync(join(repo, 'greenloop.yaml'), 'utf8');
  const trimmed = yaml.replace(/\n {4}fixer:[\s\S]*?(?=\n {4}loop:)/, '').replace(/loop: \{[^}]*\}/, 'loop: { maxCycles: 1 }');
  writeFileSync(join(repo, 'greenloop.yaml'), trimmed);
  execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-qam', 'one cycle'], { cwd: repo });
}

/** The stretches of one greenloop cycle, in ms, in the order they happen. */
const SPANS = [
  'created→deploy',
  'deploy: to ready',
  'deploy: after',
  'deploy→test',
  'test: setup',
  'test: suite',
  'test: after',
  'test→analyze',
  'analyze',
  'analyze→verdict',
] as const;
type Span = (typeof SPANS)[number];

interface Pair {
  shellMs: number;
  greenloopMs: number;
  deployAloneMs: number;
  testAloneMs: number;
  analysisAloneMs: number;
  /** Loop created → analyze stage finished, from the worker's records. */
  cycleWallMs: number;
  spans: Partial<Record<Span, number>>;
}

export interface OverheadResult {
  pairs: number;
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  floor: number;
  floorMin: number;
  floorMax: number;
}

export async function main(pairs = 15): Promise<OverheadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'greenloop-bench-'));
  const log = createLogger('bench', 'warn');
  const redis = await resolveRedis({ redisUrl: process.env.REDIS_URL, home: dir, log, pathVar: process.env.PATH });
  const repo = join(dir, 'repo');
  createDemoRepo(repo);
  oneCycleConfig(repo);
  const prefix = `glbench-${Date.now().toString(36)}`;
  const env = readEnv({ REDIS_URL: redis.url, GREENLOOP_HOME: join(dir, 'home'), GREENLOOP_REPO: repo, GREENLOOP_PREFIX: prefix, LOG_LEVEL: 'warn' });
  const worker = await startWorker(env, log, redis.url, { ...process.env });
  const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
  const store = new LoopStore(conn, prefix);
  const queues = createQueues(conn, prefix);
  const environment = getEnvironment(await createConfigLoader(repo)(), 'demo');
  const logSource = new LocalLogSource();

  const shell = (i: number) => {
    const out = join(dir, `shell-${i}`);
    const t = performance.now();
    execFileSync('bash', [BASELINE, repo, out], { stdio: 'ignore' });
    const ms = performance.now() - t;
    const [start, ready, tested] = readFileSync(join(out, 'timings'), 'utf8').trim().split(' ').map(BigInt) as [bigint, bigint, bigint];
    return { ms, deployMs: Number(ready - start) / 1e6, testMs: Number(tested - ready) / 1e6 };
  };

  const greenloop = async () => {
    const t = performance.now();
    const out = await startLoop({ store, queues }, { environment: 'demo', actor: { kind: 'cli', name: 'bench' } });
    if (out.kind !== 'created') throw new Error(`loop not created: ${out.kind} (another loop holds the demo environment)`);
    for (;;) {
      const loop = await store.getLoop(out.loop.id);
      if (loop && TERMINAL_STATES.includes(loop.state)) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const ms = performance.now() - t;
    // The claim is released by the teardown just after the verdict; the next pair must find it free.
    while (await store.activeLoop('demo')) await new Promise((r) => setTimeout(r, 5));
    return { ms, id: out.loop.id };
  };

  /** The cycle's records: its spans, its wall time, and the inputs to analyse it again alone. */
  const profile = async (id: string) => {
    const loop = await store.getLoop(id);
    const cycle = await store.getCycle(id, 1);
    const deploy = await store.getStage(id, 1, 'deploy');
    const test = await store.getStage(id, 1, 'test');
    const analyze = await store.getStage(id, 1, 'analyze');
    if (!loop || !cycle || !deploy?.result || !test?.result || !analyze?.finishedAt)
      throw new Error(`loop ${id} ended without a complete first cycle (state ${loop?.state}: ${loop?.stop?.message ?? 'no reason'})`);
    const at = (s?: string) => (s ? Date.parse(s) : Number.NaN);
    const spans: Partial<Record<Span, number>> = {
      'created→deploy': at(deploy.startedAt) - at(loop.createdAt),
      'deploy: to ready': Math.max(...deploy.result.services.map((s) => at(s.readyAt))) - at(deploy.startedAt),
      'deploy: after': at(deploy.finishedAt) - Math.max(...deploy.result.services.map((s) => at(s.readyAt))),
      'deploy→test': at(test.startedAt) - at(deploy.finishedAt),
      'test: setup': at(test.result.startedAt) - at(test.startedAt),
      'test: suite': at(test.result.finishedAt) - at(test.result.startedAt),
      'test: after': at(test.finishedAt) - at(test.result.finishedAt),
      'test→analyze': at(analyze.startedAt) - at(test.finishedAt),
      analyze: at(analyze.finishedAt) - at(analyze.startedAt),
      'analyze→verdict': at(loop.finishedAt) - at(analyze.finishedAt),
    };
    return { loop, cycle, deploy: deploy.result, test: test.result, cycleWallMs: at(analyze.finishedAt) - at(loop.createdAt), spans };
  };

  /** The analyze stage's work on the same evidence, outside the worker: log pull + analyzeCycle. */
  const analysisAlone = async (p: Awaited<ReturnType<typeof profile>>, i: number) => {
    const cycleDir = join(dir, `analysis-alone-${i}`);
    mkdirSync(cycleDir, { recursive: true });
    const t = performance.now();
    const logs = await logSource.pull({
      services: p.deploy.services,
      from: p.test.startedAt,
      to: p.test.finishedAt,
      runId: p.test.runId,
      signal: AbortSignal.timeout(60_000),
    });
    await analyzeCycle({
      loopId: p.loop.id,
      cycle: 1,
      commit: p.cycle.commit,
      environment: 'demo',
      junitFiles: p.test.junitFiles,
      run: p.test,
      services: p.deploy.services,
      logs,
      previous: [],
      config: { tests: environment.tests, categories: environment.categories },
      cycleDir,
      repoDir: repo,
    });
    return performance.now() - t;
  };

  const done: Pair[] = [];
  const sandboxed = new Set<string>();
  try {
    console.log(
      `${pairs} pairs (+1 warm-up), order flipping each pair; load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}`,
    );
    for (let i = 0; i <= pairs; i++) {
      let sh: ReturnType<typeof shell>;
      let gl: Awaited<ReturnType<typeof greenloop>>;
      if (i % 2 === 0) {
        sh = shell(i);
        gl = await greenloop();
      } else {
        gl = await greenloop();
        sh = shell(i);
      }
      const p = await profile(gl.id);
      sandboxed.add(p.test.sandboxed ? 'suite sandboxed' : `suite not sandboxed${p.test.sandboxNote ? `: ${p.test.sandboxNote}` : ''}`);
      const pair: Pair = {
        shellMs: sh.ms,
        greenloopMs: gl.ms,
        deployAloneMs: sh.deployMs,
        testAloneMs: sh.testMs,
        analysisAloneMs: await analysisAlone(p, i),
        cycleWallMs: p.cycleWallMs,
        spans: p.spans,
      };
      const floor = pair.cycleWallMs / (pair.deployAloneMs + pair.testAloneMs + pair.analysisAloneMs);
      console.log(
        `  ${i === 0 ? 'warm-up' : `pair ${i}`}: greenloop ${pair.greenloopMs.toFixed(0)} ms, shell ${pair.shellMs.toFixed(0)} ms, ratio ${(pair.greenloopMs / pair.shellMs).toFixed(3)}; ` +
          `cycle ${pair.cycleWallMs} ms vs alone deploy ${pair.deployAloneMs.toFixed(0)} + suite ${pair.testAloneMs.toFixed(0)} + analysis ${pair.analysisAloneMs.toFixed(0)} ms = floor ${floor.toFixed(3)}`,
      );
      if (i > 0) done.push(pair);
    }
  } finally {
    await worker.close();
    await closeQueues(queues);
    await store.clearAll();
    conn.disconnect();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  console.log('  where a greenloop cycle goes (median ms over the pairs):');
  for (const s of SPANS) console.log(`    ${s.padEnd(18)} ${median(done.map((p) => p.spans[s] ?? Number.NaN)).toFixed(0)}`);
  console.log(
    `    alone: deploy ${median(done.map((p) => p.deployAloneMs)).toFixed(0)}, suite ${median(done.map((p) => p.testAloneMs)).toFixed(0)}, analysis ${median(done.map((p) => p.analysisAloneMs)).toFixed(0)}; shell script ${median(done.map((p) => p.shellMs)).toFixed(0)}, greenloop ${median(done.map((p) => p.greenloopMs)).toFixed(0)}`,
  );
  // greenloop's own time inside the cycle (every stretch that is not the deploy, the suite or the analysis):
  // read from one run's records, so it does not swing with the machine's load the way the ratios do.
  const OWN: Span[] = ['created→deploy', 'deploy: after', 'deploy→test', 'test: setup', 'test: after', 'test→analyze', 'analyze→verdict'];
  const ownMs = median(done.map((p) => OWN.reduce((sum, s) => sum + (p.spans[s] ?? 0), 0)));
  console.log(
    `    greenloop's own time between and around the stages: ${ownMs.toFixed(0)} ms (${OWN.join(' + ')}; the deploy worktree is inside "deploy: to ready")`,
  );
  // The same suite under greenloop (recording proxy in front of the services, sandbox) vs alone, per pair.
  const suiteExtra = median(done.map((p) => (p.spans['test: suite'] ?? Number.NaN) - p.testAloneMs));
  const deployExtra = median(done.map((p) => (p.spans['deploy: to ready'] ?? Number.NaN) - p.deployAloneMs));
  console.log(
    `    per pair, greenloop − alone (median): suite ${suiteExtra.toFixed(0)} ms (${sandboxed.size ? [...sandboxed].join('/') : '?'}; through the recording proxy), deploy ${deployExtra.toFixed(0)} ms (worktree included; the script polls health with a node process per try)`,
  );
  const ratios = done.map((p) => p.greenloopMs / p.shellMs);
  const floors = done.map((p) => p.cycleWallMs / (p.deployAloneMs + p.testAloneMs + p.analysisAloneMs));
  const result: OverheadResult = {
    pairs: done.length,
    ratio: median(ratios),
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
    floor: median(floors),
    floorMin: Math.min(...floors),
    floorMax: Math.max(...floors),
  };
  console.log(
    `orchestration overhead: median of ${result.pairs} per-pair ratios ${result.ratio.toFixed(3)} (min ${result.ratioMin.toFixed(3)}, max ${result.ratioMax.toFixed(3)}), goal ≤ 1.02; ` +
      `cycle floor ${result.floor.toFixed(3)} (min ${result.floorMin.toFixed(3)}, max ${result.floorMax.toFixed(3)}), goal ≤ 1.05; load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}`,
  );
  figure('overhead.demo', result.ratio, 'ratio', '<=1.02');
  figure('overhead.demo.min', result.ratioMin, 'ratio');
  figure('overhead.demo.max', result.ratioMax, 'ratio');
  figure('cycle.floor', result.floor, 'ratio', '<=1.05');
  figure('cycle.ownTime', ownMs, 'ms');
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(Number(process.argv[2] ?? 15));
