import { type CloudLoggingConfig, createLogger, type DeployedService, GreenloopError, LogsSchema } from '@greenloop/core';
import { testRedis } from '@greenloop/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeGoogle } from '../test-support/fake-google.ts';
import { CloudLoggingSource, type CloudLoggingSourceOptions, normalizeEntry } from './cloud-logging.ts';

const PROJECT = 'acme-staging';
const REVISION = 'backend-3f2a9c1-0a1b2c3d';
const FROM = '2025-03-01T10:00:00.000Z';
const TO = '2025-03-01T10:05:00.000Z';
const REQUESTS_LOG = `projects/${PROJECT}/logs/run.googleapis.com%2Frequests`;
const STDOUT_LOG = `projects/${PROJECT}/logs/run.googleapis.com%2Fstdout`;
const FAST_RETRY = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };

const deployed: DeployedService[] = [
  {
    service: 'api',
    provider: 'cloud-run',
    url: 'https://backend.run.app',
    revision: REVISION,
    readyAt: FROM,
    details: { cloudRunService: 'backend', project: PROJECT, region: 'europe-west1' },
  },
  { service: 'web', provider: 'local', url: 'http://127.0.0.1:3000', revision: 'local-1', readyAt: FROM },
];

function config(over: Partial<CloudLoggingConfig> = {}): CloudLoggingConfig {
  const parsed = LogsSchema.parse({ provider: 'cloud-logging', project: PROJECT, pageSize: 4, ...over });
  if (parsed.provider !== 'cloud-logging') throw new Error('unreachable');
  return parsed;
}

function at(minute: number, second = 0): string {
  return new Date(Date.parse(FROM) + minute * 60_000 + second * 1000).toISOString();
}

function resource(service = 'backend', revision = REVISION) {
  return { type: 'cloud_run_revision', labels: { service_name: service, revision_name: revision, location: 'europe-west1', project_id: PROJECT } };
}

/** Eleven entries the filters must keep (7 errors, a warning, 3 failing requests) and noise they must drop. */
function seedLogs(fake: FakeGoogle): void {
  const app = Array.from({ length: 7 }, (_, i) => ({
    logName: STDOUT_LOG,
    timestamp: at(1, i),
    severity: i === 3 ? 'CRITICAL' : 'ERROR',
    resource: resource(),
    jsonPayload: { message: `boom ${i}`, runId: 'run-42', test: `e2e › users › case ${i}` },
    trace: `projects/${PROJECT}/traces/abc${i}`,
    insertId: `app-${i}`,
  }));
  fake.addLogEntries([
    ...app,
    {
      logName: STDOUT_LOG,
      timestamp: at(1, 30),
      severity: 'WARNING',
      resource: resource(),
      textPayload: 'slow query (1200ms)',
      labels: { runId: 'run-42', test: 'e2e › login' },
      insertId: 'w1',
    },
    { logName: STDOUT_LOG, timestamp: at(2), severity: 'INFO', resource: resource(), textPayload: 'below the threshold', insertId: 'n1' },
    { logName: STDOUT_LOG, timestamp: at(-10), severity: 'ERROR', resource: resource(), textPayload: 'before the window', insertId: 'n2' },
    {
      logName: STDOUT_LOG,
      timestamp: at(2),
      severity: 'ERROR',
      resource: resource('backend', 'backend-00001-old'),
      textPayload: 'old revision',
      insertId: 'n3',
    },
    { logName: STDOUT_LOG, timestamp: at(2), severity: 'ERROR', resource: resource('billing', 'billing-1'), textPayload: 'other service', insertId: 'n4' },
    {
      logName: 'projects/other-project/logs/run.googleapis.com%2Fstdout',
      timestamp: at(2),
      severity: 'ERROR',
      resource: resource(),
      textPayload: 'other project',
      insertId: 'n5',
    },
  ]);
  const request = (method: string, path: string, status: number, second: number) => ({
    logName: REQUESTS_LOG,
    timestamp: at(3, second),
    severity: status >= 500 ? 'ERROR' : status >= 400 ? 'WARNING' : 'INFO',
    resource: resource(),
    httpRequest: { requestMethod: method, requestUrl: `https://backend-abc123-ew.a.run.app${path}?page=1`, status, latency: '0.250s' },
    insertId: `req-${method}-${status}-${second}`,
  });
  fake.addLogEntries([
    request('GET', '/api/users', 500, 1),
    request('GET', '/api/users', 500, 2),
    request('POST', '/api/login', 404, 3),
    request('GET', '/healthz', 200, 4),
  ]);
}

