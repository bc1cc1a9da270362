import { type ConnectionOptions, type JobsOptions, Queue } from 'bullmq';
import { JobCatalog, type JobName, type JobPayload, QUEUE_NAMES, type QueueName } from './jobs.ts';

export type Queues = Record<QueueName, Queue>;

/** One BullMQ Queue per catalog queue, all under the install's prefix. */
export function createQueues(connection: ConnectionOptions, prefix: string): Queues {
  return Object.fromEntries(QUEUE_NAMES.map((q) => [q, new Queue(q, { connection, prefix })])) as Queues;
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}

/** Adds a catalog job with its default options; the payload is validated before it reaches Redis. */
export async function addJob<N extends JobName>(queues: Queues, name: N, payload: JobPayload<N>, opts: JobsOptions = {}) {
  const entry = JobCatalog[name];
  const data = entry.schema.parse(payload);
  return await queues[entry.queue].add(name, data, { removeOnComplete: { age: 7 * 86400 }, removeOnFail: { age: 30 * 86400 }, ...entry.options, ...opts });
}
