import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runningLoop, setupTestApi, type TestApi } from '../../testing.ts';

let t: TestApi;
let base: URL;
const L = 'loop-art-1';

beforeAll(async () => {
  t = await setupTestApi();
  await t.store.createLoop(runningLoop(L));
  const dir = join(t.home, 'artifacts', L);
  mkdirSync(join(dir, 'cycle-1', 'junit'), { recursive: true });
  writeFileSync(join(dir, 'cycle-1', 'junit', 'results.xml'), '<testsuites/>');
  writeFileSync(join(dir, 'cycle-1', 'stdout.txt'), 'hello from the suite\n');
  writeFileSync(join(dir, 'cycle-1', 'page.html'), '<script>alert(1)</script>');
  mkdirSync(join(dir, 'cycle-2'));
  writeFileSync(join(dir, 'cycle-2', 'leaky.log'), 'GET /x Authorization: Bearer abcdefgh12345678 token=s3cr3t-value\n');
  writeFileSync(join(dir, 'cycle-2', 'leaky.json'), JSON.stringify({ cookie: 'Cookie: sid=abcdef123456', n: 1 }));
  // Things a path must never reach: a sibling loop whose id shares the prefix, and files outside home.
  mkdirSync(join(t.home, 'artifacts', `${L}-other`), { recursive: true });
  writeFileSync(join(t.home, 'artifacts', `${L}-other`, 'secret.txt'), 'other loop');
  writeFileSync(join(t.home, 'outside-secret.txt'), 'TOP SECRET');
  symlinkSync(join(t.home, 'outside-secret.txt'), join(dir, 'escape.txt'));
  symlinkSync(t.home, join(dir, 'escape-dir'));
  symlinkSync('/etc', join(dir, 'etc-link'));
  symlinkSync(join(dir, 'cycle-1', 'stdout.txt'), join(dir, 'inside-link.txt'));
  base = new URL(await t.app.listen({ port: 0, host: '127.0.0.1' }));
});

afterAll(async () => {
  await t.cleanup();
});

const get = (path: string) => t.app.inject({ method: 'GET', url: `/v1/loops/${L}/artifacts/${path}`, headers: t.auth('viewer') });

/**
 * The path exactly as written, over a real socket: inject (and most clients) normalize "../" and
 * "%2e%2e/" away before the server sees them, which would hide whether the server itself is safe.
 */
function raw(path: string): Promise<{ statusCode: number; body: string; json: () => Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: base.hostname, port: base.port, path: `/v1/loops/${L}/artifacts/${path}`, headers: t.auth('viewer') }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, body, json: () => JSON.parse(body) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GET /v1/loops/:id/artifacts/*', () => {
  test('text artifacts reach non-admins through the redactor (JSON stays JSON); admins get them raw', async () => {
    const log = await get('cycle-2/leaky.log');
    expect(log.statusCode).toBe(200);
    expect(log.body).toBe('GET /x Authorization: Bearer [redacted] token=[redacted]\n');
    const json = await get('cycle-2/leaky.json');
    expect(json.json()).toEqual({ cookie: 'Cookie: [redacted]', n: 1 });
    const raw = await t.app.inject({ method: 'GET', url: `/v1/loops/${L}/artifacts/cycle-2/leaky.log`, headers: t.auth('admin') });
    expect(raw.body).toContain('abcdefgh12345678');
  });

  test('serves files with safe content types and lists directories', async () => {
    const out = await get('cycle-1/stdout.txt');
    expect(out.statusCode).toBe(200);
    expect(out.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(out.headers['x-content-type-options']).toBe('nosniff');
    expect(out.body).toBe('hello from the suite\n');
    expect((await get('cycle-1/junit/results.xml')).headers['content-type']).toBe('application/xml; charset=utf-8');
    // Binary (not text) artifacts are raw evidence: admin only, and never served as HTML.
    expect((await get('cycle-1/page.html')).statusCode).toBe(403);
    const html = await t.app.inject({ method: 'GET', url: `/v1/loops/${L}/artifacts/cycle-1/page.html`, headers: t.auth('admin') });
    expect(html.headers['content-type']).toBe('application/octet-stream');
    const listing = await get('cycle-1');
    expect(listing.statusCode).toBe(200);
    expect(listing.json()).toEqual({
      path: 'cycle-1',
      entries: [
        { name: 'junit', type: 'dir' },
        { name: 'page.html', type: 'file', size: 25 },
        { name: 'stdout.txt', type: 'file', size: 21 },
      ],
    });
    expect((await get('')).json().entries.map((e: { name: string }) => e.name)).toContain('cycle-1');
    expect((await get('inside-link.txt')).body).toBe('hello from the suite\n');
  });

  test.each([
    ['../../outside-secret.txt'],
    ['cycle-1/../../outside-secret.txt'],
    ['%2e%2e/%2e%2e/outside-secret.txt'],
    ['%2E%2E%2F%2E%2E%2Foutside-secret.txt'],
    ['..%5c..%5coutside-secret.txt'],
    [`../${L}-other/secret.txt`],
    ['/etc/passwd'],
    ['%2Fetc%2Fpasswd'],
    ['cycle-1/stdout.txt%00.png'],
    ['escape.txt'],
    ['escape-dir/outside-secret.txt'],
    ['etc-link/passwd'],
    ['etc-link'],
  ])('refuses %s with a 4xx and never the file', async (path) => {
    for (const res of [await raw(path), await get(path)]) {
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
      expect(res.body).not.toMatch(/TOP SECRET|other loop|root:/);
    }
    const res = await raw(path);
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.statusCode).toBeLessThan(500);
    // Over a raw socket the server's own checks answer, not the router.
    expect(res.json().code).not.toBe('ROUTE_NOT_FOUND');
  });

  test('the answers say why', async () => {
    expect((await raw('../x')).json()).toMatchObject({
      code: 'PATH_NOT_ALLOWED',
      message: 'artifact path "../x" is not allowed: ".." segments are not allowed',
    });
    expect((await get('escape.txt')).json()).toMatchObject({ code: 'PATH_NOT_ALLOWED', message: expect.stringContaining('link that leads outside') });
    expect((await get('nope.txt')).json()).toMatchObject({ code: 'ARTIFACT_NOT_FOUND' });
    const otherLoop = await t.app.inject({ method: 'GET', url: '/v1/loops/no-such-loop/artifacts/x', headers: t.auth('viewer') });
    expect(otherLoop.json()).toMatchObject({ code: 'LOOP_NOT_FOUND' });
    const badId = await t.app.inject({ method: 'GET', url: '/v1/loops/..%2F..%2Fetc/artifacts/passwd', headers: t.auth('viewer') });
    expect(badId.statusCode).toBe(400);
  });
});
