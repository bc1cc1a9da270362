import type { TokenStore } from '@greenloop/core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { RunningApi } from '../server.ts';
import { startTestApis } from '../testing.ts';

let a: RunningApi;
let b: RunningApi;
let cleanup: () => Promise<void>;
let store: TokenStore;

beforeAll(async () => {
  // Two API processes' worth of API: separate connections, separate near caches, one Redis.
  const started = await startTestApis(2);
  [a, b] = started.apis as [RunningApi, RunningApi];
  cleanup = started.cleanup;
  store = started.tokens;
});

afterAll(async () => {
  await cleanup?.();
});

const status = async (api: RunningApi, token: string) => (await fetch(`${api.url}/v1/loops`, { headers: { authorization: `Bearer ${token}` } })).status;

test('a token revoked through one API process is refused by another at once, not after a cache TTL', async () => {
  const admin = (await store.create({ name: 'admin', role: 'admin', createdBy: 'test' })).token;
  const { token, info } = await store.create({ name: 'ci', role: 'viewer', createdBy: 'test' });
  // B has verified (and keeps) the token.
  expect(await status(b, token)).toBe(200);
  expect(await status(b, token)).toBe(200);

  const revoked = await fetch(`${a.url}/v1/tokens/${info.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } });
  expect(revoked.status).toBe(200);
  const since = Date.now();
  let code = 200;
  while (code === 200 && Date.now() - since < 1000) code = await status(b, token);
  expect(code).toBe(401);
  // Well under the 5 s a verified token used to be trusted for.
  expect(Date.now() - since).toBeLessThan(1000);
  // And A, which revoked it, refuses it immediately.
  expect(await status(a, token)).toBe(401);
});

test('a wrong secret for a token id the API keeps is refused, and the right one still passes', async () => {
  const { token } = await store.create({ name: 'bot', role: 'viewer', createdBy: 'test' });
  expect(await status(b, token)).toBe(200);
  const forged = `${token.slice(0, -4)}0000`;
  expect(forged).not.toBe(token);
  expect(await status(b, forged)).toBe(401);
  expect(await status(b, token)).toBe(200);
});
