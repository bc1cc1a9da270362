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

describe('environmentFailure: a run most of whose tests could not reach the service', () => {
  const cluster = (triageClass: EnvironmentVerdictInput['clusters'][number]['triage'], n: number, sampleMessage: string, status?: number) => ({
    title: `${triageClass} ×${n}`,
    triage: triageClass,
    tests: Array.from({ length: n }, (_, i) => `t${i}`),
    sampleMessage,
    endpoints: status ? [{ status }] : [],
  });

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

  it('is no verdict when most tests pass, or when most fail for a code reason', () => {
    expect(environmentFailure({ totals: { total: 10, failed: 2, skipped: 0 }, clusters: [cluster('infrastructure', 2, 'socket hang up')] })).toBeUndefined();
    expect(
      environmentFailure({ totals: { total: 10, failed: 10, skipped: 0 }, clusters: [cluster('server-error', 10, 'expected 200 got 500', 500)] }),
    ).toBeUndefined();
    expect(environmentFailure({ totals: { total: 0, failed: 0, skipped: 0 }, clusters: [] })).toBeUndefined();
  });
});
