import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoopRecord } from '@greenloop/core';
import { readAudit } from '@greenloop/core';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { setupTestApi, type TestApi } from '../../testing.ts';

let t: TestApi;

beforeEach(async () => {
  t = await setupTestApi();
});

afterEach(async () => {
  await t.cleanup();
});

const start = (environment: string, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'POST', url: '/v1/loops', headers: { ...t.auth('operator'), ...headers }, payload: { environment } });

async function seedLoop(partial: Partial<LoopRecord> & { id: string }): Promise<LoopRecord> {
  const loop: LoopRecord = {
    environment: 'staging',
    state: 'running',
    createdAt: new Date().toISOString(),
    startedBy: { kind: 'api', name: 'seed' },
    cycle: 0,
    ...partial,
  };
  await t.store.createLoop(loop);
  return loop;
}

describe('POST /v1/loops', () => {
  test('queues a loop: 202, links, a loop.run job, an audit entry, actor = token name', async () => {
    const res = await start('staging');
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body).toMatchObject({
      environment: 'staging',
      state: 'queued',
      startedBy: { kind: 'api', name: 'test-operator' },
      links: { self: `/v1/loops/${body.id}`, events: `/v1/loops/${body.id}/events` },
    });
    expect(res.headers.location).toBe(`/v1/loops/${body.id}`);
    expect(await t.queues.loops.getJob(body.id)).toBeDefined();
    const audit = await readAudit(t.store.redis, t.store.prefix, { limit: 10 });
    expect(audit.entries[0]).toMatchObject({
      action: 'loop.start',
      target: body.id,
      actor: { kind: 'api', name: 'test-operator' },
      details: { environment: 'staging' },
    });
  });

  test('same Idempotency-Key → the same loop (200), and no second job', async () => {
    const a = await start('staging', { 'idempotency-key': 'deploy-42' });
    const b = await start('staging', { 'idempotency-key': 'deploy-42' });
    expect(a.statusCode).toBe(202);
    expect(b.statusCode).toBe(200);
    expect(b.json().id).toBe(a.json().id);
    expect(await t.queues.loops.getJobCountByTypes('waiting', 'delayed', 'prioritized')).toBe(1);
  });

  test('an Idempotency-Key reused for another environment is a 422', async () => {
    await start('staging', { 'idempotency-key': 'k1' });
    const res = await start('production', { 'idempotency-key': 'k1' });
    expect(res.statusCode).toBe(422);
    expect(res.json().code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  test('two simultaneous triggers for one environment → exactly one loop, the other 409 with activeLoopId', async () => {
    const [a, b] = await Promise.all([start('staging'), start('staging')]);
    const codes = [a.statusCode, b.statusCode].sort();
    expect(codes).toEqual([202, 409]);
    const winner = a.statusCode === 202 ? a : b;
    const loser = a.statusCode === 202 ? b : a;
    expect(loser.json()).toMatchObject({ code: 'ENVIRONMENT_BUSY', activeLoopId: winner.json().id });
    const all = await t.store.listLoops({ limit: 100, environment: 'staging' });
    expect(all.loops).toHaveLength(1);
  });

  test('two simultaneous triggers with the same Idempotency-Key → one loop, both answers name it', async () => {
    const [a, b] = await Promise.all([start('staging', { 'idempotency-key': 'same' }), start('staging', { 'idempotency-key': 'same' })]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([200, 202]);
    expect(a.json().id).toBe(b.json().id);
    expect((await t.store.listLoops({ limit: 100 })).loops).toHaveLength(1);
  });

  test('another environment is independent; a finished loop frees its environment', async () => {
    const a = await start('staging');
    expect((await start('production')).statusCode).toBe(202);
    const loop = (await t.store.getLoop(a.json().id)) as LoopRecord;
    // The verdict is recorded, but the teardown still holds the environment until it releases it.
    await t.store.saveLoop({ ...loop, state: 'green', teardown: 'pending' });
    expect((await start('staging')).statusCode).toBe(409);
    await t.store.releaseEnvironment('staging', loop.id);
    expect((await start('staging')).statusCode).toBe(202);
  });

  test('unknown environment → 400 naming the configured ones; a body can never carry a command', async () => {
    const res = await start('qa');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'UNKNOWN_ENVIRONMENT', message: 'unknown environment "qa"; configured: staging, production' });
    const cmd = await t.app.inject({
      method: 'POST',
      url: '/v1/loops',
      headers: t.auth('operator'),
      payload: { environment: 'staging', command: ['sh', '-c', 'rm -rf /'] },
    });
    expect(cmd.statusCode).toBe(400);
    expect(cmd.json().message).toBe('body: unknown field "command" (not allowed)');
    const wrongType = await t.app.inject({ method: 'POST', url: '/v1/loops', headers: t.auth('operator'), payload: { environment: 7 } });
    expect(wrongType.statusCode).toBe(400);
    expect(wrongType.json().message).toBe('body.environment: must be string');
  });

  test('a broken greenloop.yaml → 422 CONFIG_INVALID naming the field; fixing the file needs no restart', async () => {
    writeFileSync(join(t.repo, 'greenloop.yaml'), 'version: 2\nenvironments: {}\n');
    const res = await start('staging');
    expect(res.statusCode).toBe(422);
    const body = res.json();
    expect(body.code).toBe('CONFIG_INVALID');
    expect(body.details.issues.join('\n')).toMatch(/version: expected version: 1/);
    writeFileSync(
      join(t.repo, 'greenloop.yaml'),
      'version: 1\nenvironments:\n  qa:\n    services:\n      - name: api\n        deploy: { provider: local, command: ["node", "s.js"] }\n    tests: { command: ["npm", "test"] }\n',
    );
    const ok = await start('qa');
    expect(ok.statusCode).toBe(202);
  });
});

describe('GET /v1/loops', () => {
  test('filters by environment and state, pages with a cursor', async () => {
    const base = Date.parse('2026-01-01T00:00:00Z');
    for (let i = 0; i < 5; i++) {
      await seedLoop({ id: `loop-s-${i}`, environment: 'staging', state: i % 2 ? 'green' : 'stopped', createdAt: new Date(base + i * 1000).toISOString() });
      await seedLoop({ id: `loop-p-${i}`, environment: 'production', state: 'green', createdAt: new Date(base + i * 1000 + 500).toISOString() });
    }
    const page1 = await t.app.inject({ method: 'GET', url: '/v1/loops?environment=staging&limit=2', headers: t.auth('viewer') });
    expect(page1.statusCode).toBe(200);
    expect(page1.json().loops.map((l: LoopRecord) => l.id)).toEqual(['loop-s-4', 'loop-s-3']);
    const cursor = page1.json().nextCursor;
    expect(cursor).toMatch(/^\d+$/);
    const page2 = await t.app.inject({ method: 'GET', url: `/v1/loops?environment=staging&limit=2&cursor=${cursor}`, headers: t.auth('viewer') });
    expect(page2.json().loops.map((l: LoopRecord) => l.id)).toEqual(['loop-s-2', 'loop-s-1']);
    const green = await t.app.inject({ method: 'GET', url: '/v1/loops?environment=staging&state=green', headers: t.auth('viewer') });
    expect(green.json().loops.map((l: LoopRecord) => l.id)).toEqual(['loop-s-3', 'loop-s-1']);
    const bad = await t.app.inject({ method: 'GET', url: '/v1/loops?state=happy', headers: t.auth('viewer') });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/^querystring\.state: must be one of "queued"/);
  });
});

