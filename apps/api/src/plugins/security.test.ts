import { afterAll, beforeAll, expect, test } from 'vitest';
import { setupTestApi, type TestApi } from '../testing.ts';
import { API_SECURITY_HEADERS } from './security.ts';

let t: TestApi;

beforeAll(async () => {
  t = await setupTestApi();
});

afterAll(async () => {
  await t.cleanup();
});

test('API answers, errors and 404s carry the headers; the HTML pages get their own policy from helmet', async () => {
  for (const req of [{ url: '/v1/loops', headers: t.auth('viewer') }, { url: '/v1/loops' }, { url: '/nope' }, { url: '/healthz' }]) {
    const res = await t.app.inject({ method: 'GET', ...req });
    for (const [h, v] of Object.entries(API_SECURITY_HEADERS)) expect(res.headers[h], `${req.url} ${h}`).toBe(v);
    // The OWASP REST set, and none of helmet's document-only headers.
    expect(res.headers).toMatchObject({ 'cache-control': 'no-store', 'x-frame-options': 'DENY', 'x-content-type-options': 'nosniff' });
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res.headers['strict-transport-security']).toMatch(/^max-age=\d+/);
    for (const h of ['x-dns-prefetch-control', 'x-download-options', 'x-xss-protection', 'origin-agent-cluster']) expect(res.headers[h]).toBeUndefined();
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
