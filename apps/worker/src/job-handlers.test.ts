// The handler map: one handler per catalog job, given the payload parsed by the job's name.
import { closeQueues, createQueues, type JobName, type Queues } from '@greenloop/core';
import { testRedis } from '@greenloop/core/testing';
import { Job, UnrecoverableError } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import { dispatcher, type JobHandlers } from './job-handlers.ts';

describe('dispatcher (real BullMQ jobs)', () => {
  const t = testRedis();
  const queues: Queues = createQueues(t.redis, t.prefix);
  afterAll(async () => {
    await closeQueues(queues);
    await t.cleanup();
  });
  const calls: [JobName, unknown][] = [];
  const record = (name: JobName) => async (payload: unknown) => {
    calls.push([name, payload]);
    return name;
  };
  const handlers: JobHandlers = {
    'loop.run': record('loop.run'),
    'stage.deploy': record('stage.deploy'),
    'stage.test': record('stage.test'),
    'stage.test-shard': record('stage.test-shard'),
    'stage.analyze': record('stage.analyze'),
    'stage.fix': record('stage.fix'),
    'stage.integrate': record('stage.integrate'),
    notify: record('notify'),
    'publish.pull-request': record('publish.pull-request'),
    'loop.teardown': record('loop.teardown'),
    'schedule.fire': record('schedule.fire'),
    'retention.gc': record('retention.gc'),
  };
  const run = dispatcher(handlers);

  it('calls the job’s own handler with its parsed payload (defaults filled in)', async () => {
    const fix = await queues.fix.add('stage.fix', { loopId: 'mdisp0-00000001', cycle: 2, fingerprint: 'abcdef12' });
    expect(await run(fix, 'token')).toBe('stage.fix');
    const gc = await queues.maintenance.add('retention.gc', {});
    expect(await run(gc, 'token')).toBe('retention.gc');
    expect(calls).toEqual([
      ['stage.fix', { loopId: 'mdisp0-00000001', cycle: 2, fingerprint: 'abcdef12' }],
      ['retention.gc', { dryRun: false }],
    ]);
  });

  it('refuses a payload that does not match its schema, and a job name the catalog does not know, without calling a handler', async () => {
    calls.length = 0;
    const bad = await queues.fix.add('stage.fix', { loopId: 'mdisp0-00000001', cycle: 2, fingerprint: 'NOT-HEX' });
    await expect(run(bad, 'token')).rejects.toBeInstanceOf(ZodError);
    const unknown = await Job.create(queues.fix, 'stage.unknown', { loopId: 'mdisp0-00000001' });
    await expect(run(unknown, 'token')).rejects.toBeInstanceOf(UnrecoverableError);
    expect(calls).toEqual([]);
  });
});
