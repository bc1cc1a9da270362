import {
  addKnownSecrets,
  checkRedisAuth,
  closeQueues,
  createArtifactStore,
  createConfigLoader,
  createQueues,
  createRedis,
  type Env,
  fireSchedule,
  GreenloopError,
  isConnectionError,
  type JobPayload,
  type JobStage,
  type Logger,
  LoopStore,
  newWorkerId,
  PINNED_QUEUES,
  PinnedQueues,
  PROJECTS_CAPABILITY,
  ProjectStore,
  pinnedQueueName,
  QUEUE_NAMES,
  type QueueName,
  type Redis,
  RedisConnectionLog,
  registerWorker,
  type StageResult,
  secretValuesOf,
  syncSchedulesFromConfig,
  TERMINAL_STATES,
  upgradeStore,
  waitReady,
} from '@greenloop/core';
import { type Job, type Processor, UnrecoverableError, Worker } from 'bullmq';
import { createDeployProviders, createLogSources } from './adapters.ts';
import { startAdoption } from './affinity/adoption.ts';
import { loopAffinity } from './affinity/pinning.ts';
import { CancelRegistry } from './cancel.ts';
import { startClaimHeartbeat } from './claim-heartbeat.ts';
import { createCommitConfigLoader } from './config-at-commit.ts';
import { loadEnvironment, type WorkerContext } from './context.ts';
import { processLoop } from './controller.ts';
import { finalFailureHandlers, onJobFailed } from './final-failure.ts';
import { loopRepositories } from './git/loop-repository.ts';
import { Mirrors } from './git/mirror.ts';
import { dispatcher, type JobHandlers } from './job-handlers.ts';
import { retryAfterBackoff, runNotifyJob } from './notify/notify-job.ts';
import { runPullRequestJob } from './publish/pull-request-job.ts';
import { pruneFinishedLoops } from './retention.ts';
import { withSecretsKnown } from './secrets-known.ts';
import { analyzeStage } from './stages/analyze.ts';
import { deployStage } from './stages/deploy.ts';
import { fixClusterJob, integrateStage } from './stages/fix.ts';
import { runStage, type StageOutput, type StageRun } from './stages/run-stage.ts';
import { testStage } from './stages/test.ts';
import { testShardJob } from './stages/test-shard.ts';
import { teardown } from './teardown.ts';

export interface RunningWorker {
  close(): Promise<void>;
}

/** Turns permanent errors into UnrecoverableError so BullMQ does not retry them. */
function guard(fn: Processor): Processor {
  return async (job, token) => {
    try {
      return await fn(job, token);
    } catch (err) {
      if (err instanceof GreenloopError && !err.retryable) throw new UnrecoverableError(`${err.code}: ${err.message}`);
      throw err;
    }
  };
}

/**
 * The worker's composition root: one BullMQ Worker per queue, adapters picked here and nowhere else.
 * `processEnv` is the process environment read once by the entry point (fixers and test suites get
 * allow-listed parts of it; nothing else reads process.env).
 */
