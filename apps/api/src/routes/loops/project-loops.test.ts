import { PROJECTS_CAPABILITY, readAudit, recordFixerSpend, registerWorker } from '@greenloop/core';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { setupTestApi, type TestApi } from '../../testing.ts';

/** Loops on `<project>/<environment>`: created with the project's source, and the long name wherever environments go. */

let t: TestApi;

beforeEach(async () => {
  t = await setupTestApi();
  const shop = await t.app.inject({
    method: 'POST',
    url: '/v1/projects',
    headers: t.auth('admin'),
    payload: { name: 'shop', remote: 'git@github.com:acme/shop.git', baseBranch: 'trunk', credentialsSecret: 'SHOP_DEPLOY_KEY' },
  });
  expect(shop.statusCode, shop.body).toBe(201);
});

afterEach(async () => {
  await t.cleanup();
});

const start = (environment: string, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'POST', url: '/v1/loops', headers: { ...t.auth('operator'), ...headers }, payload: { environment } });

const SHOP_SOURCE = { project: 'shop', remote: 'git@github.com:acme/shop.git', baseBranch: 'trunk', credentialsSecret: 'SHOP_DEPLOY_KEY' };

describe('POST /v1/loops with <project>/<environment>', () => {
  test('queues a loop carrying a copy of the project; a later PATCH of the project does not change it', async () => {
    const res = await start('shop/staging');
    expect(res.statusCode, res.body).toBe(202);
    const loop = res.json();
    expect(loop).toMatchObject({ environment: 'shop/staging', state: 'queued', source: SHOP_SOURCE });
    expect(await t.queues.loops.getJob(loop.id)).toBeDefined();
    expect((await t.store.getLoop(loop.id))?.source).toEqual(SHOP_SOURCE);
    expect((await readAudit(t.store.redis, t.store.prefix, { limit: 1 })).entries[0]).toMatchObject({
      action: 'loop.start',
      details: { environment: 'shop/staging' },
    });

    await t.app.inject({ method: 'PATCH', url: '/v1/projects/shop', headers: t.auth('admin'), payload: { remote: '/srv/git/shop.git' } });
    const view = await t.app.inject({ method: 'GET', url: `/v1/loops/${loop.id}`, headers: t.auth('viewer') });
    expect(view.json()).toMatchObject({ environment: 'shop/staging', source: SHOP_SOURCE });
  });

  test('one active loop per project environment: the same name is busy, another project or a short name is not', async () => {
    await t.app.inject({ method: 'POST', url: '/v1/projects', headers: t.auth('admin'), payload: { name: 'billing', remote: '/srv/git/billing.git' } });
    const first = await start('shop/staging');
    const busy = await start('shop/staging');
    expect(busy.statusCode).toBe(409);
    expect(busy.json()).toMatchObject({ code: 'ENVIRONMENT_BUSY', activeLoopId: first.json().id });
    expect(busy.json().message).toContain('environment "shop/staging" already has an active loop');
    for (const other of ['shop/production', 'billing/staging', 'staging']) expect((await start(other)).statusCode, other).toBe(202);
  });

  test('Idempotency-Key replays the project loop; the same key on another environment is refused', async () => {
    const a = await start('shop/staging', { 'idempotency-key': 'release-7' });
    const b = await start('shop/staging', { 'idempotency-key': 'release-7' });
    expect([a.statusCode, b.statusCode]).toEqual([202, 200]);
    expect(b.json()).toMatchObject({ id: a.json().id, source: SHOP_SOURCE });
    const other = await start('shop/production', { 'idempotency-key': 'release-7' });
    expect(other.statusCode).toBe(422);
    expect(other.json().message).toContain('already used for a loop on environment "shop/staging"');
  });

  test('an unknown project is 404 saying so; bad shapes are 400; a short name keeps its greenloop.yaml check', async () => {
    const unknown = await start('billing/staging');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({
      code: 'PROJECT_NOT_FOUND',
      message: 'unknown project "billing" (environment "billing/staging"); add it with POST /v1/projects or `greenloop projects add`',
    });
    for (const bad of ['shop/', 'shop/staging/x', 'Shop/staging', '/staging']) {
      const res = await start(bad);
      expect(res.statusCode, bad).toBe(400);
      expect(res.json().message, bad).toMatch(/^body\.environment: has an invalid format/);
    }
    const qa = await start('qa');
    expect(qa.json()).toMatchObject({ code: 'UNKNOWN_ENVIRONMENT', message: 'unknown environment "qa"; configured: staging, production' });
  });

  test("a project loop does not need the installation's greenloop.yaml (a projects-only installation has none)", async () => {
    await t.cleanup();
    t = await setupTestApi({ config: 'version: 1\nenvironments: {{{' });
    await t.app.inject({ method: 'POST', url: '/v1/projects', headers: t.auth('admin'), payload: { name: 'shop', remote: '/srv/git/shop.git' } });
    expect((await start('staging')).json().code).toBe('CONFIG_INVALID');
    expect((await start('shop/staging')).statusCode).toBe(202);
  });

  test('rolling upgrade: 409 while a live worker lacks the projects capability, with how many; short names go on', async () => {
    const current = registerWorker(t.store.redis, t.store.prefix, {
      id: 'w-new',
      capacity: { loops: 50 },
      artifacts: 'local:/x',
      capabilities: [PROJECTS_CAPABILITY],
    });
    const old = registerWorker(t.store.redis, t.store.prefix, { id: 'w-old', version: '0.0.9', capacity: { loops: 50 }, artifacts: 'local:/x' });
    await Promise.all([current.beat(), old.beat()]);

    const refused = await start('shop/staging');
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({
      code: 'WORKERS_OUTDATED',
      message: '1 worker(s) run an older greenloop without project support; upgrade them first (GET /v1/workers lists them)',
      details: { workers: [{ id: 'w-old', version: '0.0.9' }] },
    });
    expect(await t.store.activeLoop('shop/staging')).toBeUndefined();
    expect((await start('staging')).statusCode).toBe(202);

    const workers = (await t.app.inject({ method: 'GET', url: '/v1/workers', headers: t.auth('viewer') })).json().workers;
    expect(workers.map((w: { id: string; capabilities: string[] }) => [w.id, w.capabilities])).toEqual(
      expect.arrayContaining([
        ['w-new', ['projects']],
        ['w-old', []],
      ]),
    );

    // The old worker is replaced (its entry removed on a graceful stop): project loops start.
    await old.stop();
    expect((await start('shop/staging')).statusCode).toBe(202);
    await current.stop();
  });
});

