// Scale: 1, 10 and 50 loops running at once on one Redis (a key prefix of its own) with 2 real worker
// processes (node apps/worker/src/main.ts), on trivial environments: a `command` deploy that only waits and
// a test that copies a fixed JUnit file. Each of the N slots starts a new loop on its own environment as
// soon as its last one ended, for a fixed window; then the figures:
//   scale.N.loopsPerMin   loops finished per minute in the window
//   scale.N.dueToStart.p99  ms from a stage being due (loop created → deploy started; deploy finished →
//                         test started; test finished → analyze started) to it starting, p99 over all stages
//   scale.N.stalled       stalled jobs reported by BullMQ (QueueEvents 'stalled') on every queue, goal 0
//   scale.N.workerRss     highest RSS of either worker process during the window (sampled from /proc)
// Run: node bench/scale-bench.ts [seconds per size=30] [sizes=1,10,50]
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeQueues, createQueues, LoopStore, QUEUE_NAMES, startLoop, TERMINAL_STATES } from '@greenloop/core';
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { figure } from './figure.ts';
import { WORKER_NODE_FLAGS } from './worker-node-flags.ts';

const WORKER_MAIN = fileURLToPath(new URL('../apps/worker/src/main.ts', import.meta.url));
const WORKERS = 2;
const MAX_LOOPS = 50;
// Each worker takes this many jobs per queue at once, so 50 loops really run at once on 2 workers (the
// default of 4 would make most stages wait for a slot, and the bench would measure the queue, not greenloop).
const CONCURRENCY = 25;
const DEPLOY_WAIT_S = 1;
const STAGES = ['deploy', 'test', 'analyze'] as const;

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
};

/** A scratch repository with `MAX_LOOPS` trivial environments (t01…t50) and the fixed JUnit file. */
function trivialRepo(dir: string, url: string): void {
  mkdirSync(join(dir, 'fixtures'), { recursive: true });
  const cases = Array.from({ length: 20 }, (_, i) => `    <testcase classname="trivial" name="case ${i}" time="0.001"/>`).join('\n');
  writeFileSync(
    join(dir, 'fixtures', 'junit.xml'),
    `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n  <testsuite name="trivial" tests="20" failures="0">\n${cases}\n  </testsuite>\n</testsuites>\n`,
  );
  const envs: string[] = [];
  for (let i = 1; i <= MAX_LOOPS; i++) {
    envs.push(`  t${String(i).padStart(2, '0')}:
    services:
      - name: app
        deploy: { provider: command, command: ["sleep", "${DEPLOY_WAIT_S}"], url: "${url}" }
    tests:
      command: ["cp", "fixtures/junit.xml", "{{artifacts}}/junit.xml"]
      junit: ["{{artifacts}}/junit.xml"]
      timeout: 1m
    loop: { maxCycles: 1 }`);
  }
  writeFileSync(join(dir, 'greenloop.yaml'), `version: 1\nenvironments:\n${envs.join('\n')}\n`);
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@greenloop.local', ...args], { cwd: dir, stdio: 'pipe' });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'trivial environments');
}

