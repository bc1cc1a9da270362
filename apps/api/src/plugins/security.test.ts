import helmet from '@fastify/helmet';
import Fastify from 'fastify';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { setupTestApi, type TestApi } from '../testing.ts';
import { API_HELMET, API_SECURITY_HEADERS } from './security.ts';

let t: TestApi;

beforeAll(async () => {
  t = await setupTestApi();
});

afterAll(async () => {
  await t.cleanup();
});

test('the precomputed API headers are exactly what @fastify/helmet sends for the same options', async () => {
  const reference = Fastify();
  await reference.register(helmet, { global: true, ...API_HELMET });
  reference.get('/', async () => ({ ok: true }));
  const res = await reference.inject({ method: 'GET', url: '/' });
  const fromHelmet = Object.fromEntries(Object.keys(API_SECURITY_HEADERS).map((h) => [h, res.headers[h]]));
  expect(fromHelmet).toEqual(API_SECURITY_HEADERS);
  const helmetNames = Object.keys(res.headers).filter((h) => !['content-type', 'content-length', 'date', 'connection'].includes(h));
  expect(helmetNames.sort()).toEqual(Object.keys(API_SECURITY_HEADERS).sort());
  await reference.close();
});

test('API answers, errors and 404s carry the headers; the HTML pages get their own policy from helmet', async () => {
  for (const req of [{ url: '/v1/loops', headers: t.auth('viewer') }, { url: '/v1/loops' }, { url: '/nope' }, { url: '/healthz' }]) {
    const res = await t.app.inject({ method: 'GET', ...req });
    for (const [h, v] of Object.entries(API_SECURITY_HEADERS)) expect(res.headers[h], `${req.url} ${h}`).toBe(v);
  }
  const board = await t.app.inject({ method: 'GET', url: '/admin/queues' });
  expect(board.statusCode).toBe(401);
  expect(board.headers['content-security-policy']).toBe(API_SECURITY_HEADERS['content-security-policy']);
  const boardOk = await t.app.inject({ method: 'GET', url: '/admin/queues', headers: t.auth('admin') });
  expect(boardOk.headers['content-security-policy']).toContain("script-src 'self' 'unsafe-inline'");
  const docs = await t.app.inject({ method: 'GET', url: '/docs' });
  expect(docs.statusCode).toBe(200);
  expect(docs.headers['content-security-policy']).toContain("script-src 'self' 'unsafe-inline'");
  expect(docs.headers['x-content-type-options']).toBe('nosniff');
});
