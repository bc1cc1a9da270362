import { isJobName, type JobName, type JobPayload, parsePayload } from '@greenloop/core';
import { type Job, type Processor, UnrecoverableError } from 'bullmq';

/** A handler for one catalog job: gets the parsed payload (trigger.dev's `jobs:` map style). */
export type JobHandler<N extends JobName> = (payload: JobPayload<N>, job: Job, token: string) => Promise<unknown>;
/** Every catalog job has exactly one handler; adding a job to the catalog without one does not compile. */
export type JobHandlers = { [N in JobName]: JobHandler<N> };

/** One BullMQ processor for every queue: parses the payload for the job's name and calls its handler. */
export function dispatcher(handlers: JobHandlers): Processor {
  return async (job, token) => {
    if (!isJobName(job.name)) throw new UnrecoverableError(`no handler for job "${job.name}"`);
    return await run(handlers, job.name, job, token ?? '');
  };
}

function run<N extends JobName>(handlers: JobHandlers, name: N, job: Job, token: string): Promise<unknown> {
  const handler: JobHandler<N> = handlers[name];
  return handler(parsePayload(name, job.data), job, token);
}
