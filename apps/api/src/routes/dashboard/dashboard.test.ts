import { Script } from 'node:vm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { setupTestApi, type TestApi } from '../../testing.ts';
import { DASHBOARD_JS } from './client.ts';

let t: TestApi;

beforeAll(async () => {
  t = await setupTestApi();
});

afterAll(async () => {
  await t.cleanup();
});

const ASSETS = [
  { url: '/dashboard', type: 'text/html' },
  { url: '/dashboard/app.js', type: 'text/javascript' },
  { url: '/dashboard/app.css', type: 'text/css' },
  { url: '/dashboard/vendor/markdown-it.js', type: 'text/javascript' },
  { url: '/dashboard/vendor/purify.js', type: 'text/javascript' },
  { url: '/dashboard/vendor/chart.js', type: 'text/javascript' },
] as const;

describe('dashboard assets', () => {
  for (const { url, type } of ASSETS) {
    test(`${url} is served without a token as ${type}`, async () => {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe(`${type}; charset=utf-8`);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.body.length).toBeGreaterThan(100);
    });

    test(`${url} holds no token or secret`, async () => {
      const res = await t.app.inject({ method: 'GET', url, headers: t.auth('admin') });
      for (const secret of [t.token.bootstrap, t.token.admin, t.token.viewer, t.token.operator, t.redisUrl]) expect(res.body).not.toContain(secret);
      expect(res.body).not.toMatch(/glt_[A-Za-z0-9]/);
    });
  }

  test('the page loads only same-origin script and style, with nothing inline', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/dashboard' });
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(res.body).toContain('<script src="/dashboard/app.js" defer></script>');
    // Every script the page loads is one this API serves (the vendored libraries included).
    for (const [, src] of res.body.matchAll(/<script src="([^"]+)"/g)) {
      const script = await t.app.inject({ method: 'GET', url: src as string });
      expect(script.statusCode, src).toBe(200);
    }
    expect(res.body).toContain('<link rel="stylesheet" href="/dashboard/app.css">');
    // No inline script bodies, event handler attributes or style attributes.
    expect(res.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
    expect(res.body).not.toMatch(/\son[a-z]+\s*=/i);
    expect(res.body).not.toMatch(/\sstyle\s*=/i);
    // The token field is a password input with no name, so a form submission could never put it in a URL.
    expect(res.body).toMatch(/<input id="token" type="password"/);
    expect(res.body).not.toMatch(/<input[^>]*\bname=/);
  });

  test('the script and stylesheet keep the strict API policy', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/dashboard/app.js' });
    expect(res.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
  });

  test('the script does not build HTML from strings or evaluate code', () => {
    expect(DASHBOARD_JS).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    expect(DASHBOARD_JS).not.toMatch(/\beval\s*\(|new\s+Function\b|setTimeout\(\s*['"]|setInterval\(\s*['"]/);
    // The token travels in the Authorization header only, and is kept per tab.
    expect(DASHBOARD_JS).toContain("Authorization: 'Bearer ' + state.token");
    expect(DASHBOARD_JS).toContain('sessionStorage');
    expect(DASHBOARD_JS).not.toContain('localStorage');
    expect(DASHBOARD_JS).not.toMatch(/[?&]token=/);
  });

  test('the script is valid JavaScript', () => {
    // Compiled, never run: a syntax error here would break the page.
    expect(() => new Script(DASHBOARD_JS, { filename: 'app.js' })).not.toThrow();
  });

  test('unknown dashboard paths are 404', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/dashboard/other.js' });
    expect(res.statusCode).toBe(404);
  });
});

describe('the data behind the dashboard still needs a token', () => {
  const DATA = ['/v1/loops', '/v1/loops/abcdef-123', '/v1/loops/abcdef-123/events', '/v1/loops/abcdef-123/cycles/1/report'];

  for (const url of DATA) {
    test(`${url} answers 401 without a token`, async () => {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toContain('Bearer');
    });
  }

  test('the loop list answers with a viewer token', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/loops?limit=50', headers: t.auth('viewer') });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ loops: [] });
  });
});
