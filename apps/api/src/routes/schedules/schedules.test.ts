import { join } from 'node:path';
import type { GreenloopConfig, JobPayload } from '@greenloop/core';
import {
  closeQueues,
  createQueues,
  fireSchedule,
  getSchedule,
  listSchedules,
  loadConfig,
  nextRuns,
  ProjectStore,
  parsePayload,
  projectSource,
  readAudit,
  syncSchedulesFromConfig,
  upsertSchedule,
  validateSchedule,
} from '@greenloop/core';
import { Worker } from 'bullmq';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { setupTestApi, type TestApi } from '../../testing.ts';

let t: TestApi;

beforeEach(async () => {
  t = await setupTestApi();
});

afterEach(async () => {
  await t.cleanup();
});

async function waitFor<T>(fn: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('validation', () => {
  test('cron patterns and IANA time zones', () => {
    expect(validateSchedule('0 3 * * 1-5', 'Europe/Berlin')).toEqual([]);
    expect(validateSchedule('*/10 * * * * *', 'UTC')).toEqual([]);
    expect(validateSchedule('@daily', 'America/New_York')).toEqual([]);
    expect(validateSchedule('61 * * * *', 'UTC')[0]).toMatch(/^cron: Constraint error/);
    expect(validateSchedule('* * *', 'UTC')[0]).toMatch(/expected 5 fields/);
    expect(validateSchedule('0 3 * * *', 'Mars/Olympus')).toEqual([
      'timezone: "Mars/Olympus" is not an IANA time zone (e.g. "UTC", "Europe/Berlin", "America/New_York")',
    ]);
    expect(nextRuns('0 3 * * *', 'Europe/Berlin', 2, new Date('2026-07-01T12:00:00Z'))).toEqual(['2026-07-02T01:00:00.000Z', '2026-07-03T01:00:00.000Z']);
  });
});

describe('/v1/schedules', () => {
  test('create, read, update, delete; each audited', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/schedules',
      headers: t.auth('operator'),
      payload: { environment: 'production', name: 'hourly', cron: '0 * * * *' },
    });
    expect(created.statusCode).toBe(201);
    const body = created.json();
    expect(body).toMatchObject({
      id: 'production.hourly',
      environment: 'production',
      name: 'hourly',
      cron: '0 * * * *',
      timezone: 'UTC',
      source: 'api',
      createdBy: 'test-operator',
    });
    expect(body.nextRuns).toHaveLength(3);
    expect(Date.parse(body.next)).toBeGreaterThan(Date.now());

    const dup = await t.app.inject({
      method: 'POST',
      url: '/v1/schedules',
      headers: t.auth('operator'),
      payload: { environment: 'production', name: 'hourly', cron: '0 * * * *' },
    });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().code).toBe('SCHEDULE_EXISTS');

    const one = await t.app.inject({ method: 'GET', url: '/v1/schedules/production.hourly', headers: t.auth('viewer') });
    expect(one.json().cron).toBe('0 * * * *');

    const updated = await t.app.inject({
      method: 'PUT',
      url: '/v1/schedules/production.hourly',
      headers: t.auth('operator'),
      payload: { cron: '30 2 * * *', timezone: 'Asia/Tokyo' },
    });
    expect(updated.statusCode).toBe(200);
    expect(updated.json()).toMatchObject({ cron: '30 2 * * *', timezone: 'Asia/Tokyo', nextRuns: nextRuns('30 2 * * *', 'Asia/Tokyo') });

    const list = await t.app.inject({ method: 'GET', url: '/v1/schedules?environment=production', headers: t.auth('viewer') });
    expect(list.json().schedules.map((s: { id: string }) => s.id)).toEqual(['production.hourly']);

    const del = await t.app.inject({ method: 'DELETE', url: '/v1/schedules/production.hourly', headers: t.auth('operator') });
    expect(del.json()).toEqual({ id: 'production.hourly', deleted: true });
    expect((await t.app.inject({ method: 'GET', url: '/v1/schedules/production.hourly', headers: t.auth('viewer') })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'DELETE', url: '/v1/schedules/production.hourly', headers: t.auth('operator') })).statusCode).toBe(404);

    const actions = (await readAudit(t.store.redis, t.store.prefix, { limit: 10 })).entries.map((e) => e.action);
    expect(actions).toEqual(['schedule.delete', 'schedule.update', 'schedule.create']);
  });

  test('rejects bad cron, bad time zone, unknown environment, extra fields', async () => {
    const post = (payload: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/v1/schedules', headers: t.auth('operator'), payload });
    const cron = await post({ environment: 'staging', name: 'bad', cron: '99 * * * *' });
    expect(cron.statusCode).toBe(400);
    expect(cron.json()).toMatchObject({ code: 'SCHEDULE_INVALID', message: expect.stringContaining('cron: Constraint error') });
    const tz = await post({ environment: 'staging', name: 'bad', cron: '0 3 * * *', timezone: 'Europe/Atlantis' });
    expect(tz.json()).toMatchObject({ code: 'SCHEDULE_INVALID', message: expect.stringContaining('"Europe/Atlantis" is not an IANA time zone') });
    const env = await post({ environment: 'qa', name: 'bad', cron: '0 3 * * *' });
    expect(env.json().code).toBe('UNKNOWN_ENVIRONMENT');
    const extra = await post({ environment: 'staging', name: 'bad', cron: '0 3 * * *', command: ['sh'] });
    expect(extra.json().message).toBe('body: unknown field "command" (not allowed)');
    const name = await post({ environment: 'staging', name: 'Bad Name', cron: '0 3 * * *' });
    expect(name.json().message).toMatch(/^body\.name: has an invalid format/);
    expect(await listSchedules(t.queues)).toEqual([]);
  });

  test('a project environment: created as <project>/<environment>.<name>, addressed with %2F, filtered by the long name', async () => {
    await t.app.inject({ method: 'POST', url: '/v1/projects', headers: t.auth('admin'), payload: { name: 'shop', remote: '/srv/git/shop.git' } });
    const post = (environment: string) =>
      t.app.inject({ method: 'POST', url: '/v1/schedules', headers: t.auth('operator'), payload: { environment, name: 'nightly', cron: '0 2 * * *' } });
    const created = await post('shop/staging');
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ id: 'shop/staging.nightly', environment: 'shop/staging', name: 'nightly', source: 'api' });
    await post('staging');

    const url = `/v1/schedules/${encodeURIComponent('shop/staging.nightly')}`;
    expect(url).toBe('/v1/schedules/shop%2Fstaging.nightly');
    expect((await t.app.inject({ method: 'GET', url, headers: t.auth('viewer') })).json()).toMatchObject({ id: 'shop/staging.nightly' });
    const put = await t.app.inject({ method: 'PUT', url, headers: t.auth('operator'), payload: { cron: '0 4 * * *' } });
    expect(put.json()).toMatchObject({ id: 'shop/staging.nightly', cron: '0 4 * * *' });
    const list = await t.app.inject({ method: 'GET', url: '/v1/schedules?environment=shop%2Fstaging', headers: t.auth('viewer') });
    expect(list.json().schedules.map((s: { id: string }) => s.id)).toEqual(['shop/staging.nightly']);
    expect((await t.app.inject({ method: 'DELETE', url, headers: t.auth('operator') })).json()).toEqual({ id: 'shop/staging.nightly', deleted: true });
    expect((await listSchedules(t.queues)).map((s) => s.id)).toEqual(['staging.nightly']);

    const unknown = await post('billing/staging');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'PROJECT_NOT_FOUND', message: expect.stringContaining('unknown project "billing"') });
  });

  test('schedules declared in greenloop.yaml cannot be changed through the API', async () => {
    await syncSchedulesFromConfig(t.queues, await loadConfig(join(t.repo, 'greenloop.yaml')));
    const put = await t.app.inject({ method: 'PUT', url: '/v1/schedules/staging.nightly', headers: t.auth('operator'), payload: { cron: '0 4 * * *' } });
    expect(put.statusCode).toBe(409);
    expect(put.json().code).toBe('SCHEDULE_FROM_CONFIG');
    const del = await t.app.inject({ method: 'DELETE', url: '/v1/schedules/staging.nightly', headers: t.auth('operator') });
    expect(del.statusCode).toBe(409);
    const list = await t.app.inject({ method: 'GET', url: '/v1/schedules', headers: t.auth('viewer') });
    expect(list.json().schedules).toMatchObject([{ id: 'staging.nightly', source: 'config', cron: '0 3 * * *', timezone: 'Europe/Berlin' }]);
  });
});

