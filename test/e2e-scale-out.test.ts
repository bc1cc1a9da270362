// End-to-end (long): greenloop scaled out. Three worker processes that share no disk (each sees only its own
// directory: test/worker-machines.ts), two projects cloned from bare "remote" repositories, evidence in
// Cloud Storage (the GCS fake through the real client). Loops on both projects run at the same time and go
// green; the API (a home of its own) serves their reports from the bucket once every worker's disk is gone;
// each loop branch, with the fixes, is on its project's remote; and the jobs ran on more than one worker.
// Then a second fleet, and the worker a loop is pinned to is killed -9 (in its second cycle's deploy or test;
// in another loop, while its fixers run): another worker adopts its queues, the cycle is redeployed there from
// the commit on the remote, and the loop ends green.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningApi, startApi } from '@greenloop/api';
import { type CycleRecord, closeQueues, createLogger, createQueues, type LoopRecord, LoopStore, type Queues } from '@greenloop/core';
import { FakeGcs } from '@greenloop/core/fake-gcs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../apps/cli/src/client.ts';
import { createDemoRepo } from '../apps/cli/src/demo-repo.ts';
import { createDeployProviders } from '../apps/worker/src/adapters.ts';
import { until } from '../apps/worker/src/test-support/until.ts';
import { bareRemote, isolatedEnv, waitForEnd } from './demo-harness.ts';
import { type WorkerMachines, workerMachines } from './worker-machines.ts';

const PROJECTS = ['alpha', 'beta'] as const;
const WORKERS = ['w1', 'w2', 'w3'] as const;
const BUCKET = 'gl-scale-out';

interface WorkerEntry {
  pid: number;
  jobs: { queue: string; loopId?: string }[];
}

