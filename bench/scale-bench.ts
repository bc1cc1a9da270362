// Scale out: 1, 10 and 50 loops running at once over two projects on one Redis (a key prefix of its own)
// with 3 real worker processes (node apps/worker/src/main.ts) that share no disk: each has a home of its own
// and sees no other's (test/worker-machines.ts), runs with GREENLOOP_WORKER_DISKS=separate (a loop's stages
// on the worker that began it, in that worker's own queues), clones the projects from bare "remote" repositories and
// publishes evidence to Cloud Storage (the GCS fake, through the real client). The environments are
// trivial: a `command` deploy that only waits and a test that copies a fixed JUnit file. Each of the N slots
// starts a new loop on its own environment as soon as its last one ended, for a fixed window; then:
//   scale.N.loopsPerMin   loops finished per minute in the window
//   scale.N.dueToStart.p99  ms from a stage being due (loop created → deploy started; deploy finished →
//                         test started; test finished → analyze started) to it starting, p99 over all stages
//   scale.N.stalled       stalled jobs reported by BullMQ (QueueEvents 'stalled') on every queue, goal 0
//   scale.N.workerRss     highest RSS of any worker process during the window (sampled from /proc)
// Then one worker is killed (kill -9) while 50 loops run, and the loops are followed to their end:
//   scale.kill.jobsOnKilled  stage jobs the killed worker was running (the kill must hit work to prove anything)
//   scale.kill.openLoops  loops without a verdict at the kill (0 fails the run: the kill tested nothing)
//   scale.kill.noVerdict  loops that never ended, goal 0
//   scale.kill.verdictChanged  loops whose verdict differs from what the same loops get without a kill, goal 0
//   scale.kill.stuckClaims  environments still claimed once every loop ended, goal 0
//   scale.kill.recovery   s from the kill to the last verdict of those loops (the killed worker must be taken
//                         for dead — three heartbeats — and its jobs' locks lapse before its loops are adopted)
// Run: node bench/scale-bench.ts [seconds per size=30] [sizes=1,10,50]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  closeQueues,
  createQueues,
  type LoopRecord,
  LoopStore,
  listWorkers,
  PINNED_QUEUES,
  PinnedQueues,
  ProjectStore,
  pinnedQueueName,
  QUEUE_NAMES,
  startLoop,
  TERMINAL_STATES,
} from '@greenloop/core';
import { FakeGcs } from '@greenloop/core/fake-gcs';
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { bareRemote } from '../test/demo-harness.ts';
import { workerMachines } from '../test/worker-machines.ts';
import { figure } from './figure.ts';
import { WORKER_NODE_FLAGS } from './worker-node-flags.ts';

const WORKERS = ['w1', 'w2', 'w3'] as const;
const PROJECTS = ['alpha', 'beta'] as const;
const MAX_LOOPS = 50;
/** Environments per project: slot i runs on project i % 2, so 50 slots need 25 each. */
const ENVS_PER_PROJECT = Math.ceil(MAX_LOOPS / PROJECTS.length);
// Each worker takes this many jobs per queue at once, so 50 loops really run at once (the default of 4
// would make most stages wait for a slot, and the bench would measure the queue, not greenloop).
const CONCURRENCY = 25;
// A killed worker's jobs run again once their lock lapses: 10 s instead of 30 s keeps the kill phase short
// (BullMQ renews a lock every half of it, so 5 s of event-loop stall would be needed to lose one wrongly).
const LOCK = { GREENLOOP_LOCK_DURATION: '10s', GREENLOOP_STALLED_INTERVAL: '5s' };
// Separate disks; a worker is taken for dead 3 heartbeats after its last: 3 s instead of 15 s keeps the kill
// phase short (a beat is one SET every 3 s per worker, which no load here delays by 9 s).
const SEPARATE = { GREENLOOP_WORKER_DISKS: 'separate', GREENLOOP_WORKER_HEARTBEAT: '3s' };
const DEPLOY_WAIT_S = 1;
const STAGES = ['deploy', 'test', 'analyze'] as const;
/** Queues whose jobs are a cycle's stages (not the controller, notifications or publishing). */
const STAGE_QUEUES = new Set(['deploy', 'test', 'shards', 'analyze', 'fix']);
const BUCKET = 'gl-scale-bench';

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Slot `i`'s environment: `<project>/tNN`, alternating between the projects. */
const slotEnvironment = (i: number) => `${PROJECTS[i % PROJECTS.length]}/t${String(Math.floor(i / PROJECTS.length) + 1).padStart(2, '0')}`;

