import { type ConnectionOptions, type JobsOptions, Queue } from 'bullmq';
import { JobCatalog, type JobName, type JobPayload, pinnedQueueName, QUEUE_NAMES, type QueueName } from './jobs.ts';

export type Queues = Record<QueueName, Queue>;

/** One BullMQ Queue per catalog queue, all under the install's prefix. */
export function createQueues(connection: ConnectionOptions, prefix: string): Queues {
  return Object.fromEntries(QUEUE_NAMES.map((q) => [q, new Queue(q, { connection, prefix })])) as Queues;
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}

/** The workers that have (or had) pinned queues: adopters look through them, /metrics counts their jobs. */
export function pinnedWorkersKey(prefix: string): string {
  return `${prefix}:pinned-workers`;
}

/** Each worker's own copies of the pinned queues (GREENLOOP_WORKER_DISKS=separate), opened as first used. */
export class PinnedQueues {
  private readonly open = new Map<string, Queue>();
  private readonly connection: ConnectionOptions;
  private readonly prefix: string;

  constructor(connection: ConnectionOptions, prefix: string) {
    this.connection = connection;
    this.prefix = prefix;
  }

  /** `queue`'s copy that only `worker` consumes. */
  of(queue: QueueName, worker: string): Queue {
    const name = pinnedQueueName(queue, worker);
    let q = this.open.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.connection, prefix: this.prefix });
      this.open.set(name, q);
    }
    return q;
  }

  async close(): Promise<void> {
    await Promise.all([...this.open.values()].map((q) => q.close()));
    this.open.clear();
  }
}

/** A worker's copies of the queues and that worker's id: where the jobs of a loop pinned to it go. */
export interface PinTarget {
  queues: PinnedQueues;
  worker: string;
}

/** The queue a catalog job goes to: its catalog queue, or with `pinned` that worker's own copy of it. */
export function queueOf(queues: Queues, name: JobName, pinned?: PinTarget): Queue {
  const queue = JobCatalog[name].queue;
  return pinned ? pinned.queues.of(queue, pinned.worker) : queues[queue];
}

/**
 * Adds a catalog job with its default options; the payload is validated before it reaches Redis. With
 * `pinned` (a worker's copies of the queues, and that worker's id) the job goes to that worker's own queue.
 */
export async function addJob<N extends JobName>(queues: Queues, name: N, payload: JobPayload<N>, opts: JobsOptions = {}, pinned?: PinTarget) {
  const entry = JobCatalog[name];
  const data = entry.schema.parse(payload);
  return await queueOf(queues, name, pinned).add(name, data, {
    removeOnComplete: { age: 7 * 86400 },
    removeOnFail: { age: 30 * 86400 },
    ...entry.options,
    ...opts,
  });
}
