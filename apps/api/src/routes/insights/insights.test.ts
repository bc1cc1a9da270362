import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FP, REPORTED, TEST_IDS, writeDashboardData } from '../../test-support/dashboard-data.ts';
import { setupTestApi, type TestApi } from '../../testing.ts';

let t: TestApi;

beforeAll(async () => {
  t = await setupTestApi();
  await writeDashboardData(t.store, t.home);
});

afterAll(async () => {
  await t.cleanup();
});

async function get(url: string, role: 'viewer' | 'operator' | 'admin' = 'viewer') {
  const res = await t.app.inject({ method: 'GET', url, headers: t.auth(role) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

describe('GET /v1/insights/clusters', () => {
  test("follows each fingerprint across loops: first seen, fixes with the integrate step's commit, regressions", async () => {
    const body = await get('/v1/insights/clusters');
    expect(body.loopsRead).toBe(3);
    const route = body.clusters.find((c: { fingerprint: string }) => c.fingerprint === FP.route);
    const auth = body.clusters.find((c: { fingerprint: string }) => c.fingerprint === FP.auth);
    // Failing in nightly-a #1, fixed by f1f1… (seen passing in #2), back in nightly-b #1 and #2.
    expect(route).toMatchObject({
      firstSeen: { loopId: 'nightly-a-0001', cycle: 1 },
      lastSeen: { loopId: 'nightly-b-0002', cycle: 2 },
      cycles: 3,
      loops: 2,
      fixes: [{ loopId: 'nightly-a-0001', cycle: 2, commit: 'f1f1f1f1f1f1f1f1', fixCommit: true }],
      regressions: 1,
      open: true,
      environments: ['staging'],
    });
    expect(route.tests).toEqual(expect.arrayContaining([TEST_IDS.route, TEST_IDS.broken]));
    expect(auth).toMatchObject({ cycles: 2, loops: 1, regressions: 0, open: false, fixes: [{ cycle: 3, commit: 'f2f2f2f2f2f2f2f2', fixCommit: true }] });
    // Gone from cycle 2 without the analysis calling it fixed: no longer open, but no fix credited either.
    const gone = body.clusters.find((c: { fingerprint: string }) => c.fingerprint === FP.gone);
    expect(gone).toMatchObject({ cycles: 1, loops: 1, regressions: 0, open: false, fixes: [] });
    // Open clusters first, then the most recently seen.
    expect(body.clusters.map((c: { fingerprint: string }) => c.fingerprint)).toEqual([FP.route, FP.auth, FP.gone]);
  });

  test('filters by environment', async () => {
    expect((await get('/v1/insights/clusters?environment=production')).clusters).toEqual([]);
    expect((await get('/v1/insights/clusters?environment=staging')).clusters).toHaveLength(3);
  });

  test('only the newest N loops are read', async () => {
    // The newest loop is production's, which failed nothing.
    const body = await get('/v1/insights/clusters?loops=1');
    expect(body).toMatchObject({ loopsRead: 1, clusters: [] });
  });
});

describe('GET /v1/insights/flaky', () => {
  test('fail rate over the analyzed cycles of its environment, last seen, and quarantine by the known-flaky rule', async () => {
    const { tests } = await get('/v1/insights/flaky');
    expect(tests).toEqual([
      // Flaked in 3 of staging's 5 analyzed cycles, never failed for real: known flaky.
      {
        id: TEST_IDS.flaky,
        environments: ['staging'],
        flakes: 3,
        failures: 0,
        cyclesObserved: 5,
        failRate: 0.6,
        lastSeen: { loopId: 'nightly-b-0002', cycle: 1, at: expect.any(String) },
        quarantined: true,
      },
      // Failed for real once, flaked once: not (yet) known flaky.
      {
        id: TEST_IDS.sometimes,
        environments: ['staging'],
        flakes: 1,
        failures: 1,
        cyclesObserved: 5,
        failRate: 0.4,
        lastSeen: { loopId: 'nightly-b-0002', cycle: 2, at: expect.any(String) },
        quarantined: false,
      },
    ]);
    expect((await get('/v1/insights/flaky?environment=production')).tests).toEqual([]);
  });
});

describe('GET /v1/insights/trends', () => {
  test('pass rate and cycles to green per environment, oldest first, with spend where recorded', async () => {
    const { environments } = await get('/v1/insights/trends');
    expect(environments).toEqual([
      {
        environment: 'production',
        greenRate: 1,
        medianCyclesToGreen: 1,
        points: [
          {
            loopId: 'manual-c-0003',
            startedAt: '2026-11-29T09:30:00.000Z',
            trigger: 'api',
            state: 'green',
            cycles: 1,
            cyclesToGreen: 1,
            passRate: 1,
            firstPassRate: 1,
          },
        ],
      },
      {
        environment: 'staging',
        greenRate: 0.5,
        medianCyclesToGreen: 3,
        points: [
          {
            loopId: 'nightly-a-0001',
            startedAt: '2026-11-28T02:00:00.000Z',
            trigger: 'schedule',
            state: 'green',
            cycles: 3,
            cyclesToGreen: 3,
            passRate: 1,
            firstPassRate: 0.7,
            spendUsd: 1.84,
          },
          {
            loopId: 'nightly-b-0002',
            startedAt: '2026-11-29T02:00:00.000Z',
            trigger: 'schedule',
            state: 'stopped',
            cycles: 2,
            cyclesToGreen: null,
            passRate: 0.8,
            firstPassRate: 0.9,
          },
        ],
      },
    ]);
  });

  test('trigger=schedule keeps the nightly loops only', async () => {
    const { environments, loopsRead } = await get('/v1/insights/trends?trigger=schedule&loops=5');
    expect(loopsRead).toBe(2);
    expect(environments.map((e: { environment: string }) => e.environment)).toEqual(['staging']);
  });
});

describe('GET /v1/session', () => {
  test('says which role a token has and what it may do', async () => {
    expect(await get('/v1/session', 'viewer')).toEqual({
      name: 'test-viewer',
      role: 'viewer',
      kind: 'token',
      can: { read: true, startLoop: false, cancelLoop: false, manageSchedules: false, manageTokens: false },
      environments: ['production', 'staging'],
    });
    expect((await get('/v1/session', 'operator')).can).toMatchObject({ startLoop: true, cancelLoop: true, manageTokens: false });
    expect((await get('/v1/session', 'admin')).can).toMatchObject({ startLoop: true, manageTokens: true });
  });
});

describe('GET /v1/session with a broken greenloop.yaml', () => {
  test('still answers, with no environments and why', async () => {
    const broken = await setupTestApi({ config: 'version: 1\nenvironments: 3\n' });
    try {
      const res = await broken.app.inject({ method: 'GET', url: '/v1/session', headers: broken.auth('operator') });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ role: 'operator', environments: [], configError: expect.stringContaining('environments') });
    } finally {
      await broken.cleanup();
    }
  });
});

describe('GET /v1/loops/:id/cycles/:n/evidence', () => {
  test("lists the report's evidence files as artifact paths, leaving out any outside the loop's directory", async () => {
    const { files } = await get(`/v1/loops/${REPORTED.loopId}/cycles/${REPORTED.cycle}/evidence`);
    expect(files.map((f: { path: string }) => f.path)).toEqual([
      'cycle-1/analyze/report.json',
      'cycle-1/test/stdout.txt',
      'cycle-1/test/stderr.txt',
      'cycle-1/test/junit.xml',
      `cycle-1/analyze/clusters/${FP.route}.md`,
    ]);
    // Each link works with the same token.
    for (const f of files) {
      const res = await t.app.inject({ method: 'GET', url: f.href, headers: t.auth('viewer') });
      expect(res.statusCode, f.href).toBe(200);
    }
  });

  test('a cycle without a report is a clear 404', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/v1/loops/${REPORTED.loopId}/cycles/2/evidence`, headers: t.auth('viewer') });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('REPORT_NOT_READY');
  });
});

describe('refusals', () => {
  const URLS = ['/v1/insights/clusters', '/v1/insights/flaky', '/v1/insights/trends', '/v1/session', `/v1/loops/${REPORTED.loopId}/cycles/1/evidence`];
  for (const url of URLS) {
    test(`${url} needs a token`, async () => {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(401);
    });
  }

  test('bad windows and filters are 400s that name the field', async () => {
    for (const url of [
      '/v1/insights/clusters?loops=0',
      '/v1/insights/flaky?environment=Bad!',
      '/v1/insights/trends?trigger=cron',
      '/v1/insights/clusters?other=1',
    ]) {
      const res = await t.app.inject({ method: 'GET', url, headers: t.auth('viewer') });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().message).toMatch(/querystring/);
    }
  });

  test('a viewer cannot start or cancel a loop', async () => {
    const start = await t.app.inject({ method: 'POST', url: '/v1/loops', headers: t.auth('viewer'), payload: { environment: 'staging' } });
    expect(start.statusCode).toBe(403);
    const cancel = await t.app.inject({ method: 'POST', url: `/v1/loops/${REPORTED.loopId}/cancel`, headers: t.auth('viewer') });
    expect(cancel.statusCode).toBe(403);
  });
});
