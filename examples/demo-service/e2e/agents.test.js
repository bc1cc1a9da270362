import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { api } from './client.js';

describe('agents', () => {
  it('lists the agent catalog', async (t) => {
    const res = await api(t).get('/api/agents', { expect: 200 });
    assert.ok(res.body.agents.length >= 3, 'GET /api/agents → expected at least 3 agents');
    assert.ok(res.body.agents.some((a) => a.id === 'researcher'));
  });

  it('gets one agent by id', async (t) => {
    const res = await api(t).get('/api/agents/coder', { expect: 200 });
    assert.equal(res.body.agent.name, 'Coder');
  });

  it('returns 404 for an unknown agent', async (t) => {
    await api(t).get('/api/agents/ghost', { expect: 404 });
  });

  it('starts and stops an agent session', async (t) => {
    const client = api(t);
    const started = await client.post('/api/agents/start', { agentId: 'researcher' }, { expect: 201 });
    const { session } = started.body;
    assert.equal(session.agentId, 'researcher');
    assert.equal(session.status, 'running');

    const stopped = await client.post('/api/agents/stop', { sessionId: session.id }, { expect: 200 });
    assert.equal(stopped.body.session.status, 'stopped');
    assert.equal(typeof stopped.body.session.uptimeMs, 'number');
    assert.ok(stopped.body.session.uptimeMs >= 0);

    const sessions = await client.get('/api/agents/sessions', { expect: 200 });
    const listed = sessions.body.sessions.find((s) => s.id === session.id);
    assert.equal(listed?.status, 'stopped');
  });

  it('returns 404 when stopping an unknown session', async (t) => {
    const res = await api(t).post('/api/agents/stop', { sessionId: 'sess_missing' }, { expect: 404 });
    assert.equal(res.body.error, 'not_found');
  });
});
