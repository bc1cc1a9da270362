import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { api } from './client.js';

describe('threads and messaging', () => {
  it('creates a thread', async (t) => {
    const res = await api(t).post('/api/threads', { title: 'Release planning' }, { expect: 201 });
    assert.match(res.body.thread.id, /^thr_/);
    assert.equal(res.body.thread.title, 'Release planning');
    assert.equal(res.body.thread.messageCount, 0);
  });

  it('lists threads including a newly created one', async (t) => {
    const client = api(t);
    const created = await client.post('/api/threads', { title: 'Listed thread' }, { expect: 201 });
    const res = await client.get('/api/threads', { expect: 200 });
    const ids = res.body.threads.map((thread) => thread.id);
    assert.ok(ids.includes(created.body.thread.id), 'GET /api/threads → created thread missing');
    assert.ok(ids.includes('thr_welcome'), 'GET /api/threads → seeded welcome thread missing');
  });

  it('gets a thread with its messages', async (t) => {
    const res = await api(t).get('/api/threads/thr_welcome', { expect: 200 });
    assert.equal(res.body.thread.title, 'Welcome');
    assert.ok(res.body.thread.messages.length >= 1);
  });

  it('posts a message to a thread', async (t) => {
    const client = api(t);
    const { body } = await client.post('/api/threads', { title: 'Messaging' }, { expect: 201 });
    const path = `/api/threads/${body.thread.id}`;
    const posted = await client.post(`${path}/messages`, { text: 'hello there' }, { expect: 201 });
    assert.equal(posted.body.message.text, 'hello there');

    const thread = await client.get(path, { expect: 200 });
    assert.deepEqual(
      thread.body.thread.messages.map((m) => m.text),
      ['hello there'],
    );
  });

  it('rejects a thread without a title', async (t) => {
    const res = await api(t).post('/api/threads', { title: '   ' }, { expect: 400 });
    assert.equal(res.body.error, 'bad_request');
  });

  it('deletes a thread', async (t) => {
    const client = api(t);
    const { body } = await client.post('/api/threads', { title: 'Short-lived' }, { expect: 201 });
    await client.delete(`/api/threads/${body.thread.id}`, { expect: 204 });
    await client.get(`/api/threads/${body.thread.id}`, { expect: 404 });
  });
});
