import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJUnitFiles } from './junit-parser.ts';
import { classify, type EnvironmentVerdictInput, environmentFailure, extractSignals } from './triage.ts';

const triage = (text: string, errorType?: string) =>
  classify({ text, signals: extractSignals(text), endpoints: [], logs: [], frames: [], ...(errorType ? { errorType } : {}) });

describe('environment failures are triaged as infrastructure, on every stack', () => {
  it.each([
    ['node', 'TypeError: fetch failed\n  cause: Error: connect ECONNREFUSED 127.0.0.1:4000'],
    ['node reset', 'Error: socket hang up'],
    ['node DNS', 'getaddrinfo ENOTFOUND api.staging.internal'],
    ['node TLS', 'Error: self-signed certificate in certificate chain'],
    ['undici timeout', 'UND_ERR_CONNECT_TIMEOUT'],
    [
      'python requests',
      "requests.exceptions.ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=8000): Max retries exceeded with url: /health (Caused by NewConnectionError('<urllib3.connection.HTTPConnection>: Failed to establish a new connection: [Errno 111] Connection refused'))",
    ],
    ['python DNS', 'socket.gaierror: [Errno -3] Temporary failure in name resolution'],
    ['python TLS', 'requests.exceptions.SSLError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate'],
    ['python read timeout', "requests.exceptions.ReadTimeout: HTTPConnectionPool(host='127.0.0.1', port=8000): Read timed out. (read timeout=5)"],
    ['go refused', 'Get "http://127.0.0.1:8080/api": dial tcp 127.0.0.1:8080: connect: connection refused'],
    ['go timeout', 'Get "http://10.0.0.1/api": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'],
    ['go TLS', 'Get "https://api": tls: failed to verify certificate: x509: certificate signed by unknown authority'],
    ['java refused', 'java.net.ConnectException: Connection refused'],
    ['java timeout', 'java.net.SocketTimeoutException: Read timed out'],
  ])('%s', (_, text) => {
    expect(triage(text)).toBe('infrastructure');
  });

  it('reads a 502 the recording proxy answered because the service refused as infrastructure, not a server error', () => {
    const text = 'AssertionError: 502 !== 200';
    const proxied = (error?: string) =>
      classify({
        text,
        signals: extractSignals(text),
        endpoints: [],
        frames: [],
        logs: [
          {
            match: 'request',
            entry: {
              time: '2026-12-02T10:00:00.000Z',
              severity: 'ERROR',
              service: 'api',
              message: 'request recorded by greenloop proxy',
              json: { source: 'greenloop-proxy', status: 502, ...(error ? { error } : {}) },
              httpRequest: { method: 'GET', path: '/api/x', status: 502 },
            },
          },
        ],
      });
    expect(proxied('connect ECONNREFUSED 127.0.0.1:41234')).toBe('infrastructure');
    // A 502 the service itself answered (no proxy error) stays a code failure.
    expect(proxied()).toBe('server-error');
  });

  it('keeps HTTP answers from the service as code failures', () => {
    expect(triage('expected 201 got 500 for POST /api/threads')).toBe('server-error');
    expect(triage('POST /api/agents/start → 404', 'AssertionError')).toBe('route-missing');
  });

  it('reads the connection-refused test of a real node --test JUnit file as infrastructure', async () => {
    const parsed = await parseJUnitFiles([join(import.meta.dirname, 'fixtures', 'junit', 'node-test.xml')]);
    const refused = parsed.tests.find((t) => t.name === 'top level connection refused');
    expect(refused?.message).toBe('connect ECONNREFUSED 127.0.0.1:43123');
    expect(triage(refused?.message ?? '')).toBe('infrastructure');
  });
});