describe('syncSchedulesFromConfig', () => {
  test('creates, keeps, updates and removes config schedules; leaves API ones alone; reports invalid ones', async () => {
    const base = await loadConfig(join(t.repo, 'greenloop.yaml'));
    const withSchedules = (schedules: { name: string; cron: string; timezone?: string }[]): GreenloopConfig => {
      const config = structuredClone(base);
      (config.environments.staging as { schedules: unknown[] }).schedules = schedules.map((s) => ({ timezone: 'UTC', ...s }));
      return config;
    };
    await upsertSchedule(t.queues, { environment: 'production', name: 'manual', cron: '0 1 * * *', timezone: 'UTC', source: 'api' });
    expect(await syncSchedulesFromConfig(t.queues, withSchedules([{ name: 'nightly', cron: '0 3 * * *' }]))).toEqual({
      upserted: ['staging.nightly'],
      removed: [],
      unchanged: [],
      invalid: [],
    });
    expect(await syncSchedulesFromConfig(t.queues, withSchedules([{ name: 'nightly', cron: '0 3 * * *' }]))).toMatchObject({
      upserted: [],
      unchanged: ['staging.nightly'],
    });
    expect(await syncSchedulesFromConfig(t.queues, withSchedules([{ name: 'nightly', cron: '0 5 * * *' }]))).toMatchObject({ upserted: ['staging.nightly'] });
    expect((await getSchedule(t.queues, 'staging.nightly'))?.cron).toBe('0 5 * * *');
    const res = await syncSchedulesFromConfig(t.queues, withSchedules([{ name: 'broken', cron: 'every day' }]));
    expect(res).toMatchObject({ removed: ['staging.nightly'], upserted: [] });
    expect(res.invalid[0]?.id).toBe('staging.broken');
    expect((await listSchedules(t.queues)).map((s) => s.id)).toEqual(['production.manual']);
  });
});