/** Resident set size of a process in MB, from /proc (0 once it is gone). */
function rssMb(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

interface SizeResult {
  loops: number;
  finished: number;
  loopsPerMin: number;
  dueToStartP50: number;
  dueToStartP99: number;
  queueWaitP99: number;
  stalled: number;
  workerRssMb: number;
  states: Record<string, number>;
}

export async function main(seconds = 30, sizes: number[] = [1, 10, 50]): Promise<SizeResult[]> {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const dir = mkdtempSync(join(tmpdir(), 'greenloop-scale-bench-'));
  const repo = join(dir, 'repo');
  mkdirSync(repo);
  // What the deploy health check and the suite would talk to: answers 200 to anything.
  const service = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => service.listen(0, '127.0.0.1', r));
  trivialRepo(repo, `http://127.0.0.1:${(service.address() as AddressInfo).port}`);
  const prefix = `glscale-${Date.now().toString(36)}`;
  const conn = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const store = new LoopStore(conn, prefix);
  const queues = createQueues(conn, prefix);
  const events = QUEUE_NAMES.map((q) => new QueueEvents(q, { connection: { url: redisUrl }, prefix }));
  let stalled = 0;
  for (const e of events) e.on('stalled', () => stalled++);
  await Promise.all(events.map((e) => e.waitUntilReady()));

  const workerEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    REDIS_URL: redisUrl,
    GREENLOOP_PREFIX: prefix,
    GREENLOOP_HOME: join(dir, 'home'),
    GREENLOOP_REPO: repo,
    GREENLOOP_CONCURRENCY: String(CONCURRENCY),
    LOG_LEVEL: 'warn',
  };
  const workers: ChildProcess[] = [];
  const results: SizeResult[] = [];
  try {
    for (let w = 0; w < WORKERS; w++) {
      const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, WORKER_MAIN], { env: workerEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      for (const s of [child.stdout, child.stderr]) s?.on('data', (d: Buffer) => process.stderr.write(`  [worker ${w + 1}] ${d}`));
      workers.push(child);
    }
    // Loops start only once every queue has both workers listening, so start-up is not counted as waiting.
    while ((await Promise.all(QUEUE_NAMES.map((q) => queues[q].getWorkersCount()))).some((c) => c < WORKERS)) await new Promise((r) => setTimeout(r, 100));
    console.log(
      `scale: ${WORKERS} worker processes (concurrency ${CONCURRENCY} per queue each), prefix ${prefix}; trivial environments: deploy waits ${DEPLOY_WAIT_S}s, test copies a 20-test JUnit file; ${seconds}s per size`,
    );
    for (const n of sizes) {
      if (n > MAX_LOOPS) throw new Error(`at most ${MAX_LOOPS} loops at once (one per trivial environment); asked for ${n}`);
      results.push(await runSize(n, seconds));
    }
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => (w.exitCode === null ? new Promise((r) => w.once('exit', r)) : null)));
    await Promise.all(events.map((e) => e.close()));
    await closeQueues(queues);
    await store.clearAll();
    conn.disconnect();
    service.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;

  async function runSize(n: number, secs: number): Promise<SizeResult> {
    const stalledBefore = stalled;
    let peakRss = 0;
    const sampler = setInterval(() => {
      for (const w of workers) peakRss = Math.max(peakRss, rssMb(w.pid));
    }, 250);
    const ids: string[] = [];
    const started = performance.now();
    const deadline = started + secs * 1000;
    let finishedInWindow = 0;
    let lastReport = started;
    const slot = async (i: number) => {
      const environment = `t${String(i + 1).padStart(2, '0')}`;
      while (performance.now() < deadline) {
        const out = await startLoop({ store, queues }, { environment, actor: { kind: 'cli', name: 'scale-bench' } });
        // The last loop on this environment is terminal but still tearing down: its claim goes in a moment.
        if (out.kind !== 'created') {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        ids.push(out.loop.id);
        const giveUp = performance.now() + 120_000;
        for (;;) {
          await new Promise((r) => setTimeout(r, 100));
          const loop = await store.getLoop(out.loop.id);
          if (loop && TERMINAL_STATES.includes(loop.state)) break;
          if (performance.now() > giveUp)
            throw new Error(`loop ${out.loop.id} on ${environment} did not end within 120 s (state ${loop?.state}, stage ${loop?.stage})`);
        }
        if (performance.now() <= deadline) finishedInWindow++;
        if (performance.now() - lastReport > 10_000) {
          lastReport = performance.now();
          console.log(`  ${n} loops: ${((lastReport - started) / 1000).toFixed(0)}s, ${finishedInWindow} finished, load ${loadavg()[0]?.toFixed(1)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: n }, (_, i) => slot(i)));
    clearInterval(sampler);
    const elapsedMin = (deadline - started) / 60_000;

    // Due → started, from the records the worker wrote: a stage is due when the one before it finished.
    const gaps: number[] = [];
    const byStage: Record<(typeof STAGES)[number], number[]> = { deploy: [], test: [], analyze: [] };
    // The deploy's wait split at begin() (loop job picked up, HEAD resolved, the loop branch made).
    const toBegun: number[] = [];
    const states: Record<string, number> = {};
    // Verdict rule → how many loops, and one message as an example (trivial suites end not-real: no traffic).
    const reasons = new Map<string, { count: number; example: string }>();
    for (const id of ids) {
      const loop = await store.getLoop(id);
      if (!loop) continue;
      states[loop.state] = (states[loop.state] ?? 0) + 1;
      if (loop.stop) {
        const key = `${loop.state}/${loop.stop.rule}`;
        const seen = reasons.get(key);
        reasons.set(key, { count: (seen?.count ?? 0) + 1, example: seen?.example ?? loop.stop.message.slice(0, 160) });
      }
      let dueAt = Date.parse(loop.createdAt);
      if (loop.startedAt) toBegun.push(Date.parse(loop.startedAt) - dueAt);
      for (const stage of STAGES) {
        const rec = await store.getStage(id, 1, stage);
        if (!rec?.startedAt) break;
        gaps.push(Date.parse(rec.startedAt) - dueAt);
        byStage[stage].push(Date.parse(rec.startedAt) - dueAt);
        if (!rec.finishedAt) break;
        dueAt = Date.parse(rec.finishedAt);
      }
    }
    // Queue wait alone (job added → a worker took it), from BullMQ's own timestamps.
    const waits: number[] = [];
    for (const q of ['deploy', 'test', 'analyze'] as const) {
      for (const job of await queues[q].getJobs(['completed', 'failed'])) {
        if (job.processedOn && job.timestamp && ids.includes(String((job.data as { loopId?: string }).loopId))) waits.push(job.processedOn - job.timestamp);
      }
    }
    const r: SizeResult = {
      loops: n,
      finished: finishedInWindow,
      loopsPerMin: finishedInWindow / elapsedMin,
      dueToStartP50: pct(gaps, 50),
      dueToStartP99: pct(gaps, 99),
      queueWaitP99: pct(waits, 99),
      stalled: stalled - stalledBefore,
      workerRssMb: peakRss,
      states,
    };
    console.log(
      `  ${n} loop(s) at once: ${r.finished} finished in ${secs}s (${Object.entries(states)
        .map(([k, v]) => `${v} ${k}`)
        .join(
          ', ',
        )}); due→start p50 ${r.dueToStartP50} ms p99 ${r.dueToStartP99} ms over ${gaps.length} stages; queue wait p99 ${r.queueWaitP99} ms; stalled ${r.stalled}; worker RSS ≤ ${r.workerRssMb.toFixed(0)} MB; load ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}`,
    );
    console.log(
      `    due→start by stage (p50/p99 ms): ${STAGES.map((st) => `${st} ${pct(byStage[st], 50)}/${pct(byStage[st], 99)}`).join(', ')}; of the deploy's, loop created→begun ${pct(toBegun, 50)}/${pct(toBegun, 99)}`,
    );
    for (const [key, r] of reasons) console.log(`    ${r.count} × ${key}, e.g. ${r.example}…`);
    figure(`scale.${n}.loopsPerMin`, r.loopsPerMin, 'loops/min');
    figure(`scale.${n}.dueToStart.p99`, r.dueToStartP99, 'ms');
    figure(`scale.${n}.stalled`, r.stalled, 'jobs', '<=0');
    figure(`scale.${n}.workerRss`, r.workerRssMb, 'MB');
    return r;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sizes = process.argv[3]?.split(',').map(Number);
  await main(Number(process.argv[2] ?? 30), sizes);
}