export async function startWorker(env: Env, log: Logger, redisUrl: string, processEnv: Readonly<Record<string, string | undefined>>): Promise<RunningWorker> {
  // Every connection of this process (duplicates included) reports reachability through one logger.
  const redisLog = new RedisConnectionLog(log);
  const redis = redisLog.watch(createRedis(redisUrl, 'worker'), 'worker');
  await waitReady(redis, redisUrl);
  // The worker runs untrusted suites and services on the host network: a Redis they can write is said loudly.
  await checkRedisAuth(redisUrl, log, env.GREENLOOP_REDIS_AUTH).catch((err: unknown) => {
    redis.disconnect();
    throw err;
  });
  const store = new LoopStore(redis, env.GREENLOOP_PREFIX, { claimLeaseMs: env.GREENLOOP_CLAIM_LEASE });
  const projects = new ProjectStore(store);
  // Before any job runs: jobs of loops started by an older greenloop read their records in this layout.
  await upgradeStore(store, log);
  const connection = redis;
  const queues = createQueues(connection, env.GREENLOOP_PREFIX);
  for (const q of Object.values(queues)) q.on('error', (err) => redisLog.error('queue', err));
  const cancels = await CancelRegistry.start(store, log);
  const deploy = createDeployProviders({ processEnv, log });
  const logs = createLogSources({ redis, prefix: env.GREENLOOP_PREFIX, log });
  const artifacts = await createArtifactStore(env);
  log.info({ artifacts: artifacts.location }, 'artifact store');
  const loadConfig = createConfigLoader(env.repo);
  // Every secret greenloop knows is redacted by value: its own env now, each *Env greenloop.yaml names on load.
  addKnownSecrets(secretValuesOf(processEnv, [], redisUrl));
  const config = async () => withSecretsKnown(await loadConfig(), processEnv);
  // A loop's config is its base commit's: the union of every config loaded is known to the redactor.
  const configAt = createCommitConfigLoader((c) => withSecretsKnown(c, processEnv));
  // Project loops work in this worker's mirror of their remote; loops without a project in GREENLOOP_REPO.
  const mirrors = new Mirrors({
    home: env.home,
    maxBytes: env.GREENLOOP_MIRRORS_MAX_MB * 1024 * 1024,
    processEnv,
    log,
    isRunning: async (loopId) => {
      const loop = await store.getLoop(loopId);
      return !!loop && (!TERMINAL_STATES.includes(loop.state) || loop.teardown === 'pending');
    },
  });
  const workerId = newWorkerId();
  // Separate disks: this worker's own copies of the pinned queues, and the copies of the others it adds to.
  const pinnedQueues = env.GREENLOOP_WORKER_DISKS === 'separate' ? new PinnedQueues(connection, env.GREENLOOP_PREFIX) : undefined;
  const ctx: WorkerContext = {
    env,
    processEnv,
    log,
    store,
    queues,
    cancels,
    config,
    configAt,
    repos: loopRepositories(env.repo, mirrors),
    deployProvider: deploy.forService,
    stopDeployed: deploy.stop,
    logSource: logs,
    artifacts,
    ...(pinnedQueues ? { affinity: loopAffinity(redis, env.GREENLOOP_PREFIX, workerId, pinnedQueues) } : {}),
  };

  // Fixer parallelism comes from greenloop.yaml (the largest of the environments' fixer.concurrency).
  let fixConcurrency = env.GREENLOOP_CONCURRENCY;
  // Shard slots: enough for the largest tests.shards here, so one worker alone still runs them side by side.
  let shardConcurrency = env.GREENLOOP_CONCURRENCY;
  try {
    const initial = await config();
    fixConcurrency = Math.max(1, ...Object.values(initial.environments).map((e) => e.fixer?.concurrency ?? 1));
    shardConcurrency = Math.max(env.GREENLOOP_CONCURRENCY, ...Object.values(initial.environments).map((e) => (e.tests.shards === 'auto' ? 1 : e.tests.shards)));
    const synced = await syncSchedulesFromConfig(queues, initial);
    for (const bad of synced.invalid) log.error({ schedule: bad }, 'schedule in greenloop.yaml is invalid and was not created');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'greenloop.yaml could not be read at start-up; loops will report the problem');
  }

  // One handler per catalog job, typed by its payload; queues dispatch on the job name.
  const stage =
    <S extends JobStage>(name: S, fn: (c: WorkerContext, run: StageRun) => Promise<StageOutput<StageResult<S>>>) =>
    async (payload: JobPayload<'stage.deploy'>, job: Job) =>
      (await runStage(ctx, job, name, payload, (run) => fn(ctx, run))).status;
  const handlers: JobHandlers = {
    'loop.run': (_payload, job, token) => processLoop(ctx, job, token),
    'stage.deploy': stage('deploy', deployStage),
    'stage.test': stage('test', testStage),
    'stage.test-shard': (payload, job) => testShardJob(ctx, payload, job),
    'stage.analyze': stage('analyze', analyzeStage),
    'stage.integrate': stage('integrate', integrateStage),
    'stage.fix': async (payload, job, token) => (await fixClusterJob(ctx, payload, job, token)).outcome,
    notify: async (payload, job, token) => {
      const loop = await store.getLoop(payload.loopId);
      if (!loop) return 'loop gone';
      const deps = {
        store,
        env: processEnv,
        config: (await loadEnvironment(ctx, loop)).environment.notifications,
        baseUrl: env.GREENLOOP_URL,
        log,
        ...(env.GREENLOOP_SLACK_API_URL ? { slackApiUrl: env.GREENLOOP_SLACK_API_URL } : {}),
      };
      return await runNotifyJob(deps, payload, job, token);
    },
    'publish.pull-request': async (payload) => (await runPullRequestJob(ctx, payload)).status,
    'schedule.fire': async (payload) => {
      const { environment, schedule } = payload;
      const out = await fireSchedule({ store, queues, projects, config }, payload);
      if (out.kind === 'conflict') log.warn({ environment, schedule, activeLoopId: out.activeLoopId }, 'scheduled loop skipped: a loop is already running');
      return out.kind === 'conflict' ? `skipped: ${out.activeLoopId} running` : out.loop.id;
    },
    'loop.teardown': async ({ loopId }) => {
      const loop = await store.getLoop(loopId);
      return loop ? (await teardown(ctx, loop)).teardown : 'loop gone';
    },
    'retention.gc': async ({ dryRun }) => {
      const report = await pruneFinishedLoops({
        store,
        artifacts,
        repo: env.repo,
        home: env.home,
        retentionMs: env.GREENLOOP_RETENTION_DAYS * 86_400_000,
        dryRun,
        log,
      });
      return { loops: report.loops.length, emptyDirs: report.emptyDirs.length };
    },
  };
  const processor = dispatcher(handlers);
  const finalFailure = finalFailureHandlers(ctx);
  const concurrency: Record<QueueName, number> = {
    loops: 50,
    deploy: env.GREENLOOP_CONCURRENCY,
    test: env.GREENLOOP_CONCURRENCY,
    shards: shardConcurrency,
    analyze: env.GREENLOOP_CONCURRENCY,
    fix: fixConcurrency,
    notify: 1,
    publish: 2,
    schedules: 1,
    maintenance: 1,
  };
  // In the registry (GET /v1/workers, /metrics): version, capacity and running jobs, every GREENLOOP_WORKER_HEARTBEAT (15 s).
  // `projects`: this worker runs loops with a source (LoopRecord.source); the API refuses project loops while a worker without it is live.
  const registration = registerWorker(
    redis,
    env.GREENLOOP_PREFIX,
    { id: workerId, capacity: concurrency, artifacts: artifacts.location, capabilities: [PROJECTS_CAPABILITY] },
    env.GREENLOOP_WORKER_HEARTBEAT,
  );
  // Around the processor rather than on worker events: a controller that moves to waiting-children
  // returns from its processor but emits neither `completed` nor `failed`.
  const tracked =
    (queue: string, fn: Processor): Processor =>
    async (job, token) => {
      const id = job.id ?? '?';
      const loopId = (job.data as { loopId?: unknown } | undefined)?.loopId;
      registration.jobStarted({ queue, id, name: job.name, ...(typeof loopId === 'string' ? { loopId } : {}), startedAt: new Date().toISOString() });
      try {
        return await fn(job, token);
      } finally {
        registration.jobEnded(queue, id);
      }
    };
  // Separate disks: a pinned job whose loop was re-pinned since (this worker was taken for dead) is not
  // this worker's any more: it completes without running, and the controller goes on where the loop is.
  const pinnedHere =
    (fn: Processor): Processor =>
    async (job, token) => {
      const loopId = (job.data as { loopId?: unknown } | undefined)?.loopId;
      const loop = typeof loopId === 'string' ? await store.getLoop(loopId) : undefined;
      if (loop?.worker && loop.worker !== workerId) return `not run: loop ${loop.id} is pinned to worker ${loop.worker} now`;
      return await fn(job, token);
    };
  // BullMQ never closes a connection it was handed: keep them to close on shutdown.
  const connections: Redis[] = [];
  // Every catalog queue, then (separate disks) this worker's own copy of each pinned queue, with the same capacity.
  const consumed: { queue: QueueName; name: string; processor: Processor }[] = [
    ...QUEUE_NAMES.map((q) => ({ queue: q, name: q, processor: guard(processor) })),
    ...(pinnedQueues ? PINNED_QUEUES.map((q) => ({ queue: q, name: pinnedQueueName(q, workerId), processor: pinnedHere(guard(processor)) })) : []),
  ];
  const workers = consumed.map(({ queue: q, name, processor: run }) => {
    const connection = redis.duplicate();
    connections.push(connection);
    const w = new Worker(name, tracked(q, run), {
      connection,
      prefix: env.GREENLOOP_PREFIX,
      concurrency: concurrency[q],
      lockDuration: env.GREENLOOP_LOCK_DURATION,
      stalledInterval: env.GREENLOOP_STALLED_INTERVAL,
      // Only non-builtin backoff types reach this: the notify jobs' `retry-after`.
      settings: { backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) => retryAfterBackoff(attemptsMade, err) },
    });
    w.on('failed', (job, err) => {
      log.warn({ queue: q, job: job?.id, err: err.message }, 'job failed');
      void onJobFailed(ctx, finalFailure, job, err);
    });
    w.on('error', (err) => (isConnectionError(err) ? redisLog.error(`worker:${q}`, err) : log.error({ queue: q, err: err.message }, 'worker error')));
    return w;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  const affinity = ctx.affinity;
  const heartbeat = startClaimHeartbeat({
    store,
    queues,
    log,
    ...(affinity
      ? {
          tearingDown: async (loopId: string) => {
            const loop = await store.getLoop(loopId);
            return loop?.teardown === 'pending' && !!loop.worker && (await affinity.isLive(loop.worker));
          },
        }
      : {}),
  });
  const adoption = affinity
    ? startAdoption({
        store,
        log,
        affinity,
        connection: redis,
        heartbeatMs: env.GREENLOOP_WORKER_HEARTBEAT,
        lockDurationMs: env.GREENLOOP_LOCK_DURATION,
        tearDownWithout: async (loopId, dead) => {
          const loop = await store.getLoop(loopId);
          if (loop) await teardown(ctx, loop, { machineLost: dead });
        },
      })
    : undefined;
  // Retention runs every 6 h on whichever worker picks it up (one scheduler, upserted by every worker).
  await queues.maintenance.upsertJobScheduler('retention', { every: 6 * 3_600_000 }, { name: 'retention.gc', data: { dryRun: false } });
  log.info({ queues: workers.length, prefix: env.GREENLOOP_PREFIX, repo: env.repo }, 'worker ready');

  return {
    async close() {
      // Stop taking work and let running jobs finish (or fail over on the next worker).
      await Promise.all(workers.map((w) => w.close()));
      await adoption?.stop();
      await registration.stop().catch(() => undefined);
      await heartbeat.stop();
      await cancels.close();
      await closeQueues(queues);
      await pinnedQueues?.close();
      await artifacts.close();
      await Promise.all([redis, ...connections].map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}