describe('the long name wherever environments are read', () => {
  test('loop list filter (encoded or not), loop view, loop.queued event, insights filter, /metrics labels', async () => {
    const shopLoop = (await start('shop/staging')).json();
    await start('staging');

    for (const q of ['shop%2Fstaging', 'shop/staging']) {
      const list = await t.app.inject({ method: 'GET', url: `/v1/loops?environment=${q}`, headers: t.auth('viewer') });
      expect(list.statusCode, q).toBe(200);
      expect(list.json().loops.map((l: { id: string }) => l.id)).toEqual([shopLoop.id]);
    }

    // A finished loop's stream replays and ends.
    await t.store.saveLoop({ ...shopLoop, state: 'green' });
    const events = await t.app.inject({ method: 'GET', url: `/v1/loops/${shopLoop.id}/events`, headers: t.auth('viewer') });
    expect(events.body).toContain(`loop ${shopLoop.id} queued on shop/staging by api test-operator`);

    const trends = await t.app.inject({ method: 'GET', url: '/v1/insights/trends?environment=shop%2Fstaging', headers: t.auth('viewer') });
    expect(trends.statusCode, trends.body).toBe(200);

    await recordFixerSpend(t.store.redis, t.store.prefix, 'shop/staging', { usd: 0.25, inputTokens: 10, outputTokens: 2 });
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics', headers: t.auth('viewer') })).body.split('\n');
    expect(metrics).toContain('greenloop_fixer_spend_usd_total{environment="shop/staging"} 0.25');
    expect(metrics).toContain('greenloop_loops{state="queued"} 1');
  });
});
