import type { Role } from '@greenloop/core';
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

const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, role: Role | 'none' = 'admin', payload?: Record<string, unknown>) =>
  t.app.inject({ method, url, headers: role === 'none' ? {} : t.auth(role), ...(payload ? { payload } : {}) });

const SHOP = { name: 'shop', remote: 'git@github.com:acme/shop.git', credentialsSecret: 'SHOP_DEPLOY_KEY' };

describe('/v1/projects', () => {
  test('an admin adds, reads, changes and removes a project; each write is audited', async () => {
    const created = await call('POST', '/v1/projects', 'admin', SHOP);
    expect(created.statusCode, created.body).toBe(201);
    expect(created.headers.location).toBe('/v1/projects/shop');
    expect(created.json()).toMatchObject({ ...SHOP, baseBranch: 'main', createdBy: 'test-admin' });

    const one = await call('GET', '/v1/projects/shop', 'viewer');
    expect(one.json()).toEqual(created.json());
    await call('POST', '/v1/projects', 'admin', { name: 'billing', remote: 'https://git.example.com/acme/billing.git', baseBranch: 'develop' });
    expect((await call('GET', '/v1/projects', 'viewer')).json().projects.map((p: { name: string }) => p.name)).toEqual(['billing', 'shop']);

    const patched = await call('PATCH', '/v1/projects/shop', 'admin', { baseBranch: 'trunk', credentialsSecret: null });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json()).toMatchObject({ name: 'shop', remote: SHOP.remote, baseBranch: 'trunk' });
    expect(patched.json()).not.toHaveProperty('credentialsSecret');

    const deleted = await call('DELETE', '/v1/projects/shop');
    expect(deleted.json()).toMatchObject({ name: 'shop', deleted: true });
    expect((await call('GET', '/v1/projects/shop', 'viewer')).statusCode).toBe(404);

    const audit = (await readAudit(t.store.redis, t.store.prefix, { limit: 10 })).entries;
    expect(audit.map((e) => [e.action, e.target])).toEqual([
      ['project.delete', 'shop'],
      ['project.update', 'shop'],
      ['project.create', 'billing'],
      ['project.create', 'shop'],
    ]);
    expect(audit[1]?.details).toEqual({ baseBranch: 'trunk', credentialsSecret: '(removed)' });
    expect(audit[3]).toMatchObject({
      actor: { kind: 'api', name: 'test-admin' },
      details: { remote: SHOP.remote, baseBranch: 'main', credentialsSecret: 'SHOP_DEPLOY_KEY' },
    });
  });

  test('writes are admin-only, reads need any token', async () => {
    for (const role of ['viewer', 'operator'] as const) {
      const res = await call('POST', '/v1/projects', role, SHOP);
      expect(res.statusCode, role).toBe(403);
      expect(res.json().message).toBe(`this needs the admin role; token "test-${role}" has the ${role} role`);
    }
    await call('POST', '/v1/projects', 'admin', SHOP);
    expect((await call('PATCH', '/v1/projects/shop', 'operator', { baseBranch: 'x' })).statusCode).toBe(403);
    expect((await call('DELETE', '/v1/projects/shop', 'operator')).statusCode).toBe(403);
    expect((await call('GET', '/v1/projects', 'none')).statusCode).toBe(401);
    expect((await call('GET', '/v1/projects/shop', 'none')).statusCode).toBe(401);
    expect((await call('GET', '/v1/projects', 'viewer')).statusCode).toBe(200);
    expect((await call('GET', '/v1/projects/shop', 'viewer')).json().baseBranch).toBe('main');
  });

  test.each([
    [{ name: 'Shop', remote: '/srv/git/shop.git' }, 'body.name: has an invalid format'],
    [{ name: 'system', remote: '/srv/git/shop.git' }, 'invalid project: name: "system" is reserved'],
    [{ name: 'shop', remote: 'https://bot:hunter2@github.com/acme/shop.git' }, 'invalid project: remote: must not carry credentials'],
    [{ name: 'shop', remote: 'ftp://example.com/shop.git' }, 'invalid project: remote: the ftp transport is not accepted'],
    [{ name: 'shop', remote: 'shop.git' }, 'invalid project: remote: must be an https:// or ssh:// URL'],
    [{ name: 'shop', remote: '/srv/git/shop.git', baseBranch: '-f' }, 'invalid project: baseBranch: must be a branch name'],
    [
      { name: 'shop', remote: '/srv/git/shop.git', credentialsSecret: 'GREENLOOP_TOKEN_SECRET' },
      "invalid project: credentialsSecret: must not be one of greenloop's own",
    ],
    [
      { name: 'shop', remote: '/srv/git/shop.git', credentialsSecret: 'ghp_16C7e42F292c6912E7710c838347Ae178B4a' },
      'body.credentialsSecret: has an invalid format',
    ],
    [{ name: 'shop' }, 'body.remote: is required'],
    [{ name: 'shop', remote: '/srv/git/shop.git', command: ['sh'] }, 'body: unknown field "command" (not allowed)'],
  ])('refuses %j with 400 naming the field', async (payload, message) => {
    const res = await call('POST', '/v1/projects', 'admin', payload);
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toContain(message);
    // The refused value is not echoed back when it may hold a secret.
    expect(res.body).not.toContain('hunter2');
    expect(res.body).not.toContain('ghp_16C7e42F');
    expect((await call('GET', '/v1/projects', 'viewer')).json().projects).toEqual([]);
  });

  test('conflicts and unknown names: 409 for a taken name, 404 naming the project, 400 for an empty or credential-bearing PATCH', async () => {
    await call('POST', '/v1/projects', 'admin', SHOP);
    const again = await call('POST', '/v1/projects', 'admin', { name: 'shop', remote: '/srv/git/other.git' });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'PROJECT_EXISTS', message: 'a project named "shop" already exists; change it with PATCH or remove it first' });
    for (const [method, payload] of [['GET'], ['PATCH', { baseBranch: 'x' }], ['DELETE']] as const) {
      const res = await call(method, '/v1/projects/nope', 'admin', payload);
      expect(res.statusCode, method).toBe(404);
      expect(res.json()).toMatchObject({ code: 'PROJECT_NOT_FOUND', message: expect.stringContaining('unknown project "nope"') });
    }
    expect((await call('PATCH', '/v1/projects/shop', 'admin', {})).statusCode).toBe(400);
    const leaky = await call('PATCH', '/v1/projects/shop', 'admin', { remote: 'https://x-access-token:abc@github.com/acme/shop.git' });
    expect(leaky.json()).toMatchObject({ code: 'PROJECT_INVALID', details: { issues: [expect.stringMatching(/^remote: must not carry credentials/)] } });
    expect((await call('GET', '/v1/projects/shop', 'viewer')).json().remote).toBe(SHOP.remote);
  });

  test('a project with a queued loop cannot be removed: 409 naming the loop', async () => {
    await call('POST', '/v1/projects', 'admin', SHOP);
    const loop = await call('POST', '/v1/loops', 'operator', { environment: 'shop/staging' });
    expect(loop.statusCode, loop.body).toBe(202);
    const id = loop.json().id as string;
    const res = await call('DELETE', '/v1/projects/shop');
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({
      code: 'PROJECT_BUSY',
      message: `project "shop" has 1 active loop(s): ${id} (shop/staging, queued); cancel them or wait for them to finish`,
      details: { loops: [{ id, environment: 'shop/staging', state: 'queued' }] },
    });
    expect((await call('GET', '/v1/projects/shop', 'viewer')).statusCode).toBe(200);
  });

  test('OpenAPI documents the routes, and POST /v1/loops says the API cannot check a project environment', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(Object.keys(doc.paths['/v1/projects/'] ?? {}).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/v1/projects/{name}'] ?? {}).sort()).toEqual(['delete', 'get', 'patch']);
    expect(doc.paths['/v1/loops/'].post.description).toContain('stops the loop with `config-invalid`');
    expect(doc.components.schemas.Project.properties).toHaveProperty('credentialsSecret');
  });
});