describe('CloudLoggingSource against the fake Cloud Logging API', () => {
  let fake: FakeGoogle;
  let redis: ReturnType<typeof testRedis>;
  const sources: CloudLoggingSource[] = [];

  const source = (cfg: CloudLoggingConfig = config(), over: Partial<CloudLoggingSourceOptions> = {}) => {
    const s = new CloudLoggingSource(cfg, {
      redis: redis.redis,
      keyPrefix: redis.prefix,
      clientOptions: fake.clientOptions(),
      retry: FAST_RETRY,
      log: createLogger('test', 'silent'),
      ...over,
    });
    sources.push(s);
    return s;
  };
  const listCalls = () =>
    fake.requests
      .filter((r) => r.method === 'listEntries')
      .map((r) => r.body as { filter: string; pageSize: number; pageToken?: string; orderBy: string; resourceNames: string[] });
  const mainCalls = () => listCalls().filter((b) => !b.filter.includes('httpRequest.status'));

  beforeEach(async () => {
    fake = await FakeGoogle.start();
    redis = testRedis();
    seedLogs(fake);
  });

  afterEach(async () => {
    sources.length = 0;
    await fake.close();
    await redis.cleanup();
  });

  it('reads three pages with page tokens, filters by service, revision, severity and an explicit window, and normalizes entries', async () => {
    const pull = await source().pull({ services: deployed, from: FROM, to: TO, runId: 'run-42' });

    expect(pull.truncated).toBe(false);
    expect(pull.entries.map((e) => e.message)).toEqual([
      'boom 0',
      'boom 1',
      'boom 2',
      'boom 3',
      'boom 4',
      'boom 5',
      'boom 6',
      'slow query (1200ms)',
      'GET /api/users 500',
      'GET /api/users 500',
      'POST /api/login 404',
    ]);
    const calls = mainCalls();
    expect(calls).toHaveLength(3);
    expect(calls.map((c) => c.pageSize)).toEqual([4, 4, 4]);
    expect(calls[0]?.pageToken).toBeFalsy();
    expect(calls[1]?.pageToken).toBeTruthy();
    expect(calls[2]?.pageToken).not.toBe(calls[1]?.pageToken);
    expect(calls[0]?.resourceNames).toEqual([`projects/${PROJECT}`]);
    expect(calls[0]?.orderBy).toBe('timestamp asc');

    const filter = calls[0]?.filter ?? '';
    expect(filter).toContain('resource.type="cloud_run_revision"');
    expect(filter).toContain(`resource.labels.service_name="backend" AND resource.labels.revision_name="${REVISION}"`);
    expect(filter).toContain('severity>=WARNING');
    expect(filter).toContain('timestamp>="2025-03-01T09:59:55.000Z" AND timestamp<="2025-03-01T10:05:05.000Z"');
    // Our window is explicit, so the library appended no 24-hour window of its own.
    expect(filter.match(/timestamp/g)).toHaveLength(2);
    expect(pull.query).toContain(filter);

    const first = pull.entries[0];
    expect(first).toMatchObject({
      time: at(1, 0),
      severity: 'ERROR',
      service: 'api',
      revision: REVISION,
      runId: 'run-42',
      test: 'e2e › users › case 0',
      trace: `projects/${PROJECT}/traces/abc0`,
    });
    expect(first?.json).toMatchObject({ message: 'boom 0' });
    expect(pull.entries[3]?.severity).toBe('CRITICAL');
    expect(pull.entries[7]).toMatchObject({ severity: 'WARNING', runId: 'run-42', test: 'e2e › login' });
    expect(pull.entries[8]).toMatchObject({ severity: 'ERROR', httpRequest: { method: 'GET', path: '/api/users', status: 500, latencyMs: 250 } });
  });

  it('aggregates failing requests from the request log by method, path and status', async () => {
    const pull = await source().pull({ services: deployed, from: FROM, to: TO, runId: 'run-42' });
    expect(pull.failingRequests).toEqual([
      { method: 'GET', path: '/api/users', status: 500, count: 2 },
      { method: 'POST', path: '/api/login', status: 404, count: 1 },
    ]);
    const requests = listCalls().find((b) => b.filter.includes('httpRequest.status'));
    expect(requests?.filter).toContain(`logName="${REQUESTS_LOG}"`);
    expect(requests?.filter).toContain('httpRequest.status>=400');
  });

  it('stops at maxPages and says the pull was truncated', async () => {
    const pull = await source(config({ maxPages: 2 })).pull({ services: deployed, from: FROM, to: TO, runId: 'run-42' });
    expect(pull.truncated).toBe(true);
    expect(pull.entries).toHaveLength(8);
    expect(mainCalls()).toHaveLength(2);
    expect(pull.query).toContain('truncated');
  });

  it('stops at maxEntries, asking only for what is left', async () => {
    const pull = await source(config({ maxEntries: 6 })).pull({ services: deployed, from: FROM, to: TO, runId: 'run-42' });
    expect(pull.truncated).toBe(true);
    expect(pull.entries.map((e) => e.message)).toEqual(['boom 0', 'boom 1', 'boom 2', 'boom 3', 'boom 4', 'boom 5']);
    expect(mainCalls().map((c) => c.pageSize)).toEqual([4, 2]);
  });

  it('backs off on 429 RESOURCE_EXHAUSTED and then succeeds', async () => {
    fake.failNext('listEntries', {
      status: 429,
      message: "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute'",
      details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '0.020s' }],
    });
    const pull = await source().pull({ services: deployed, from: FROM, to: TO, runId: 'run-42' });
    expect(pull.entries).toHaveLength(11);
    expect(mainCalls()).toHaveLength(4);
  });

  it('maps 403 to a non-retryable error naming roles/logging.viewer', async () => {
    fake.failNext('listEntries', { status: 403, message: 'Permission denied for all log views' });
    const err = await source()
      .pull({ services: deployed, from: FROM, to: TO, runId: 'run-42' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GreenloopError);
    expect(err).toMatchObject({ code: 'CLOUD_LOGGING_PERMISSION_DENIED', retryable: false });
    expect((err as GreenloopError).hint).toContain('roles/logging.viewer');
  });

  it('queries nothing when no Cloud Run revision was deployed', async () => {
    const pull = await source().pull({ services: [deployed[1] as DeployedService], from: FROM, to: TO, runId: 'run-42' });
    expect(pull).toMatchObject({ entries: [], failingRequests: [], truncated: false });
    expect(listCalls()).toHaveLength(0);
  });

  it('shares one rate limit across source instances (and so across worker processes) through Redis', async () => {
    const rate = { limit: 3, windowMs: 600 };
    const a = source(config(), { rateLimit: rate });
    const b = source(config(), { rateLimit: rate });
    const started = Date.now();
    // Each pull makes 4 entries.list calls (3 pages + the request log): 8 calls through a limit of 3 per 600ms.
    const [pa, pb] = await Promise.all([
      a.pull({ services: deployed, from: FROM, to: TO, runId: 'r' }),
      b.pull({ services: deployed, from: FROM, to: TO, runId: 'r' }),
    ]);
    expect(pa.entries).toHaveLength(11);
    expect(pb.entries).toHaveLength(11);

    const times = fake.requests.filter((r) => r.method === 'listEntries').map((r) => r.at);
    expect(times).toHaveLength(8);
    // Sliding window: any 4 consecutive calls span at least one window (less a little request latency).
    for (let i = 0; i + rate.limit < times.length; i++) expect((times[i + rate.limit] ?? 0) - (times[i] ?? 0)).toBeGreaterThanOrEqual(rate.windowMs - 50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * rate.windowMs - 50);
    expect(await redis.redis.exists(`${redis.prefix}:ratelimit:cloud-logging:${PROJECT}`)).toBe(1);
  });
});

