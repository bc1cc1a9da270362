import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { api } from './client.js';

describe('discovery', () => {
  it('reports healthy on /healthz', async (t) => {
    const res = await api(t).get('/healthz', { expect: 200 });
    assert.deepEqual(res.body, { ok: true });
  });

  it('lists the services the API exposes', async (t) => {
    const res = await api(t).get('/api/discovery/services', { expect: 200 });
    const names = res.body.services.map((s) => s.name);
    for (const name of ['agents', 'threads', 'chat', 'realtime']) {
      assert.ok(names.includes(name), `GET /api/discovery/services → missing service ${name}`);
    }
  });

  it('describes a single service by name', async (t) => {
    const res = await api(t).get('/api/discovery/services/realtime', { expect: 200 });
    assert.equal(res.body.service.kind, 'websocket');
    assert.equal(res.body.service.path, '/ws');
  });

  it('returns 404 for an unknown service', async (t) => {
    const res = await api(t).get('/api/discovery/services/nope', { expect: 404 });
    assert.equal(res.body.error, 'not_found');
  });
});