describe('firing', () => {
  /** What the worker does with schedule.fire (fireSchedule), on a BullMQ worker of the test's own. */
  function fireScheduleJobs(fired: JobPayload<'schedule.fire'>[], connections: { disconnect(): void }[]): Worker {
    const connection = t.store.redis.duplicate();
    connections.push(connection);
    const deps = { store: t.store, projects: new ProjectStore(t.store), config: () => loadConfig(join(t.repo, 'greenloop.yaml')) };
    return new Worker(
      'schedules',
      async (job) => {
        const payload = parsePayload('schedule.fire', job.data);
        fired.push(payload);
        await fireSchedule({ ...deps, queues: t.queues }, payload);
      },
      { connection, prefix: t.store.prefix },
    );
  }

  test('a schedule fires schedule.fire jobs that start loops, and survives closing and recreating the queues', async () => {
    await upsertSchedule(t.queues, { environment: 'staging', name: 'every-second', cron: '* * * * * *', timezone: 'UTC', source: 'api' });

    const fired: JobPayload<'schedule.fire'>[] = [];
    const connections: { disconnect(): void }[] = [];
    const startWorker = () => fireScheduleJobs(fired, connections);
    let worker = startWorker();
    const loop = await waitFor(async () => (await t.store.listLoops({ limit: 10, environment: 'staging' })).loops[0]);
    expect(loop.startedBy).toEqual({ kind: 'schedule', name: 'every-second' });
    expect(fired[0]).toEqual({ environment: 'staging', schedule: 'every-second' });
    await worker.close();

    // "Restart": every queue object gone, new ones made; the scheduler lives in Redis and fires again.
    await closeQueues(t.queues);
    const queues = createQueues(t.store.redis, t.store.prefix);
    t.queues = queues;
    const again = await getSchedule(queues, 'staging.every-second');
    expect(again).toMatchObject({ cron: '* * * * * *', environment: 'staging', source: 'api' });
    const before = fired.length;
    worker = startWorker();
    await waitFor(async () => (fired.length > before ? true : undefined));
    await worker.close();
    for (const c of connections) c.disconnect();
  });

  test("a project schedule starts a loop with the project's source, audited as the schedule's", async () => {
    const projects = new ProjectStore(t.store);
    const shop = await projects.create({ name: 'shop', remote: '/srv/git/shop.git', baseBranch: 'trunk' }, 'test-admin');
    await upsertSchedule(t.queues, { environment: 'shop/staging', name: 'every-second', cron: '* * * * * *', timezone: 'UTC', source: 'api' });
    const fired: JobPayload<'schedule.fire'>[] = [];
    const connections: { disconnect(): void }[] = [];
    const worker = fireScheduleJobs(fired, connections);
    const loop = await waitFor(async () => (await t.store.listLoops({ limit: 10, environment: 'shop/staging' })).loops[0]);
    await worker.close();
    for (const c of connections) c.disconnect();
    expect(loop).toMatchObject({ environment: 'shop/staging', startedBy: { kind: 'schedule', name: 'every-second' }, source: projectSource(shop) });
    const audit = (await readAudit(t.store.redis, t.store.prefix, { limit: 10 })).entries.find((e) => e.target === loop.id);
    expect(audit).toMatchObject({ action: 'loop.start', actor: { kind: 'schedule', name: 'every-second' }, details: { environment: 'shop/staging' } });
  });

  test('a schedule whose project was removed fails its job saying so, and starts nothing', async () => {
    const projects = new ProjectStore(t.store);
    const deps = { store: t.store, queues: t.queues, projects, config: () => loadConfig(join(t.repo, 'greenloop.yaml')) };
    await expect(fireSchedule(deps, { environment: 'gone/staging', schedule: 'nightly' })).rejects.toMatchObject({
      code: 'PROJECT_NOT_FOUND',
      retryable: false,
      message: expect.stringContaining('unknown project "gone" (environment "gone/staging")'),
    });
    await expect(fireSchedule(deps, { environment: 'qa', schedule: 'nightly' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    expect((await t.store.listLoops({ limit: 10 })).loops).toEqual([]);
  });
});
