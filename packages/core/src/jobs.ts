import type { JobsOptions } from 'bullmq';
import { z } from 'zod';
import type { StageName } from './domain.ts';

/**
 * The job catalog: every job greenloop enqueues, its queue, payload schema and retry options. Payloads
 * carry ids only; state and evidence live in the store and the artifact directory. Workers parse the
 * payload when they pick a job up, so a malformed job fails loudly instead of half-running.
 */

export const QUEUE_NAMES = ['loops', 'deploy', 'test', 'shards', 'analyze', 'fix', 'notify', 'publish', 'schedules', 'maintenance'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

const loopId = z.string().regex(/^[a-z0-9-]{6,64}$/);
const cycle = z.number().int().positive();

export const LoopPayload = z.object({ loopId });
export const StagePayload = z.object({ loopId, cycle });
export const FixPayload = z.object({ loopId, cycle, fingerprint: z.string().regex(/^[a-f0-9]{6,64}$/) });
export const ShardPayload = z.object({ loopId, cycle, shard: z.number().int().positive(), count: z.number().int().min(2).max(64) });
export const NotifyPayload = z.object({
  loopId,
  kind: z.enum(['loop-started', 'cycle-finished', 'loop-finished']),
  cycle: cycle.optional(),
});

export const SchedulePayload = z.object({ environment: z.string().min(1), schedule: z.string().min(1) });
export const RetentionPayload = z.object({ dryRun: z.boolean().default(false) });

const retry = (attempts: number, delay: number): JobsOptions => ({ attempts, backoff: { type: 'exponential', delay } });

/**
 * What a job's final failure (its last attempt failed, or an UnrecoverableError) leaves behind; the
 * worker's handler map implements each one (see apps/worker/src/final-failure.ts):
 * - `fail-loop`: the loop is recorded `failed` with the reason and torn down, its environment released;
 * - `fail-stage`: the stage record (still `running`) is closed as `failed`, so the controller wakes to a reason;
 * - `fail-fix`: the cluster's fix outcome is recorded as `failed`;
 * - `fail-shard`: the shard's outcome is recorded as `crashed`, so the test stage merges the others without it;
 * - `notice`: a notice on the loop says what was not delivered;
 * - `publish-notice`: a notice and an event on the loop say the pull request was not opened or updated, and why;
 * - `log`: logged only (nothing else depends on it).
 */
export type FinalFailure = 'fail-loop' | 'fail-stage' | 'fail-fix' | 'fail-shard' | 'notice' | 'publish-notice' | 'log';

/**
 * `pinned` jobs need the disk (or the machine) of the worker their loop runs on: with
 * GREENLOOP_WORKER_DISKS=separate they go to that worker's own queue (see {@link pinnedQueueName}).
 */
type CatalogEntry = { queue: QueueName; schema: z.ZodType; options: JobsOptions; onFinalFailure: FinalFailure; pinned?: true };

export const JobCatalog = {
  /** The loop controller: advances the loop's state machine; parent of every stage job. */
  'loop.run': { queue: 'loops', schema: LoopPayload, options: retry(5, 2000), onFinalFailure: 'fail-loop' },
  'stage.deploy': { queue: 'deploy', schema: StagePayload, options: retry(3, 5000), onFinalFailure: 'fail-stage', pinned: true },
  'stage.test': { queue: 'test', schema: StagePayload, options: retry(2, 5000), onFinalFailure: 'fail-stage', pinned: true },
  /**
   * One shard of a sharded suite (tests.shards): the test stage enqueues them in the `shards` queue, so they
   * spread over every worker, and merges their outcomes. A shard whose worker died is retried once.
   */
  'stage.test-shard': { queue: 'shards', schema: ShardPayload, options: retry(2, 2000), onFinalFailure: 'fail-shard', pinned: true },
  'stage.analyze': { queue: 'analyze', schema: StagePayload, options: retry(3, 2000), onFinalFailure: 'fail-stage', pinned: true },
  /** One per failure cluster; they run in parallel up to the fix queue's concurrency. */
  'stage.fix': { queue: 'fix', schema: FixPayload, options: retry(2, 5000), onFinalFailure: 'fail-fix', pinned: true },
  'stage.integrate': { queue: 'fix', schema: StagePayload, options: retry(3, 2000), onFinalFailure: 'fail-stage', pinned: true },
  /**
   * Notifications never fail a loop: they are not children of the controller. A delivery that fails
   * (429, 5xx, network) is retried later, delayed by Retry-After when the receiver gives one.
   */
  notify: { queue: 'notify', schema: NotifyPayload, options: { attempts: 10, backoff: { type: 'retry-after' } }, onFinalFailure: 'notice' },
  /**
   * At loop end (green, or stopped with commits on its branch): pushes the branch and opens or updates the
   * pull request with the evidence. Not a child of the controller, so a GitHub outage never changes the
   * loop's verdict. 5xx and rate limits retry (in the job, then by BullMQ's backoff); 401/403/404/422 are
   * permanent (one event saying why, no retries).
   */
  'publish.pull-request': { queue: 'publish', schema: LoopPayload, options: retry(6, 30_000), onFinalFailure: 'publish-notice' },
  /**
   * GREENLOOP_WORKER_DISKS=separate: the part of a loop's teardown that needs the machine it ran on (its
   * local services stopped, its worktrees removed, its last evidence published), then the rest of it.
   */
  'loop.teardown': { queue: 'deploy', schema: LoopPayload, options: retry(3, 2000), onFinalFailure: 'fail-loop', pinned: true },
  /** Fired by a BullMQ job scheduler (cron + time zone); starts a loop recorded as started by the schedule. */
  'schedule.fire': { queue: 'schedules', schema: SchedulePayload, options: retry(3, 5000), onFinalFailure: 'log' },
  /** Retention: prunes finished loops older than GREENLOOP_RETENTION_DAYS; a job scheduler fires it every 6 h. */
  'retention.gc': { queue: 'maintenance', schema: RetentionPayload, options: retry(2, 60_000), onFinalFailure: 'log' },
} as const satisfies Record<string, CatalogEntry>;

export type JobName = keyof typeof JobCatalog;
export type JobPayload<N extends JobName> = z.output<(typeof JobCatalog)[N]['schema']>;

/**
 * Deterministic job ids make every step idempotent: re-adding the job for the same loop, cycle and stage
 * is a no-op in BullMQ, so a controller that crashes and replays never runs a stage twice.
 */
export function stageJobId(loopId: string, cycleN: number, stage: StageName, extra?: string): string {
  return [loopId, `c${cycleN}`, stage, extra].filter(Boolean).join('.');
}

/** Whether a job needs its loop's worker (see CatalogEntry.pinned). */
export function isPinnedJob(name: JobName): boolean {
  return (JobCatalog[name] as CatalogEntry).pinned === true;
}

/** The queues pinned jobs use: each worker consumes its own copy of them (GREENLOOP_WORKER_DISKS=separate). */
export const PINNED_QUEUES: readonly QueueName[] = [
  ...new Set(Object.values(JobCatalog as Record<string, CatalogEntry>).flatMap((e) => (e.pinned ? [e.queue] : []))),
];

/** A worker's own copy of `queue` (BullMQ queue names may not contain ':'). */
export function pinnedQueueName(queue: QueueName, worker: string): string {
  return `${queue}@${worker}`;
}

export function parsePayload<N extends JobName>(name: N, data: unknown): JobPayload<N> {
  return JobCatalog[name].schema.parse(data) as JobPayload<N>;
}

export function isJobName(name: string): name is JobName {
  return Object.hasOwn(JobCatalog, name);
}
