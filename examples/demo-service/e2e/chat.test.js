import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { api, bearer, signToken } from './client.js';

describe('chat (auth)', () => {
  it('rejects requests without a token', async (t) => {
    const res = await api(t).get('/api/chat/messages', { expect: 401 });
    assert.equal(res.body.error, 'unauthorized');
  });

  it('rejects a token with a bad signature', async (t) => {
    const token = signToken({}, 'not-the-secret');
    await api(t).get('/api/chat/messages', { headers: bearer(token), expect: 401 });
  });

  it('rejects an expired token', async (t) => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    const token = signToken({ iat: past - 300, exp: past });
    await api(t).get('/api/chat/messages', { headers: bearer(token), expect: 401 });
  });

  it('forbids a token issued for another audience', async (t) => {
    const token = signToken({ aud: 'billing' });
    const res = await api(t).get('/api/chat/messages', { headers: bearer(token), expect: 403 });
    assert.equal(res.body.error, 'forbidden');
  });

  it('lists chat messages with a valid token', async (t) => {
    const res = await api(t).get('/api/chat/messages', { headers: bearer(signToken()), expect: 200 });
    assert.equal(res.body.threadId, 'thr_welcome');
    assert.ok(Array.isArray(res.body.messages));
  });

  it('posts a chat message and gets a reply', async (t) => {
    const res = await api(t).post('/api/chat/messages', { text: 'What can you do?' }, { headers: bearer(signToken()), expect: 201 });
    assert.equal(res.body.message.author, 'demo-user');
    assert.equal(res.body.message.text, 'What can you do?');
    assert.equal(res.body.reply.role, 'assistant');
  });
});