/** A project's repository: `ENVS_PER_PROJECT` trivial environments (t01…) and the fixed JUnit file. */
function trivialRepo(dir: string, url: string): void {
  mkdirSync(join(dir, 'fixtures'), { recursive: true });
  const cases = Array.from({ length: 20 }, (_, i) => `    <testcase classname="trivial" name="case ${i}" time="0.001"/>`).join('\n');
  writeFileSync(
    join(dir, 'fixtures', 'junit.xml'),
    `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n  <testsuite name="trivial" tests="20" failures="0">\n${cases}\n  </testsuite>\n</testsuites>\n`,
  );
  const envs: string[] = [];
  for (let i = 1; i <= ENVS_PER_PROJECT; i++) {
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
  /** `<state>/<stop rule>` → loops: what trivial loops end with. */
  verdicts: Record<string, number>;
}

interface KillResult {
  loops: number;
  jobsOnKilled: number;
  openLoops: number;
  noVerdict: number;
  verdictChanged: number;
  stuckClaims: number;
  /** Loops whose cycle was lost with the killed worker and redeployed on another (a notice on the loop says so). */
  redeployed: number;
  recoveryS: number;
  stalled: number;
}

const verdictOf = (loop: LoopRecord) => `${loop.state}/${loop.stop?.rule ?? 'none'}`;

export async function main(seconds = 30, sizes: number[] = [1, 10, 50]): Promise<{ sizes: SizeResult[]; kill: KillResult }> {
  for (const n of sizes) if (n > MAX_LOOPS) throw new Error(`at most ${MAX_LOOPS} loops at once (one per trivial environment); asked for ${n}`);
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const dir = mkdtempSync(join(tmpdir(), 'greenloop-scale-bench-'));
  // What the deploy health check and the suite would talk to: answers 200 to anything.
  const service = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => service.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(service.address() as AddressInfo).port}`;
  const remotes = Object.fromEntries(PROJECTS.map((p) => [p, join(dir, 'remotes', `${p}.git`)])) as Record<(typeof PROJECTS)[number], string>;
  for (const p of PROJECTS) bareRemote(remotes[p], (w) => trivialRepo(w, url));
  const fake = await new FakeGcs(BUCKET).start();
  const prefix = `glscale-${Date.now().toString(36)}`;
  const conn = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const store = new LoopStore(conn, prefix);
  const projects = new ProjectStore(store);
  const queues = createQueues(conn, prefix);
  const pinned = new PinnedQueues(conn, prefix);
  const workerIds: string[] = [];
  const events = QUEUE_NAMES.map((q) => new QueueEvents(q, { connection: { url: redisUrl }, prefix }));
  let stalled = 0;
  for (const e of events) e.on('stalled', () => stalled++);
  await Promise.all(events.map((e) => e.waitUntilReady()));
  const fleet = workerMachines({
    root: join(dir, 'machines'),
    redisUrl,
    prefix,
    nodeFlags: WORKER_NODE_FLAGS,
    extra: {
      GREENLOOP_CONCURRENCY: String(CONCURRENCY),
      ...LOCK,
      ...SEPARATE,
      GREENLOOP_ARTIFACTS: 'gcs',
      GREENLOOP_ARTIFACTS_BUCKET: BUCKET,
      GREENLOOP_ARTIFACTS_ENDPOINT: fake.endpoint,
    },
  });

  /** Starts a loop on `environment` the way the API does (the project resolved into the loop's source); undefined while the last one there still tears down. */
  const start = async (environment: string): Promise<string | undefined> => {
    const source = await projects.loopSource(environment);
    const out = await startLoop({ store, queues }, { environment, actor: { kind: 'cli', name: 'scale-bench' }, ...(source ? { source } : {}) });
    return out.kind === 'created' ? out.loop.id : undefined;
  };
  /** Waits until loop `id` has a verdict; the record, or undefined once `giveUpAt` (performance.now()) passed. */
  const ended = async (id: string, giveUpAt: number): Promise<LoopRecord | undefined> => {
    for (;;) {
      const loop = await store.getLoop(id);
      if (loop && TERMINAL_STATES.includes(loop.state)) return loop;
      if (performance.now() > giveUpAt) return undefined;
      await sleep(100);
    }
  };
  // Loops that never got through analysis make the figures measure failures: named at the end, and the run fails.
  const problems: string[] = [];

  const results: SizeResult[] = [];
  let kill: KillResult | undefined;
  try {
    for (const w of WORKERS) await fleet.start(w);
    // Loops start only once every queue has all workers listening, so start-up is not counted as waiting.
    while ((await Promise.all(QUEUE_NAMES.map((q) => queues[q].getWorkersCount()))).some((c) => c < WORKERS.length)) await sleep(100);
    // Stage jobs run in each worker's own queues: their stalls and waits are counted there.
    const fleetPids = new Set(fleet.machines.map((m) => m.pid));
    workerIds.push(...(await listWorkers(conn, prefix)).filter((w) => fleetPids.has(w.pid)).map((w) => w.id));
    if (workerIds.length !== WORKERS.length) throw new Error(`${workerIds.length} of ${WORKERS.length} workers in the registry`);
    const pinnedEvents = workerIds.flatMap((id) =>
      PINNED_QUEUES.map((q) => new QueueEvents(pinnedQueueName(q, id), { connection: { url: redisUrl }, prefix })),
    );
    for (const e of pinnedEvents) e.on('stalled', () => stalled++);
    events.push(...pinnedEvents);
    await Promise.all(pinnedEvents.map((e) => e.waitUntilReady()));
    for (const p of PROJECTS) await projects.create({ name: p, remote: remotes[p], baseBranch: 'main' }, 'scale-bench');
    console.log(
      `scale: ${WORKERS.length} worker processes with no shared disk (GREENLOOP_WORKER_DISKS=separate, heartbeat ${SEPARATE.GREENLOOP_WORKER_HEARTBEAT}; concurrency ${CONCURRENCY} per queue each, lock ${LOCK.GREENLOOP_LOCK_DURATION}), ${PROJECTS.length} projects cloned from bare remotes, evidence to the GCS fake, prefix ${prefix}; trivial environments: deploy waits ${DEPLOY_WAIT_S}s, test copies a 20-test JUnit file; ${seconds}s per size`,
    );
    for (const n of sizes) results.push(await runSize(n, seconds));
    kill = await killOneWorker(results);
  } finally {
    await fleet.stop();
    await Promise.all(events.map((e) => e.close()));
    await closeQueues(queues);
    await pinned.close();
    await store.clearAll();
    conn.disconnect();
    service.close();
    await fake.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  if (problems.length) throw new Error(`scale bench: ${problems.join('; ')}`);
  return { sizes: results, kill };

  /** `loops` that did not get through their analysis, recorded as one problem line with their stop reasons. */
  async function checkAnalyzed(what: string, loops: LoopRecord[]): Promise<void> {
    const failed: LoopRecord[] = [];
    for (const loop of loops) if ((await store.getStage(loop.id, 1, 'analyze'))?.status !== 'succeeded') failed.push(loop);
    if (!failed.length) return;
    const reasons = new Map<string, string>();
    for (const l of failed) reasons.set(verdictOf(l), l.stop?.message.slice(0, 300) ?? '(no stop reason)');
    problems.push(
      `${what}: ${failed.length} of ${loops.length} loops ended before their analysis (${[...reasons].map(([k, m]) => `${k}, e.g. ${m}`).join(' | ')})`,
    );
  }

  async function runSize(n: number, secs: number): Promise<SizeResult> {
    const stalledBefore = stalled;
    let peakRss = 0;
    const sampler = setInterval(() => {
      for (const m of fleet.machines) peakRss = Math.max(peakRss, rssMb(m.pid));
    }, 250);
    const ids: string[] = [];
    const started = performance.now();
    const deadline = started + secs * 1000;
    let finishedInWindow = 0;
    let lastReport = started;
    const slot = async (i: number) => {
      const environment = slotEnvironment(i);
      while (performance.now() < deadline) {
        const id = await start(environment);
        // The last loop on this environment is terminal but still tearing down: its claim goes in a moment.
        if (!id) {
          await sleep(20);
          continue;
        }
        ids.push(id);
        const loop = await ended(id, performance.now() + 120_000);
        if (!loop) throw new Error(`loop ${id} on ${environment} did not end within 120 s (${JSON.stringify(await store.getLoop(id))})`);
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
    // The deploy's wait split at begin() (loop job picked up, the mirror fetched, the loop branch made).
    const toBegun: number[] = [];
    const states: Record<string, number> = {};
    const verdicts: Record<string, number> = {};
    // Verdict → one message as an example (trivial suites end not-real: no traffic).
    const examples = new Map<string, string>();
    const loops: LoopRecord[] = [];
    for (const id of ids) {
      const loop = await store.getLoop(id);
      if (!loop) continue;
      loops.push(loop);
      states[loop.state] = (states[loop.state] ?? 0) + 1;
      verdicts[verdictOf(loop)] = (verdicts[verdictOf(loop)] ?? 0) + 1;
      if (loop.stop && !examples.has(verdictOf(loop))) examples.set(verdictOf(loop), loop.stop.message.slice(0, 160));
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
    await checkAnalyzed(`${n} loops at once`, loops);
    // Queue wait alone (job added → a worker took it), from BullMQ's own timestamps.
    const waits: number[] = [];
    for (const q of ['deploy', 'test', 'analyze'] as const) {
      for (const job of (await Promise.all(workerIds.map((w) => pinned.of(q, w).getJobs(['completed', 'failed'])))).flat()) {
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
      verdicts,
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
    for (const [key, count] of Object.entries(verdicts)) console.log(`    ${count} × ${key}, e.g. ${examples.get(key) ?? ''}…`);
    figure(`scale.${n}.loopsPerMin`, r.loopsPerMin, 'loops/min');
    figure(`scale.${n}.dueToStart.p99`, r.dueToStartP99, 'ms');
    figure(`scale.${n}.stalled`, r.stalled, 'jobs', '<=0');
    figure(`scale.${n}.workerRss`, r.workerRssMb, 'MB');
    return r;
  }

  /**
   * 50 loops at once (one per environment), the busiest worker killed with SIGKILL while it runs their
   * stage jobs, and every loop followed to its verdict on the two workers left.
   */
  async function killOneWorker(before: SizeResult[]): Promise<KillResult> {
    const stalledBefore = stalled;
    const ids = await Promise.all(
      Array.from({ length: MAX_LOOPS }, async (_, i) => {
        for (;;) {
          const id = await start(slotEnvironment(i));
          if (id) return id;
          await sleep(20);
        }
      }),
    );
    // The victim: the worker running the most stage jobs of these loops once one runs 10, or after 20 s the busiest seen.
    const byPid = new Map(fleet.machines.map((m) => [m.pid, m]));
    const ours = new Set(ids);
    let victim: { pid: number; stageJobs: number; controllers: number } | undefined;
    for (const giveUp = performance.now() + 20_000; performance.now() < giveUp && (victim?.stageJobs ?? 0) < 10; await sleep(100)) {
      for (const w of await listWorkers(conn, prefix)) {
        if (!byPid.has(w.pid)) continue;
        const jobs = w.jobs.filter((j) => j.loopId && ours.has(j.loopId));
        const stageJobs = jobs.filter((j) => STAGE_QUEUES.has(j.queue)).length;
        if (stageJobs > (victim?.stageJobs ?? 0)) victim = { pid: w.pid, stageJobs, controllers: jobs.filter((j) => j.queue === 'loops').length };
      }
    }
    if (!victim) throw new Error('no worker ran a stage job within 20 s of starting 50 loops: nothing to kill');
    const machine = byPid.get(victim.pid)!;
    process.kill(machine.pid, 'SIGKILL');
    const killedAt = Date.now();
    // Only loops without a verdict at the kill can lose something to it.
    const open = (await Promise.all(ids.map((id) => store.getLoop(id)))).filter((l) => l && !TERMINAL_STATES.includes(l.state)).map((l) => l!.id);
    await machine.exited;
    console.log(
      `  killed ${machine.name} (pid ${machine.pid}) with SIGKILL while it ran ${victim.stageJobs} stage job(s) and ${victim.controllers} controller step(s); ${open.length} of ${MAX_LOOPS} loops had no verdict yet`,
    );
    if (!open.length) problems.push('the kill came after every loop had its verdict: it tested nothing');

    const giveUpAt = performance.now() + 180_000;
    const loops = await Promise.all(ids.map((id) => ended(id, giveUpAt)));
    const finished = loops.filter((l): l is LoopRecord => l !== undefined);
    const noVerdict = loops.length - finished.length;
    // What these loops end with when nothing is killed: the commonest verdict of the runs before.
    const usual = Object.entries(
      before.reduce<Record<string, number>>((acc, r) => {
        for (const [k, v] of Object.entries(r.verdicts)) acc[k] = (acc[k] ?? 0) + v;
        return acc;
      }, {}),
    ).sort((a, b) => b[1] - a[1])[0]?.[0];
    const changed = usual === undefined ? [] : finished.filter((l) => open.includes(l.id) && verdictOf(l) !== usual);
    const lastVerdict = Math.max(killedAt, ...finished.filter((l) => open.includes(l.id)).map((l) => Date.parse(l.finishedAt ?? l.createdAt)));
    // A claim outlives its loop only through the teardown: one still held 15 s after the last verdict is stuck.
    const claimed = async () =>
      (await Promise.all(Array.from({ length: MAX_LOOPS }, (_, i) => store.activeLoop(slotEnvironment(i))))).filter((h): h is string => h !== undefined);
    let stuck = await claimed();
    for (const giveUp = Date.now() + 15_000; stuck.length && Date.now() < giveUp; stuck = await claimed()) await sleep(250);
    await checkAnalyzed('after the kill', finished);
    const r: KillResult = {
      loops: ids.length,
      jobsOnKilled: victim.stageJobs,
      openLoops: open.length,
      noVerdict,
      verdictChanged: changed.length,
      stuckClaims: stuck.length,
      redeployed: (await Promise.all(open.map((id) => store.getLoop(id)))).filter((l) => l?.notices?.some((m) => m.includes(' redeployed on worker '))).length,
      recoveryS: (lastVerdict - killedAt) / 1000,
      stalled: stalled - stalledBefore,
    };
    console.log(
      `  after the kill: ${finished.length} of ${ids.length} loops ended (${[...new Set(finished.map(verdictOf))].map((v) => `${finished.filter((l) => verdictOf(l) === v).length} ${v}`).join(', ')}; usual: ${usual ?? 'unknown, no size ran'}); ${r.stalled} job(s) reported stalled; ${r.redeployed} loop(s) had their cycle redeployed on a live worker; last verdict ${r.recoveryS.toFixed(1)} s after the kill; ${stuck.length} claim(s) still held${stuck.length ? ` by ${stuck.join(', ')}` : ''}`,
    );
    for (const l of changed.slice(0, 5)) console.log(`    ${l.id} ${l.environment}: ${verdictOf(l)}: ${l.stop?.message.slice(0, 200)}`);
    figure('scale.kill.jobsOnKilled', r.jobsOnKilled, 'jobs');
    figure('scale.kill.openLoops', r.openLoops, 'loops');
    figure('scale.kill.noVerdict', r.noVerdict, 'loops', '<=0');
    if (usual !== undefined) figure('scale.kill.verdictChanged', r.verdictChanged, 'loops', '<=0');
    figure('scale.kill.stuckClaims', r.stuckClaims, 'claims', '<=0');
    figure('scale.kill.redeployed', r.redeployed, 'loops');
    figure('scale.kill.recovery', r.recoveryS, 's');
    return r;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sizes = process.argv[3]?.split(',').map(Number);
  await main(Number(process.argv[2] ?? 30), sizes);
}