describe('e2e: two projects on three workers with no shared disk', () => {
  let dir: string;
  let fake: FakeGcs;
  let redis: Redis;
  let store: LoopStore;
  let queues: Queues;
  let api: RunningApi | undefined;
  let fleet: WorkerMachines | undefined;
  let survivors: WorkerMachines | undefined;
  let machines: string;
  let redisUrl: string;
  let prefix: string;
  let separate: Record<string, string>;
  let client: ApiClient;
  const remotes: Record<string, string> = {};
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'greenloop-scale-out-'));
    // Remotes sit outside machines/, which every worker sees only its own part of.
    for (const p of PROJECTS) {
      remotes[p] = join(dir, 'remotes', `${p}.git`);
      bareRemote(remotes[p], (w) => void createDemoRepo(w));
    }
    fake = await new FakeGcs(BUCKET).start();
    const artifacts = { GREENLOOP_ARTIFACTS: 'gcs', GREENLOOP_ARTIFACTS_BUCKET: BUCKET, GREENLOOP_ARTIFACTS_ENDPOINT: fake.endpoint };
    // No shared disk: each loop runs on the worker that began it (its checkout, evidence and services are there).
    separate = { ...artifacts, GREENLOOP_WORKER_DISKS: 'separate' };
    machines = join(dir, 'machines');
    // The API has a directory of its own too, and no repository: an empty one stands where GREENLOOP_REPO was.
    const apiDir = join(machines, 'api');
    const isolated = isolatedEnv(apiDir, apiDir, artifacts);
    const { env, token } = isolated;
    ({ redisUrl, prefix } = isolated);
    redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    store = new LoopStore(redis, prefix);
    queues = createQueues(redis, prefix);
    api = await startApi(env, createLogger('e2e-api', 'warn'), redisUrl);
    client = new ApiClient(api.url, token);
    fleet = workerMachines({ root: machines, redisUrl, prefix, extra: separate });
    for (const w of WORKERS) await fleet.start(w);
    // Every worker takes loop and deploy jobs before the first loop is queued, so none gets all of them by being first.
    await until(
      `${WORKERS.length} workers on the loops and deploy queues`,
      async () => Math.min(await queues.loops.getWorkersCount(), await queues.deploy.getWorkersCount()) === WORKERS.length,
      30_000,
    );
  });
  afterAll(async () => {
    await fleet?.stop();
    await survivors?.stop();
    // A loop that did not end leaves its services running once the workers are gone: stop them as a worker would.
    const deployed = createDeployProviders({ processEnv: { PATH: process.env.PATH }, log: createLogger('e2e', 'silent') });
    for (const id of Object.values(ids))
      for (let n = 1; n <= ((await store.getLoop(id))?.cycle ?? 0); n++)
        for (const svc of (await store.getStage(id, n, 'deploy'))?.result?.services ?? []) await deployed.stop(svc);
    await api?.close();
    if (queues) await closeQueues(queues);
    await store?.clearAll();
    redis?.disconnect();
    await fake?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs loops of both projects at once to green, with reports from the bucket and branches on the remotes', { timeout: 120_000 }, async () => {
    for (const p of PROJECTS) await client.json('POST', '/v1/projects', { body: { name: p, remote: remotes[p], baseBranch: 'main' } });
    for (const p of PROJECTS) ids[p] = (await client.json<{ id: string }>('POST', '/v1/loops', { body: { environment: `${p}/demo` } })).body.id;

    // Which worker ran which of a loop's stage jobs (`<queue>@<machine>`, in the order first seen), and
    // whether stage jobs of both loops ran at one moment.
    const machineOf = new Map(fleet!.machines.map((m) => [m.pid, m.name]));
    const ranOn = new Map<string, Set<string>>();
    const spread = () => JSON.stringify(Object.fromEntries([...ranOn].map(([id, set]) => [id, [...set]])));
    let bothAtOnce = false;
    const watching = setInterval(() => {
      void client
        .get<{ workers: WorkerEntry[] }>('/v1/workers')
        .then(({ workers }) => {
          const running = new Set<string>();
          for (const w of workers)
            for (const j of w.jobs) {
              if (!j.loopId || j.queue === 'loops') continue;
              running.add(j.loopId);
              ranOn.set(j.loopId, (ranOn.get(j.loopId) ?? new Set()).add(`${j.queue}@${machineOf.get(w.pid) ?? `unknown pid ${w.pid}`}`));
            }
          if (PROJECTS.every((p) => running.has(ids[p] as string))) bothAtOnce = true;
        })
        .catch(() => undefined);
    }, 200);
    // Both loops on a single worker took ~36 s here under load 10: on three, 90 s is ample.
    const settled = await Promise.allSettled(PROJECTS.map((p) => waitForEnd(store, ids[p] as string, 90_000))).finally(() => clearInterval(watching));
    if (settled.some((r) => r.status === 'rejected')) {
      const states = await Promise.all(
        PROJECTS.map(async (p) => {
          const l = await store.getLoop(ids[p] as string);
          return `${p}/demo ${l?.id}: ${l?.state} at cycle ${l?.cycle} ${l?.stage ?? ''}${l?.stop ? ` (${l.stop.rule}: ${l.stop.message})` : ''}`;
        }),
      );
      throw new Error(`the loops did not both end within 90 s: ${states.join('; ')}; stage jobs seen: ${spread()}`);
    }
    const loops = settled.map((r) => (r as PromiseFulfilledResult<LoopRecord>).value);

    for (const [i, p] of PROJECTS.entries()) {
      const loop = loops[i] as LoopRecord;
      expect(loop.stop, `${p}: ${JSON.stringify(loop.stop)}; stage jobs seen: ${spread()}`).toMatchObject({ rule: 'green' });
      expect(loop.environment).toBe(`${p}/demo`);
      expect(loop.source).toMatchObject({ project: p, remote: remotes[p], baseBranch: 'main' });
      expect(loop.cycle, `${p} needs fixes to go green`).toBeGreaterThanOrEqual(2);
    }
    // The loops overlapped: each began before the other ended, and a sample caught stage jobs of both running.
    const [a, b] = loops as [LoopRecord, LoopRecord];
    expect(Date.parse(a.startedAt!)).toBeLessThan(Date.parse(b.finishedAt!));
    expect(Date.parse(b.startedAt!)).toBeLessThan(Date.parse(a.finishedAt!));
    expect(bothAtOnce, 'stage jobs of both loops running at the same moment').toBe(true);

    // Spread: the registry saw stage jobs on more than one worker.
    const jobs = [...ranOn.values()].flatMap((set) => [...set]);
    expect(
      jobs.filter((j) => j.includes('@unknown pid')),
      'stage jobs on workers other than ours',
    ).toEqual([]);
    const machines = new Set(jobs.map((j) => j.slice(j.indexOf('@') + 1)));
    expect(machines.size, `workers that ran stage jobs: ${spread()}`).toBeGreaterThan(1);

    // Each loop branch is on its remote: the fixes on top of main, ending at the commit that went green.
    for (const loop of loops) {
      const remote = remotes[loop.source!.project] as string;
      const git = (...args: string[]) => execFileSync('git', ['--git-dir', remote, ...args], { encoding: 'utf8' }).trim();
      expect(git('rev-parse', `refs/heads/${loop.branch}`)).toBe(loop.commit);
      expect(git('rev-list', '--count', `main..${loop.branch}`), `${loop.branch}: fix commits`).not.toBe('0');
      expect(git('rev-list', '--count', 'main'), 'main untouched').toBe('1');
    }

    // No worker disk is left: the API answers from the bucket alone.
    await fleet!.stop();
    for (const m of fleet!.machines) rmSync(m.dir, { recursive: true, force: true });
    for (const loop of loops) {
      const view = await client.get<LoopRecord & { cycles: (CycleRecord & { hasReport: boolean })[] }>(`/v1/loops/${loop.id}`);
      expect(view.cycles).toHaveLength(loop.cycle);
      for (const c of view.cycles) {
        expect(c.hasReport, `${loop.environment} cycle ${c.n} has a report`).toBe(true);
        const report = (await client.json<{ verdict: string; summary: { failed: number; total: number } }>('GET', `/v1/loops/${loop.id}/cycles/${c.n}/report`))
          .body;
        const stored = fake.objects.get(`greenloop/${loop.id}/cycle-${c.n}/analyze/report.json`);
        expect(stored, `cycle ${c.n} report.json in the bucket`).toBeDefined();
        expect(report).toEqual(JSON.parse(stored!.data.toString('utf8')));
        expect(report.summary.total).toBeGreaterThan(0);
        if (c.n === 1) expect(report.verdict, `${loop.environment}: cycle 1`).toBe('failing');
      }
      // The last cycle's report is green: real traffic seen, every test passed.
      const last = (await client.json<{ verdict: string; summary: { failed: number } }>('GET', `/v1/loops/${loop.id}/cycles/${loop.cycle}/report`)).body;
      expect(last).toMatchObject({ verdict: 'green', summary: { failed: 0 } });
      expect(await client.text(`/v1/loops/${loop.id}/cycles/1/report`, 'text/markdown')).toMatch(/404|403|1011/);
    }
  });

  /**
   * Starts a loop on `environment`, kills -9 the worker it is pinned to once `when` holds, and checks that
   * another worker adopted the lost cycle `n`: redeployed at its commit, green, claim released, branch pushed.
   */
  async function killPinnedWorker(environment: string, n: number, when: (l: LoopRecord) => boolean): Promise<void> {
    const id = (await client.json<{ id: string }>('POST', '/v1/loops', { body: { environment } })).body.id;
    ids[`killed ${environment}`] = id;
    const running = await until(
      `cycle ${n} at the kill point`,
      async () => {
        const l = await store.getLoop(id);
        return l?.cycle === n && when(l) ? l : undefined;
      },
      90_000,
    );
    const pinned = running.worker as string;
    const entry = (await client.get<{ workers: (WorkerEntry & { id: string })[] }>('/v1/workers')).workers.find((w) => w.id === pinned);
    const victim = survivors?.machines.find((m) => m.pid === entry?.pid);
    expect(victim, `the machine of pinned worker ${pinned}`).toBeDefined();
    const killedAt = Date.now();
    process.kill(victim!.pid, 'SIGKILL');
    await victim!.exited;

    const loop = await waitForEnd(store, id, 90_000);
    const recovery = Date.now() - killedAt;
    expect(loop.stop, JSON.stringify(loop.stop)).toMatchObject({ rule: 'green' });
    expect(loop.worker, 'the loop went on elsewhere').not.toBe(pinned);
    // What its machine ran cannot be stopped from another: the loop says so.
    expect(loop.notices?.some((m) => m.startsWith(`services worker ${pinned} started on its machine could not be stopped`))).toBe(true);
    const events = await store.readEvents(id, '0');
    expect(events.map((e) => e.message)).toContain(`worker ${pinned} lost; cycle ${n} redeployed on worker ${loop.worker} at ${running.commit?.slice(0, 7)}`);
    // Every stage of the redeployed cycle ran again, on the new worker, at the commit the remote had.
    const cycle = await store.getCycle(id, n);
    expect(cycle).toMatchObject({ worker: loop.worker, commit: running.commit });
    expect(Object.values(cycle?.stages ?? {}).map((s) => s.status)).not.toContain('failed');
    // No stuck claim, the dead worker's queues drained and forgotten.
    await until('teardown done', async () => (await store.getLoop(id))?.teardown === 'done', 30_000);
    expect(await store.activeLoop(environment)).toBeUndefined();
    expect(await redis.smembers(`${prefix}:pinned-workers`)).not.toContain(pinned);
    const remote = remotes[loop.source?.project as string] as string;
    expect(execFileSync('git', ['--git-dir', remote, 'rev-parse', `refs/heads/${loop.branch}`], { encoding: 'utf8' }).trim()).toBe(loop.commit);
    console.log(`${environment}: worker killed in cycle ${n}; verdict ${Math.round(recovery / 1000)} s after the kill`);
  }

  it('adopts the loop of a worker killed -9 mid-cycle: the cycle is redeployed on another and the loop ends green', { timeout: 120_000 }, async () => {
    // A worker is taken for dead 3 heartbeats after its last; its job's lock lapses in GREENLOOP_LOCK_DURATION.
    const fast = { GREENLOOP_WORKER_HEARTBEAT: '1s', GREENLOOP_LOCK_DURATION: '5s', GREENLOOP_STALLED_INTERVAL: '2s' };
    survivors = workerMachines({ root: machines, redisUrl, prefix, extra: { ...separate, ...fast } });
    for (const w of ['k1', 'k2', 'k3']) await survivors.start(w);
    await until('3 new workers on the loops queue', async () => (await queues.loops.getWorkersCount()) === 3, 30_000);
    // In cycle 2 (a commit only the pinned worker's integrate made, pushed since) with a stage job running.
    await killPinnedWorker('alpha/demo', 2, (l) => l.stage === 'deploy' || l.stage === 'test');
  });

  it('adopts a loop whose worker is killed while its fixers run: the failed fix children do not hold the controller', { timeout: 120_000 }, async () => {
    await survivors!.start('k4');
    await until('3 workers on the loops queue', async () => (await queues.loops.getWorkersCount()) === 3, 30_000);
    await killPinnedWorker('beta/demo', 1, (l) => l.stage === 'fix');
  });
});