describe('GET /v1/loops/:id and cycles', () => {
  async function seedCycle(loopId: string) {
    const dir = join(t.home, 'artifacts', loopId, 'cycle-1');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'report.md'), '# Cycle 1\n\n2 failed\n');
    writeFileSync(join(dir, 'report.json'), JSON.stringify({ cycle: 1, failed: 2 }));
    await t.store.saveCycle({
      loopId,
      n: 1,
      commit: 'abc123',
      startedAt: new Date().toISOString(),
      totals: { total: 10, passed: 8, failed: 2, skipped: 0, durationMs: 1234 },
      green: false,
      failingTests: ['a › b', 'a › c'],
      report: { markdown: join(dir, 'report.md'), json: join(dir, 'report.json') },
      stages: {},
    });
    await t.store.saveStage(loopId, 1, {
      stage: 'deploy',
      status: 'succeeded',
      startedAt: new Date().toISOString(),
      attempts: 1,
      summary: 'deployed api',
      result: { services: [{ service: 'api', provider: 'local', url: 'http://x', revision: 'local-1', readyAt: new Date().toISOString() }] },
    });
  }

  test('a loop with cycle summaries; a cycle with stage results', async () => {
    await seedLoop({ id: 'loop-with-cycle', cycle: 1, stage: 'test' });
    await seedCycle('loop-with-cycle');
    const res = await t.app.inject({ method: 'GET', url: '/v1/loops/loop-with-cycle', headers: t.auth('viewer') });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.cycles).toHaveLength(1);
    expect(body.cycles[0]).toMatchObject({
      n: 1,
      commit: 'abc123',
      green: false,
      hasReport: true,
      totals: { failed: 2 },
      stages: { deploy: { status: 'succeeded', summary: 'deployed api' } },
    });
    expect(body.cycles[0].stages.deploy.result).toBeUndefined();
    const cycle = await t.app.inject({ method: 'GET', url: '/v1/loops/loop-with-cycle/cycles/1', headers: t.auth('viewer') });
    expect(cycle.statusCode).toBe(200);
    expect(cycle.json()).toMatchObject({ failingTests: ['a › b', 'a › c'], stages: { deploy: { result: { services: [{ service: 'api' }] } } } });
    expect((await t.app.inject({ method: 'GET', url: '/v1/loops/loop-with-cycle/cycles/2', headers: t.auth('viewer') })).json().code).toBe('CYCLE_NOT_FOUND');
    expect((await t.app.inject({ method: 'GET', url: '/v1/loops/no-such-loop/cycles/1', headers: t.auth('viewer') })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: '/v1/loops/no-such-loop', headers: t.auth('viewer') })).json()).toMatchObject({ code: 'LOOP_NOT_FOUND' });
    expect((await t.app.inject({ method: 'GET', url: '/v1/loops/loop-with-cycle/cycles/0', headers: t.auth('viewer') })).statusCode).toBe(400);
  });

  test('the report as markdown or JSON by Accept', async () => {
    await seedLoop({ id: 'loop-report', cycle: 1 });
    await seedCycle('loop-report');
    const url = '/v1/loops/loop-report/cycles/1/report';
    const md = await t.app.inject({ method: 'GET', url, headers: { ...t.auth('viewer'), accept: 'text/markdown' } });
    expect(md.statusCode).toBe(200);
    expect(md.headers['content-type']).toBe('text/markdown; charset=utf-8');
    expect(md.body).toBe('# Cycle 1\n\n2 failed\n');
    const json = await t.app.inject({ method: 'GET', url, headers: t.auth('viewer') });
    expect(json.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(json.json()).toEqual({ cycle: 1, failed: 2 });
    const prefersMd = await t.app.inject({ method: 'GET', url, headers: { ...t.auth('viewer'), accept: 'application/json;q=0.5, text/*' } });
    expect(prefersMd.headers['content-type']).toBe('text/markdown; charset=utf-8');
    const none = await t.app.inject({ method: 'GET', url, headers: { ...t.auth('viewer'), accept: 'image/png' } });
    expect(none.statusCode).toBe(406);
    await seedLoop({ id: 'loop-noreport', cycle: 1 });
    await t.store.saveCycle({ loopId: 'loop-noreport', n: 1, commit: 'x', startedAt: new Date().toISOString(), stages: {} });
    expect((await t.app.inject({ method: 'GET', url: '/v1/loops/loop-noreport/cycles/1/report', headers: t.auth('viewer') })).json().code).toBe(
      'REPORT_NOT_READY',
    );
  });

  test('a report path outside the artifact directory is never served', async () => {
    await seedLoop({ id: 'loop-evil', cycle: 1 });
    await t.store.saveCycle({
      loopId: 'loop-evil',
      n: 1,
      commit: 'x',
      startedAt: new Date().toISOString(),
      report: { markdown: '/etc/passwd', json: '/etc/hostname' },
      stages: {},
    });
    const res = await t.app.inject({ method: 'GET', url: '/v1/loops/loop-evil/cycles/1/report', headers: { ...t.auth('viewer'), accept: 'text/markdown' } });
    expect(res.statusCode).toBe(404);
    expect(res.body).not.toContain('root:');
  });
});

describe('POST /v1/loops/:id/cancel', () => {
  test('requests cancel of an active loop, refuses a finished one, 404s an unknown one', async () => {
    const created = (await start('staging')).json();
    const res = await t.app.inject({ method: 'POST', url: `/v1/loops/${created.id}/cancel`, headers: t.auth('operator') });
    expect(res.statusCode).toBe(202);
    expect(await t.store.isCancelRequested(created.id)).toBe(true);
    const audit = await readAudit(t.store.redis, t.store.prefix, { limit: 1 });
    expect(audit.entries[0]).toMatchObject({ action: 'loop.cancel', target: created.id, actor: { name: 'test-operator' } });
    await seedLoop({ id: 'loop-done', state: 'green' });
    const done = await t.app.inject({ method: 'POST', url: '/v1/loops/loop-done/cancel', headers: t.auth('operator') });
    expect(done.statusCode).toBe(409);
    expect(done.json().code).toBe('LOOP_FINISHED');
    expect((await t.app.inject({ method: 'POST', url: '/v1/loops/loop-nope/cancel', headers: t.auth('operator') })).statusCode).toBe(404);
  });
});
