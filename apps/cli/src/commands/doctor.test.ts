import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createLogger, freePort, type ResolvedRedis, resolveRedis } from '@greenloop/core';
import { startOpenRedis } from '@greenloop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli.ts';

/**
 * A new user's first minutes, with real parts: a stdlib Python service (http.server's own access log on
 * stderr), a pytest suite that knows nothing about greenloop, `greenloop init`, then `greenloop doctor`.
 */

const root = mkdtempSync(join(tmpdir(), 'gl-doctor-'));
// The Redis doctor is shown: a password-protected one (what greenloop starts itself), unless a test says otherwise.
let redis: ResolvedRedis | undefined;
beforeAll(async () => {
  redis = await resolveRedis({ home: join(root, 'home'), log: createLogger('doctor-test', 'silent'), pathVar: process.env.PATH, port: await freePort() });
});
afterAll(async () => {
  await redis?.stop();
  rmSync(root, { recursive: true, force: true });
});

const APP = `import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 200 if self.path in ('/health', '/api/items') else 404
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b'ok')
http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()
`;
const SUITE = `import os, urllib.request
BASE = os.environ.get('BASE_URL', 'http://127.0.0.1:1')
def test_items():
    assert urllib.request.urlopen(BASE + '/api/items').status == 200
def test_items_again():
    assert urllib.request.urlopen(BASE + '/api/items').status == 200
`;
const LAZY_SUITE = `def test_nothing():
    assert 1 + 1 == 2
`;

function project(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  return dir;
}

async function cli(cwd: string, argv: string[], processEnv: Record<string, string> = { REDIS_URL: redis?.url ?? '' }) {
  const out: string[] = [];
  const code = await runCli({
    argv,
    processEnv,
    out: (l) => out.push(l),
    err: (l) => out.push(l),
    isTTY: false,
    signal: new AbortController().signal,
    cwd,
  });
  return { code, out: out.join('\n') };
}

describe('greenloop doctor', () => {
  it('after init on a Python/pytest project: says everything is wired, with what it read', async () => {
    const dir = project('py-ok', { 'requirements.txt': '', 'app.py': APP, 'tests/test_app.py': SUITE });
    expect((await cli(dir, ['init'])).code).toBe(0);
    const r = await cli(dir, ['doctor']);
    expect(r.out).toMatch(/✓ redis: Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ requires a password/);
    expect(r.out).toMatch(/✓ config: greenloop.yaml is valid; environment staging: py-ok \(local\)/);
    expect(r.out).toMatch(/✓ deploy: py-ok started \(local\) at http:\/\/127\.0\.0\.1:\d+ and answered \/health with 2xx/);
    expect(r.out).toMatch(/✓ junit: 2 tests in 1 JUnit file\(s\): 2 passed, 0 failed, 0 skipped/);
    expect(r.out).toMatch(/✓ log-times: \d+ of \d+ entries have a readable time/);
    expect(r.out).toMatch(/✓ traffic: the suite's requests reached py-ok \(2 through greenloop's recording proxy; greenloop's own probes not counted: \d+\)/);
    expect(r.out).toMatch(/✓ request-lines: [2-9]\d* request lines/);
    expect(r.out).toContain('everything greenloop needs is wired');
    expect(r.code).toBe(0);
  }, 60_000);

  it('a suite that never calls the service and a wrong health path: each said, with the fix', async () => {
    const dir = project('py-lazy', { 'requirements.txt': '', 'app.py': APP, 'tests/test_app.py': LAZY_SUITE });
    expect((await cli(dir, ['init'])).code).toBe(0);
    const r = await cli(dir, ['doctor', 'staging']);
    expect(r.out).toMatch(/✗ traffic: no request from the suite reached py-lazy/);
    expect(r.out).toMatch(/fix: the suite must call the URL greenloop gives it: GREENLOOP_URL_PY_LAZY/);
    expect(r.code).toBe(1);

    writeFileSync(
      join(dir, 'greenloop.yaml'),
      (await import('node:fs'))
        .readFileSync(join(dir, 'greenloop.yaml'), 'utf8')
        .replace('healthPath: /health', 'healthPath: /healthz')
        .replace('readyTimeout: 30s', 'readyTimeout: 2s'),
    );
    const bad = await cli(dir, ['doctor']);
    expect(bad.out).toMatch(/✗ deploy: py-lazy did not become ready: py-lazy did not answer \/healthz with 2xx within 2s \(last: HTTP 404\)/);
    expect(bad.out).toContain('set healthPath of service py-lazy to a path that does (your code has /health)');
    expect(bad.code).toBe(1);
  }, 60_000);

  it('an invalid greenloop.yaml: names the field', async () => {
    const dir = project('bad-config', { 'greenloop.yaml': 'version: 1\nenvironments:\n  staging:\n    services: []\n    tests: { command: "pytest" }\n' });
    const r = await cli(dir, ['doctor']);
    expect(r.out).toMatch(/✗ config: .*greenloop.yaml is invalid/);
    expect(r.out).toContain('environments.staging.services');
    expect(r.out).toContain('environments.staging.tests.command');
    expect(r.code).toBe(1);
    const none = await cli(project('no-config', { 'app.py': '' }), ['doctor']);
    expect(none.out).toMatch(/✗ config: no greenloop.yaml in .*\n {4}fix: `greenloop init` writes one/);
    expect(none.code).toBe(1);
  });

  it('a Redis that runs commands without a password is a problem, with the fix', { timeout: 20_000 }, async () => {
    const open = await startOpenRedis();
    try {
      const r = await cli(project('open-redis', { 'app.py': '' }), ['doctor', '--json'], { REDIS_URL: open.url });
      const check = (JSON.parse(r.out) as { checks: { id: string; ok: boolean | null; message: string; fix?: string }[] }).checks.find((c) => c.id === 'redis');
      expect(check).toMatchObject({ ok: false, message: expect.stringMatching(/^Redis at redis:\/\/127\.0\.0\.1:\d+ runs commands without a password/) });
      expect(check?.fix).toContain('requirepass');
      expect(r.code).toBe(1);
    } finally {
      open.stop();
    }
  });
});