type VerdictCluster = EnvironmentVerdictInput['clusters'][number];
let clusterSeq = 0;
/** A failing cluster of `n` tests; each gets its own fingerprint (and test ids), as buildClusters makes them. */
const cluster = (triageClass: VerdictCluster['triage'], n: number, sampleMessage: string, status?: number): VerdictCluster => {
  const id = ++clusterSeq;
  return {
    fingerprint: id.toString(16).padStart(12, '0'),
    title: `${triageClass} ×${n}`,
    triage: triageClass,
    tests: Array.from({ length: n }, (_, i) => `c${id} › t${i}`),
    sampleMessage,
    endpoints: status ? [{ status }] : [],
  };
};
const run = (executed: number, clusters: VerdictCluster[], skipped = 0): EnvironmentVerdictInput => ({
  totals: { total: executed + skipped, skipped, failed: clusters.reduce((n, c) => n + c.tests.length, 0) },
  clusters,
});
/** `n` tests failing with the same 500, spread over endpoints the way fingerprints split them (one cluster per endpoint). */
const same500 = (n: number, endpoints = 3) =>
  Array.from({ length: endpoints }, (_, i) => {
    const share = Math.floor(n / endpoints) + (i < n % endpoints ? 1 : 0);
    return cluster('server-error', share, `GET /api/r${i} → 500, expected 200 (internal_error: internal server error)`, 500);
  }).filter((c) => c.tests.length > 0);

describe('environmentFailure: a run most of whose tests could not reach the service', () => {
  it('names the run an environment failure with evidence when ≥ 80% of tests fail that way', () => {
    const verdict = environmentFailure({
      totals: { total: 12, failed: 10, skipped: 2 },
      clusters: [cluster('infrastructure', 9, 'connect ECONNREFUSED 127.0.0.1:4000\n    at …'), cluster('assertion', 1, 'expected 1 to be 2')],
    });
    expect(verdict).toBe(
      '10 of 10 tests failed, 9 of them unable to reach a working service — e.g. "connect ECONNREFUSED 127.0.0.1:4000" (9 test(s): infrastructure ×9). That is the environment (deploy, URLs, network, TLS), not the code: no fixer was dispatched',
    );
  });

  it('counts a gateway answering 502/503/504 for every test', () => {
    expect(
      environmentFailure({ totals: { total: 5, failed: 5, skipped: 0 }, clusters: [cluster('server-error', 5, 'GET /api → 503 Service Unavailable', 503)] }),
    ).toMatch(/^5 of 5 tests failed, 5 of them/);
  });

  it('counts a suite whose tests mostly time out the same way (every request hangs), but not one hanging test', () => {
    const hang = 'Error: Test timed out in 5000ms.';
    expect(environmentFailure({ totals: { total: 6, failed: 6, skipped: 0 }, clusters: [cluster('timeout', 6, hang)] })).toMatch(
      /^6 of 6 tests failed, 6 of them unable to reach a working service — e\.g\. "Error: Test timed out in 5000ms\."/,
    );
    expect(environmentFailure({ totals: { total: 6, failed: 1, skipped: 0 }, clusters: [cluster('timeout', 1, hang)] })).toBeUndefined();
  });

  it('is no verdict when most tests pass, or when nothing was executed', () => {
    expect(environmentFailure({ totals: { total: 10, failed: 2, skipped: 0 }, clusters: [cluster('infrastructure', 2, 'socket hang up')] })).toBeUndefined();
    expect(environmentFailure({ totals: { total: 0, failed: 0, skipped: 0 }, clusters: [] })).toBeUndefined();
    expect(environmentFailure({ totals: { total: 5, failed: 0, skipped: 5 }, clusters: [] })).toBeUndefined();
  });

  it('reads an unreachable service as that, not as "the same way", and keeps it with fixer.massFailure: fix', () => {
    const refused = run(8, [cluster('infrastructure', 8, 'connect ECONNREFUSED 127.0.0.1:4000')]);
    expect(environmentFailure(refused)).toMatch(/^8 of 8 tests failed, 8 of them unable to reach a working service/);
    expect(environmentFailure(refused, { sameWay: false })).toMatch(/^8 of 8 tests failed, 8 of them unable to reach a working service/);
  });
});

