import type { LoopRecord, Role } from '@greenloop/core';
import { ROLES, readAudit } from '@greenloop/core';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { setupTestApi, type TestApi, undocumentedBy } from '../testing.ts';

let t: TestApi;
const loopId = 'matrix-loop-1';
const finishedId = 'matrix-done-1';

beforeAll(async () => {
  // Every row sends a bogus token: more rows than the default failed-auth budget (30 a minute per address,
  // tested on its own below) allows, so the matrix gets a larger one.
  t = await setupTestApi({ deps: { authFailures: { perAddress: 1000 } } });
  const now = new Date().toISOString();
  const loop: LoopRecord = { id: loopId, environment: 'staging', state: 'running', createdAt: now, startedBy: { kind: 'api', name: 'x' }, cycle: 0 };
  await t.store.createLoop(loop);
  await t.store.createLoop({ ...loop, id: finishedId, state: 'green' });
  await t.store.emit({ type: 'loop.finished', loopId: finishedId, message: 'green' });
});

afterAll(async () => {
  await t.cleanup();
});

type Need = Role | 'public';
interface RouteCase {
  need: Need;
  req: () => InjectOptions;
  /** An endless event stream: answered as soon as its headers are (then the stream is dropped). */
  stream?: true;
}

const routes: RouteCase[] = [
  { need: 'public', req: () => ({ method: 'GET', url: '/healthz' }) },
  { need: 'public', req: () => ({ method: 'GET', url: '/docs/json' }) },
  { need: 'viewer', req: () => ({ method: 'GET', url: '/metrics' }) },
  { need: 'viewer', req: () => ({ method: 'GET', url: '/v1/loops' }) },
  { need: 'viewer', req: () => ({ method: 'GET', url: `/v1/loops/${loopId}` }) },
  { need: 'viewer', req: () => ({ method: 'GET', url: `/v1/loops/${loopId}/cycles/1` }) },
  { need: 'viewer', req: () => ({ method: 'GET', url: `/v1/loops/${loopId}/cycles/1/report` }) },
  { need: 'viewer', req: () => ({ method: 'GET', url: `/v1/loops/${loopId}/artifacts/x.txt` }) },
  { need: 'viewer', req: () => ({ method: 'GET', url: `/v1/loops/${finishedId}/events` }) },
  { need: 'viewer', req: () => ({ method: 'GET', url: `/v1/loops/${finishedId}/cycles/1/evidence` }) },
  { need: 'viewer', req: () => ({ method: 'GET', url: '/v1/events' }), stream: true },
  { need: 'viewer', req: () => ({ method: 'GET', url: '/v1/session' }) },
  { need: 'viewer', req: () => ({ method: 'GET', url: '/v1/insights/clusters' }) },
  { need: 'viewer', req: () => ({ method: 'GET', url: '/v1/insights/flaky' }) },
  { need: 'viewer', req: () => ({ method: 'GET', url: '/v1/insights/trends' }) },
  { need: 'viewer', req: () => ({ method: 'GET', url: '/v1/workers' }) },
  { need: 'viewer', req: () => ({ method: 'GET', url: '/v1/schedules' }) },
  { need: 'viewer', req: () => ({ method: 'GET', url: '/v1/schedules/staging.nightly' }) },
  { need: 'operator', req: () => ({ method: 'POST', url: '/v1/loops', payload: { environment: 'production' } }) },
  { need: 'operator', req: () => ({ method: 'POST', url: `/v1/loops/${loopId}/cancel` }) },
  { need: 'operator', req: () => ({ method: 'POST', url: '/v1/schedules', payload: { environment: 'staging', name: 'matrix', cron: '0 4 * * *' } }) },
  { need: 'operator', req: () => ({ method: 'PUT', url: '/v1/schedules/staging.matrix', payload: { cron: '0 5 * * *' } }) },
  { need: 'operator', req: () => ({ method: 'DELETE', url: '/v1/schedules/staging.matrix' }) },
  { need: 'admin', req: () => ({ method: 'GET', url: '/v1/tokens' }) },
  { need: 'admin', req: () => ({ method: 'POST', url: '/v1/tokens', payload: { name: `matrix-${Math.random().toString(36).slice(2, 8)}`, role: 'viewer' } }) },
  { need: 'admin', req: () => ({ method: 'DELETE', url: '/v1/tokens/0123456789abcdef' }) },
  { need: 'viewer', req: () => ({ method: 'GET', url: '/v1/projects' }) },
  { need: 'viewer', req: () => ({ method: 'GET', url: '/v1/projects/matrix' }) },
  {
    need: 'admin',
    req: () => ({ method: 'POST', url: '/v1/projects', payload: { name: `matrix-${Math.random().toString(36).slice(2, 8)}`, remote: '/srv/git/m.git' } }),
  },
  { need: 'admin', req: () => ({ method: 'PATCH', url: '/v1/projects/matrix', payload: { baseBranch: 'trunk' } }) },
  { need: 'admin', req: () => ({ method: 'DELETE', url: '/v1/projects/matrix' }) },
  { need: 'admin', req: () => ({ method: 'GET', url: '/v1/audit' }) },
  { need: 'admin', req: () => ({ method: 'GET', url: '/admin/queues' }) },
  { need: 'admin', req: () => ({ method: 'GET', url: '/admin/queues/api/queues' }) },
];

