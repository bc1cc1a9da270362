import { GREENLOOP_VERSION, registerWorker } from '@greenloop/core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { setupTestApi, type TestApi } from '../../testing.ts';

let t: TestApi;
beforeAll(async () => {
  t = await setupTestApi();
});
afterAll(async () => {
  await t.cleanup();
});

test('GET /v1/workers lists live workers (old and new versions side by side) and /metrics counts them', async () => {
  const old = registerWorker(t.store.redis, t.store.prefix, { id: 'w-old', version: '0.0.9', capacity: { deploy: 2, fix: 1 }, artifacts: 'local:/x' });
  const cur = registerWorker(t.store.redis, t.store.prefix, { id: 'w-new', capacity: { deploy: 4, fix: 2 }, artifacts: 'gs://b/greenloop/' });
  cur.jobStarted({ queue: 'fix', id: 'j1', name: 'stage.fix', loopId: 'loop-1', startedAt: new Date().toISOString() });
  await Promise.all([old.beat(), cur.beat()]);

  expect((await t.app.inject({ method: 'GET', url: '/v1/workers' })).statusCode).toBe(401);
  const res = await t.app.inject({ method: 'GET', url: '/v1/workers', headers: t.auth('viewer') });
  expect(res.statusCode).toBe(200);
  const body = res.json();
  expect(body.workers.map((w: { id: string }) => w.id).sort()).toEqual(['w-new', 'w-old']);
  expect(body.versions).toEqual({ '0.0.9': 1, [GREENLOOP_VERSION]: 1 });
  const w = body.workers.find((x: { id: string }) => x.id === 'w-new');
  expect(w).toMatchObject({ version: GREENLOOP_VERSION, capacity: { deploy: 4, fix: 2 }, artifacts: 'gs://b/greenloop/', pid: process.pid });
  expect(w.jobs).toEqual([expect.objectContaining({ queue: 'fix', id: 'j1', loopId: 'loop-1' })]);

  const metrics = (await t.app.inject({ method: 'GET', url: '/metrics', headers: t.auth('viewer') })).body;
  expect(metrics).toContain('greenloop_workers{version="0.0.9"} 1');
  expect(metrics).toContain(`greenloop_workers{version="${GREENLOOP_VERSION}"} 1`);
  expect(metrics).toContain('greenloop_worker_capacity{queue="deploy"} 6');
  expect(metrics).toContain('greenloop_worker_busy{queue="fix"} 1');

  // A graceful stop removes the entry; a crashed worker's entry expires (simulated: the key is gone).
  cur.jobEnded('fix', 'j1');
  await cur.stop();
  await t.store.redis.del(`${t.store.prefix}:worker:w-old`);
  expect((await t.app.inject({ method: 'GET', url: '/v1/workers', headers: t.auth('viewer') })).json().workers).toEqual([]);
  expect(await t.store.redis.zcard(`${t.store.prefix}:workers`)).toBe(0);
  await old.stop();
});