describe('normalizeEntry reads the payload like any log line', () => {
  const names = new Map([['backend', 'api']]);
  const resourceLabels = { type: 'cloud_run_revision', labels: { service_name: 'backend', revision_name: REVISION } };

  it("a pino app's jsonPayload: its request fields, error and stack; the severity from its level when the entry has none", () => {
    const e = normalizeEntry(
      {
        metadata: { timestamp: '2026-12-02T12:50:11.690Z', resource: resourceLabels },
        data: {
          level: 50,
          msg: 'order lookup failed',
          req: { method: 'GET', url: '/api/orders/7?full=1' },
          res: { statusCode: 500 },
          err: { type: 'TypeError', message: 'x is undefined', stack: 'TypeError: x is undefined\n    at getOrder (/app/orders.js:14:22)' },
        },
      },
      names,
    );
    expect(e).toMatchObject({
      time: '2026-12-02T12:50:11.690Z',
      severity: 'ERROR',
      service: 'api',
      revision: REVISION,
      httpRequest: { method: 'GET', path: '/api/orders/7', status: 500 },
    });
    expect(e.message).toBe('order lookup failed\nTypeError: x is undefined\n    at getOrder (/app/orders.js:14:22)');
  });

  it("a textPayload access line gives the request; greenloop's probe in httpRequest.userAgent is marked", () => {
    const text = normalizeEntry(
      { metadata: { timestamp: '2026-12-02T12:50:11.690Z', resource: resourceLabels }, data: '"GET /api/items HTTP/1.1" 404 -' },
      names,
    );
    expect(text.httpRequest).toEqual({ method: 'GET', path: '/api/items', status: 404 });
    const probe = normalizeEntry(
      {
        metadata: {
          timestamp: '2026-12-02T12:50:11.690Z',
          resource: resourceLabels,
          httpRequest: { requestMethod: 'GET', requestUrl: 'https://backend.run.app/healthz', status: 200, userAgent: 'greenloop-probe/1' },
        },
        data: undefined,
      },
      names,
    );
    expect(probe).toMatchObject({ probe: true, httpRequest: { path: '/healthz', userAgent: 'greenloop-probe/1' } });
  });
});