const label = (r: RouteCase) => {
  const o = r.req();
  return `${o.method} ${o.url}`;
};

describe('route × role matrix', () => {
  const figures = { routes: 0, requests: 0, status5xx: 0 };
  afterAll(() => {
    console.log(
      `route × role matrix: ${figures.routes} routes × (no token, bogus token, ${ROLES.join(', ')}) = ${figures.requests} requests, ${figures.status5xx} × 5xx`,
    );
  });
  test('covers every operation the API documents (a route added later gets a row or this fails)', async () => {
    expect(
      await undocumentedBy(
        t.app,
        routes.map((r) => r.req() as { method: string; url: string }),
      ),
    ).toEqual([]);
  });

  test.each(routes.map((r) => [label(r), r] as const))('%s', async (_name, r) => {
    figures.routes++;
    const send = async (headers: Record<string, string>) => {
      const res = await t.app.inject({ ...r.req(), headers, ...(r.stream ? { payloadAsStream: true } : {}) });
      figures.requests++;
      if (res.statusCode >= 500) figures.status5xx++;
      if (!r.stream) return res;
      // The body of a 4xx is a finite JSON error; a 200 is the endless stream, dropped here.
      if (res.statusCode === 200) {
        res.stream().destroy();
        return Object.assign(res, { json: () => ({}) });
      }
      const body = await new Response(res.stream() as unknown as ReadableStream).text();
      return Object.assign(res, { body, json: () => JSON.parse(body) });
    };
    const none = await send({});
    const bogus = await send({ authorization: 'Bearer glt_0123456789abcdef_0000000000000000000000000000000000000000000000000000000000000000' });
    if (r.need === 'public') {
      expect(none.statusCode).toBeLessThan(400);
      return;
    }
    for (const res of [none, bogus]) {
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^(Bearer|Basic) realm=/);
      expect(res.json().code).toBe('UNAUTHENTICATED');
    }
    for (const role of ROLES) {
      const res = await send(t.auth(role));
      const allowed = ROLES.indexOf(role) >= ROLES.indexOf(r.need);
      if (allowed) {
        expect([401, 403], `${role} on ${label(r)}: ${res.body}`).not.toContain(res.statusCode);
        expect(res.statusCode, res.body).toBeLessThan(500);
      } else {
        expect(res.statusCode, `${role} on ${label(r)}`).toBe(403);
        expect(res.json()).toMatchObject({ code: 'FORBIDDEN', message: `this needs the ${r.need} role; token "test-${role}" has the ${role} role` });
      }
    }
  });
});

