import {
  appendAudit,
  closeQueues,
  createConfigLoader,
  createQueues,
  createRedis,
  type Env,
  GreenloopError,
  getEnvironment,
  type Logger,
  LoopStore,
  parsePayload,
  type QueueName,
  type Redis,
  StagePayload,
  startLoop,
  syncSchedulesFromConfig,
  upgradeStore,
  waitReady,
} from '@greenloop/core';
import { type Job, type Processor, UnrecoverableError, Worker } from 'bullmq';
import { createDeployProviders, createLogSources } from './adapters.ts';
import { CancelRegistry } from './cancel.ts';
import type { WorkerContext } from './context.ts';
import { processLoop } from './controller.ts';
import { notify } from './notify/notifier.ts';
import { analyzeStage } from './stages/analyze.ts';
import { deployStage } from './stages/deploy.ts';
import { fixClusterJob, integrateStage } from './stages/fix.ts';
import { runStage, type StageOutput, type StageRun } from './stages/run-stage.ts';
import { testStage } from './stages/test.ts';

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
  const redis = createRedis(redisUrl, 'worker');
  await waitReady(redis, redisUrl);
  const store = new LoopStore(redis, env.GREENLOOP_PREFIX);
  // Before any job runs: jobs of loops started by an older greenloop read their records in this layout.
  await upgradeStore(store, log);
  const connection = redis;
  const queues = createQueues(connection, env.GREENLOOP_PREFIX);
  const cancels = await CancelRegistry.start(store, log);
  const deploy = createDeployProviders({ processEnv, log });
  const logs = createLogSources({ redis, prefix: env.GREENLOOP_PREFIX, log });
  const config = createConfigLoader(env.repo);
  const ctx: WorkerContext = {
    env,
    processEnv,
    log,
    store,
    queues,
    cancels,
    config,
    deployProvider: deploy.forService,
    stopDeployed: deploy.stop,
    logSource: logs,
  };

  // Fixer parallelism comes from greenloop.yaml (the largest of the environments' fixer.concurrency).
  let fixConcurrency = env.GREENLOOP_CONCURRENCY;
  try {
    const initial = await config();
    fixConcurrency = Math.max(1, ...Object.values(initial.environments).map((e) => e.fixer?.concurrency ?? 1));
    const synced = await syncSchedulesFromConfig(queues, initial);
    for (const bad of synced.invalid) log.error({ schedule: bad }, 'schedule in greenloop.yaml is invalid and was not created');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'greenloop.yaml could not be read at start-up; loops will report the problem');
  }

  const stage =
    <R>(name: 'deploy' | 'test' | 'analyze', fn: (c: WorkerContext, run: StageRun) => Promise<StageOutput<R>>) =>
    async (job: Job) => {
      const payload = StagePayload.parse(job.data);
      const rec = await runStage(ctx, job, name, payload, (run) => fn(ctx, run));
      return rec.status;
    };
  const processors: Record<QueueName, Processor> = {
    loops: (job, token) => processLoop(ctx, job, token as string),
    deploy: stage('deploy', deployStage),
    test: stage('test', testStage),
    analyze: stage('analyze', analyzeStage),
    fix: async (job) => {
      if (job.name === 'stage.integrate') {
        const payload = parsePayload('stage.integrate', job.data);
        return (await runStage(ctx, job, 'integrate', payload, (run) => integrateStage(ctx, run))).status;
      }
      return (await fixClusterJob(ctx, parsePayload('stage.fix', job.data))).outcome;
    },
    notify: async (job) => {
      const payload = parsePayload('notify', job.data);
      const loop = await store.getLoop(payload.loopId);
      if (!loop) return 'loop gone';
      const outcome = await notify(
        { store, env: processEnv, config: getEnvironment(await config(), loop.environment).notifications, baseUrl: env.GREENLOOP_URL, log },
        payload,
      );
      return outcome;
    },
    schedules: async (job) => {
      const { environment, schedule } = parsePayload('schedule.fire', job.data);
      getEnvironment(await config(), environment);
      const actor = { kind: 'schedule', name: schedule } as const;
      const out = await startLoop({ store, queues }, { environment, actor });
      if (out.kind === 'created')
        await appendAudit(redis, env.GREENLOOP_PREFIX, { actor, action: 'loop.start', target: out.loop.id, details: { environment } });
      if (out.kind === 'conflict') log.warn({ environment, schedule, activeLoopId: out.activeLoopId }, 'scheduled loop skipped: a loop is already running');
      return out.kind === 'conflict' ? `skipped: ${out.activeLoopId} running` : out.loop.id;
    },
  };
  const concurrency: Record<QueueName, number> = {
    loops: 50,
    deploy: env.GREENLOOP_CONCURRENCY,
    test: env.GREENLOOP_CONCURRENCY,
    analyze: env.GREENLOOP_CONCURRENCY,
    fix: fixConcurrency,
    notify: 1,
    schedules: 1,
  };
  // BullMQ never closes a connection it was handed: keep them to close on shutdown.
  const connections: Redis[] = [];
  const workers = (Object.keys(processors) as QueueName[]).map((q) => {
    const connection = redis.duplicate();
    connections.push(connection);
    const w = new Worker(q, guard(processors[q]), {
      connection,
      prefix: env.GREENLOOP_PREFIX,
      concurrency: concurrency[q],
      lockDuration: env.GREENLOOP_LOCK_DURATION,
      stalledInterval: env.GREENLOOP_STALLED_INTERVAL,
    });
    w.on('failed', (job, err) => log.warn({ queue: q, job: job?.id, err: err.message }, 'job failed'));
    w.on('error', (err) => log.error({ queue: q, err: err.message }, 'worker error'));
    return w;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  log.info({ queues: workers.length, prefix: env.GREENLOOP_PREFIX, repo: env.repo }, 'worker ready');

  return {
    async close() {
      // Stop taking work and let running jobs finish (or fail over on the next worker).
      await Promise.all(workers.map((w) => w.close()));
      await cancels.close();
      await closeQueues(queues);
      await Promise.all([redis, ...connections].map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}