describe('environmentFailure: a run where most tests fail the same way', () => {
  it('names 10 of 10 tests getting the same 500 from several endpoints, with what to check and how to opt out', () => {
    const verdict = environmentFailure(run(10, same500(10)));
    expect(verdict).toBe(
      'most tests fail the same way: 10 of 10 with "GET /api/r0 → 500, expected 200 (internal_error: internal server error)" (server-error 500 in 3 clusters). ' +
        'One failure shared by nearly every test is usually the environment, not a code bug: check for a missing env var or secret, ' +
        'a dependency that is down (database, queue, another service) or a bad deploy config. No fixer was dispatched; ' +
        'if it is a bug in code every test goes through, set fixer.massFailure: fix to send it to the fixer',
    );
  });

  it('counts one cluster alone, and the same 401 or 404 everywhere (a wrong secret, a wrong base URL)', () => {
    expect(environmentFailure(run(6, [cluster('assertion', 6, 'expected 3 items, got 0')]))).toMatch(
      /^most tests fail the same way: 6 of 6 with "expected 3 items, got 0"\. One failure/,
    );
    expect(environmentFailure(run(5, [cluster('auth-rejected', 3, 'GET /a → 401', 401), cluster('auth-rejected', 2, 'GET /b → 401', 401)]))).toMatch(
      /^most tests fail the same way: 5 of 5 with "GET \/a → 401" \(auth-rejected 401 in 2 clusters\)/,
    );
  });

  it('fires at 80% of the executed tests and not just below it', () => {
    expect(environmentFailure(run(10, same500(8)))).toMatch(/^most tests fail the same way: 8 of 10 /);
    expect(environmentFailure(run(10, same500(7)))).toBeUndefined();
    // 80% of 6 is 4.8: 5 tests are needed, and 5 is also the minimum.
    expect(environmentFailure(run(6, same500(5)))).toMatch(/^most tests fail the same way: 5 of 6 /);
    expect(environmentFailure(run(25, same500(20, 7)))).toMatch(/^most tests fail the same way: 20 of 25 /);
    expect(environmentFailure(run(25, same500(19, 7)))).toBeUndefined();
  });

  it('counts executed tests only: skipped ones neither help nor hide the verdict', () => {
    expect(environmentFailure(run(10, same500(8), 30))).toMatch(/^most tests fail the same way: 8 of 10 /);
    expect(environmentFailure(run(10, same500(7), 30))).toBeUndefined();
  });

  it('says nothing about a suite of fewer than 5 tests, however they fail', () => {
    expect(environmentFailure(run(4, same500(4)))).toBeUndefined();
    expect(environmentFailure(run(4, [cluster('assertion', 4, 'expected 1 to be 2')]))).toBeUndefined();
    expect(environmentFailure(run(5, same500(5)))).toMatch(/^most tests fail the same way: 5 of 5 /);
  });

  it('is no verdict when the failures are many different ways, however many tests fail', () => {
    // Ten assertion clusters with the same wording are ten bugs: assertion text is never merged across clusters.
    const tenBugs = Array.from({ length: 10 }, () => cluster('assertion', 1, 'Expected values to be strictly equal:\n\n1 !== 2'));
    expect(environmentFailure(run(10, tenBugs))).toBeUndefined();
    // Statuses are ways of their own: half 500s and half 404s is neither at 80%.
    expect(environmentFailure(run(10, [...same500(5), cluster('route-missing', 5, 'POST /api/y → 404', 404)]))).toBeUndefined();
    // A 500 is not a 404 even on the same route, nor an error that names no status.
    expect(
      environmentFailure(
        run(10, [...same500(6, 2), cluster('server-error', 3, 'TypeError: x is undefined'), cluster('route-missing', 1, 'GET /api/r0 → 404', 404)]),
      ),
    ).toBeUndefined();
  });

  it('is off with fixer.massFailure: fix, so those clusters go to the fixer', () => {
    expect(environmentFailure(run(10, same500(10)), { sameWay: false })).toBeUndefined();
  });
});