describe('tokens', () => {
  test('the bootstrap token is an admin recorded as "bootstrap-admin"', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/tokens', headers: t.auth('bootstrap'), payload: { name: 'from-bootstrap', role: 'operator' } });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ name: 'from-bootstrap', role: 'operator', createdBy: 'bootstrap-admin' });
    expect(res.json().token).toMatch(/^glt_[a-f0-9]{16}_[a-f0-9]{64}$/);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  test('a created token works at once, is listed without its secret, and stops working when revoked', async () => {
    const created = await t.app.inject({ method: 'POST', url: '/v1/tokens', headers: t.auth('admin'), payload: { name: 'ci', role: 'operator' } });
    expect(created.statusCode).toBe(201);
    const { token, id } = created.json() as { token: string; id: string };
    const start = await t.app.inject({ method: 'POST', url: '/v1/loops', headers: { authorization: `Bearer ${token}` }, payload: { environment: 'staging' } });
    expect([202, 409]).toContain(start.statusCode);

    const list = await t.app.inject({ method: 'GET', url: '/v1/tokens', headers: t.auth('admin') });
    expect(list.body).not.toContain(token);
    expect(list.body).not.toMatch(/"hash"|glt_/);
    expect(list.json().tokens.map((x: { name: string }) => x.name)).toContain('ci');

    const dup = await t.app.inject({ method: 'POST', url: '/v1/tokens', headers: t.auth('admin'), payload: { name: 'ci', role: 'viewer' } });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().code).toBe('TOKEN_NAME_TAKEN');

    const revoke = await t.app.inject({ method: 'DELETE', url: `/v1/tokens/${id}`, headers: t.auth('admin') });
    expect(revoke.statusCode).toBe(200);
    expect(revoke.json()).toMatchObject({ id, name: 'ci', revoked: true });
    const after = await t.app.inject({ method: 'GET', url: '/v1/loops', headers: { authorization: `Bearer ${token}` } });
    expect(after.statusCode).toBe(401);
    const again = await t.app.inject({ method: 'DELETE', url: `/v1/tokens/${id}`, headers: t.auth('admin') });
    expect(again.statusCode).toBe(404);
  });

  test('an expired token is rejected', async () => {
    const { token } = await t.tokens.create({ name: 'short-lived', role: 'viewer', createdBy: 'test', expiresAt: new Date(Date.now() - 1000).toISOString() });
    const res = await t.app.inject({ method: 'GET', url: '/v1/loops', headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(401);
  });

  test('a right id with a wrong secret is rejected', async () => {
    const { token } = await t.tokens.create({ name: 'tamper', role: 'admin', createdBy: 'test' });
    const forged = `${token.slice(0, -4)}0000`;
    const res = await t.app.inject({ method: 'GET', url: '/v1/tokens', headers: { authorization: `Bearer ${forged}` } });
    expect(res.statusCode).toBe(401);
  });

  test('the queue dashboard accepts HTTP Basic with the token as password and asks browsers for it', async () => {
    const none = await t.app.inject({ method: 'GET', url: '/admin/queues' });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Basic realm="greenloop admin"/);
    const basic = (token: string) => `Basic ${Buffer.from(`any:${token}`).toString('base64')}`;
    expect((await t.app.inject({ method: 'GET', url: '/admin/queues', headers: { authorization: basic(t.token.admin) } })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/admin/queues', headers: { authorization: basic(t.token.operator) } })).statusCode).toBe(403);
    // Basic is for the browser page only; the API itself wants a bearer token.
    expect((await t.app.inject({ method: 'GET', url: '/v1/tokens', headers: { authorization: basic(t.token.admin) } })).statusCode).toBe(401);
  });

  test('actors are token names and the audit trail never holds a token', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/loops', headers: t.auth('admin'), payload: { environment: 'production' } });
    expect([202, 409]).toContain(res.statusCode);
    const audit = await readAudit(t.store.redis, t.store.prefix, { limit: 500 });
    const text = JSON.stringify(audit);
    for (const token of Object.values(t.token)) expect(text).not.toContain(token);
    expect(audit.entries.some((e) => e.action === 'token.create' && e.actor.name === 'bootstrap-admin')).toBe(true);
    expect(audit.entries.some((e) => e.action === 'token.revoke' && e.actor.name === 'test-admin')).toBe(true);
    const loops = await t.store.listLoops({ limit: 100 });
    for (const l of loops.loops) {
      for (const token of Object.values(t.token)) expect(JSON.stringify(l)).not.toContain(token);
    }
  });
});

describe('failed authentication', () => {
  test('is limited per client address; tokens it already verified keep working', async () => {
    const t2 = await setupTestApi();
    try {
      expect((await t2.app.inject({ method: 'GET', url: '/v1/loops', headers: t2.auth('viewer') })).statusCode).toBe(200);
      let last = 0;
      for (let i = 0; i < 31; i++) {
        last = (await t2.app.inject({ method: 'GET', url: '/v1/loops', headers: { authorization: 'Bearer nope-nope-nope' } })).statusCode;
      }
      expect(last).toBe(429);
      const res = await t2.app.inject({ method: 'GET', url: '/v1/loops', headers: { authorization: 'Bearer still-wrong' } });
      expect(res.statusCode).toBe(429);
      expect(res.json().code).toBe('RATE_LIMITED');
      expect((await t2.app.inject({ method: 'GET', url: '/v1/loops', headers: t2.auth('viewer') })).statusCode).toBe(200);
      expect((await t2.app.inject({ method: 'GET', url: '/v1/loops', headers: t2.auth('operator') })).statusCode).toBe(429);
    } finally {
      await t2.cleanup();
    }
  });
});

describe('rate limit', () => {
  test('is per token', async () => {
    const t2 = await setupTestApi({ deps: { rateLimit: { max: 3, timeWindowMs: 60_000 } } });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) codes.push((await t2.app.inject({ method: 'GET', url: '/v1/loops', headers: t2.auth('viewer') })).statusCode);
      expect(codes).toEqual([200, 200, 200, 429]);
      const limited = await t2.app.inject({ method: 'GET', url: '/v1/loops', headers: t2.auth('viewer') });
      expect(limited.json()).toMatchObject({ code: 'RATE_LIMITED' });
      expect(limited.headers['retry-after']).toBeDefined();
      expect((await t2.app.inject({ method: 'GET', url: '/v1/loops', headers: t2.auth('operator') })).statusCode).toBe(200);
    } finally {
      await t2.cleanup();
    }
  });
});
