import type { LogEntry } from '@greenloop/core';
import { describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../proxy/request-record.ts';
import { analyzeFailure } from './cluster.ts';
import { buildLogIndex, correlateTest, entryTraceId, normalizeTestName, traceIdFor } from './correlate.ts';
import { linesDuring, statusesIn } from './request-evidence.ts';
import { deriveTestWindows } from './test-windows.ts';
import type { ParsedTestCase } from './types.ts';

const scope = { runId: 'run-7', from: '2025-09-08T21:00:00.000Z', to: '2025-09-08T21:10:00.000Z' };
const entry = (over: Partial<LogEntry>): LogEntry => ({
  time: '2025-09-08T21:05:00.000Z',
  severity: 'WARNING',
  service: 'api',
  message: 'request rejected',
  ...over,
});
const test = (over: Partial<ParsedTestCase> = {}): ParsedTestCase => ({
  id: 'agents › lifecycle › starts an agent',
  suite: 'agents › lifecycle',
  classname: 'agents.lifecycle',
  name: 'starts an agent',
  status: 'failed',
  durationMs: 12,
  suitePath: ['agents', 'lifecycle'],
  source: { file: 'j.xml', line: 3 },
  message: 'POST /api/agents/start → 404',
  ...over,
});

describe('traceIdFor', () => {
  it('is the first 32 hex of sha256("<runId>:<testName>"), as the demo suite derives it', () => {
    // sha256("run-7:agents > starts an agent"), computed independently with `printf %s … | sha256sum`.
    expect(traceIdFor('run-7', 'agents > starts an agent')).toBe('ceab678f871cdd24a6281a154856bd22');
  });

  it('reads trace ids in Cloud Logging, raw and traceparent forms', () => {
    const id = 'a'.repeat(32);
    expect(entryTraceId(entry({ trace: `projects/p/traces/${id}` }))).toBe(id);
    expect(entryTraceId(entry({ trace: id }))).toBe(id);
    expect(entryTraceId(entry({ json: { traceparent: `00-${id}-${'b'.repeat(16)}-01` } }))).toBe(id);
    expect(entryTraceId(entry({ trace: 'nope' }))).toBeUndefined();
  });
});

describe('correlateTest', () => {
  it('matches the x-greenloop-test header in any separator style', () => {
    expect(normalizeTestName('agents › lifecycle › starts an agent')).toBe(normalizeTestName('agents > lifecycle > starts an agent'));
    const index = buildLogIndex([entry({ test: 'agents > lifecycle > starts an agent', runId: 'run-7' })], scope);
    expect(correlateTest(test(), [], index).map((l) => l.match)).toEqual(['test']);
  });

  it("matches a pytest node id against the testcase's classname", () => {
    const t = test({
      id: 'pytest › tests.test_agents.TestAgents › test_start',
      suite: 'pytest',
      suitePath: ['pytest'],
      classname: 'tests.test_agents.TestAgents',
      name: 'test_start',
    });
    const index = buildLogIndex([entry({ test: 'tests/test_agents.py::TestAgents::test_start', runId: 'run-7' })], scope);
    expect(correlateTest(t, [], index)).toHaveLength(1);
  });

  it('matches by traceparent-derived trace id when the service did not log the test name', () => {
    const trace = `projects/demo/traces/${traceIdFor('run-7', 'agents > lifecycle > starts an agent')}`;
    const index = buildLogIndex(
      [entry({ trace, severity: 'ERROR', message: 'handler failed' }), entry({ trace: `projects/demo/traces/${'f'.repeat(32)}` })],
      scope,
    );
    const found = correlateTest(test(), [], index);
    expect(found.map((l) => [l.match, l.entry.message])).toEqual([['trace', 'handler failed']]);
  });

  it('falls back to failing requests on the same route inside the run window', () => {
    const failure = analyzeFailure(test());
    const index = buildLogIndex(
      [
        entry({ httpRequest: { method: 'POST', path: '/api/agents/start', status: 404 } }),
        entry({ httpRequest: { method: 'POST', path: '/api/agents/start', status: 200 } }),
        entry({ httpRequest: { method: 'POST', path: '/api/agents/start', status: 404 }, time: '2025-09-08T23:00:00.000Z' }),
        entry({ httpRequest: { method: 'GET', path: '/api/agents/start', status: 404 } }),
      ],
      scope,
    );
    const found = correlateTest(failure.test, failure.endpoints, index);
    expect(found.map((l) => [l.match, l.entry.httpRequest?.method, l.entry.httpRequest?.status, l.entry.time])).toEqual([
      ['route', 'POST', 404, '2025-09-08T21:05:00.000Z'],
    ]);
  });

  it("uses the test's own time window only when the testcase carries a timestamp", () => {
    const index = buildLogIndex([entry({ severity: 'ERROR', time: '2025-09-08T21:05:00.500Z', message: 'db timeout' })], scope);
    const noRoute = test({ message: 'expected true to be false' });
    expect(correlateTest(noRoute, [], index)).toEqual([]);
    expect(correlateTest({ ...noRoute, startedAt: '2025-09-08T21:05:00.000Z' }, [], index).map((l) => l.match)).toEqual(['window']);
  });

  it('never uses entries of another run', () => {
    const index = buildLogIndex([entry({ test: 'agents > lifecycle > starts an agent', runId: 'run-6' })], scope);
    expect(correlateTest(test(), [], index)).toEqual([]);
  });

  it('attaches correlated lines through analyzeFailure and lets them refine triage', () => {
    const index = buildLogIndex(
      [
        entry({
          test: 'agents > lifecycle > starts an agent',
          runId: 'run-7',
          severity: 'ERROR',
          httpRequest: { method: 'POST', path: '/api/agents/start', status: 500 },
        }),
      ],
      scope,
    );
    const a = analyzeFailure(test({ message: 'expected true to be false', type: 'AssertionError' }), index);
    expect(a.logs).toHaveLength(1);
    expect(a.triage).toBe('server-error');
    // The fingerprint never depends on logs: the same failure without them hashes the same.
    expect(a.fingerprint).toBe(analyzeFailure(test({ message: 'expected true to be false', type: 'AssertionError' })).fingerprint);
  });
});

describe('correlateTest with the recording proxy’s records', () => {
  const runStart = Date.parse(scope.from);
  const at = (ms: number) => new Date(runStart + ms).toISOString();
  const rec = (over: Partial<RecordedRequest>): RecordedRequest => ({
    time: at(0),
    service: 'front',
    method: 'GET',
    path: '/',
    status: 200,
    durationMs: 20,
    traceId: 'e'.repeat(32),
    ...over,
  });
  const traceback = [
    'Traceback (most recent call last):',
    '  File "/srv/deploy-c1/back/app.py", line 12, in handle',
    '    total = order["items"]',
    "KeyError: 'items'",
  ].join('\n');
  // One suite file, no timestamps: first a passing test of 100 ms, then the failing one.
  const first = test({ id: 'orders › lists', name: 'lists', status: 'passed', durationMs: 100, message: undefined, suitePath: [], classname: 'orders' });
  const failing = test({ id: 'orders › totals', name: 'totals', durationMs: 50, message: '502 !== 200', suitePath: [], classname: 'orders' });
  const windows = deriveTestWindows([first, failing], scope.from);

  it('finds an unnamed test’s request by its window and message, and the back service’s error logged meanwhile', () => {
    const requests = [
      rec({ time: at(40), path: '/orders', status: 200, traceId: 'a'.repeat(32) }),
      rec({ time: at(130), path: '/orders/7/total', status: 200, traceId: 'b'.repeat(32) }),
      rec({ time: at(150), path: '/orders/7/total', status: 502, traceId: 'c'.repeat(32), durationMs: 30 }),
    ];
    const backError = entry({ service: 'back', severity: 'ERROR', time: at(165), message: traceback });
    const unrelated = entry({ service: 'back', severity: 'ERROR', time: at(4000), message: 'later' });
    const index = buildLogIndex([backError, unrelated], scope, { requests, windows });
    const logs = correlateTest(failing, [], index);
    expect(logs.map((l) => [l.match, l.entry.service, l.entry.httpRequest?.status ?? l.entry.message.split('\n')[0]])).toEqual([
      ['request', 'front', 502],
      ['window', 'back', 'Traceback (most recent call last):'],
    ]);
    expect(logs[0]?.entry.message).toBe("request recorded by greenloop's proxy: 502 in 30 ms");
  });

  it('follows a propagated trace id to the back service even when it logged late', () => {
    const requests = [rec({ time: at(150), status: 500, traceId: 'd'.repeat(32) })];
    const back = entry({ service: 'back', severity: 'ERROR', time: at(9000), trace: `projects/p/traces/${'d'.repeat(32)}`, message: 'boom' });
    const index = buildLogIndex([back], scope, { requests, windows });
    expect(correlateTest(failing, [], index).map((l) => [l.match, l.entry.service])).toEqual([
      ['request', 'front'],
      ['trace', 'back'],
    ]);
  });

  it('uses the test-name header when the suite sends one, and ignores probes and other runs', () => {
    const requests = [
      rec({ time: at(5000), status: 404, test: 'orders › totals', runId: 'run-7' }),
      rec({ time: at(150), status: 502, probe: true }),
      rec({ time: at(151), status: 502, runId: 'run-6' }),
    ];
    const index = buildLogIndex([], scope, { requests, windows });
    expect(correlateTest(failing, [], index).map((l) => l.entry.httpRequest?.status)).toEqual([404]);
  });

  it('records a refused connection as an error line naming the cause', () => {
    const requests = [rec({ time: at(150), status: 502, error: 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9' })];
    const index = buildLogIndex([], scope, { requests, windows });
    const [only] = correlateTest(failing, [], index);
    expect(only?.entry.severity).toBe('ERROR');
    expect(only?.entry.message).toContain('ECONNREFUSED');
  });

  it('leaves out an error logged within the same milliseconds that names a path only a neighbour requested', () => {
    const requests = [
      rec({ time: at(150), path: '/orders/7/total', status: 502, traceId: 'c'.repeat(32), durationMs: 30 }),
      // The next test calls the back service directly a few ms after the front's 502 is answered.
      rec({ time: at(185), service: 'back', path: '/price/9', status: 500, traceId: 'f'.repeat(32), durationMs: 5 }),
    ];
    const own = entry({ service: 'back', severity: 'ERROR', time: at(165), message: 'price lookup failed for /price/7' });
    const neighbour = entry({ service: 'back', severity: 'ERROR', time: at(188), message: 'price lookup failed for /price/9' });
    const index = buildLogIndex([own, neighbour], scope, { requests, windows });
    const messages = correlateTest(failing, [], index).map((l) => l.entry.message);
    expect(messages).toContain('price lookup failed for /price/7');
    expect(messages).not.toContain('price lookup failed for /price/9');
  });

  it('leaves out an error that names a sibling of its own path, caused through another service', () => {
    // The neighbour asked the front for /orders/7/total; the front called the back's /price/7 directly (no
    // recorded request shows it). This test asked the back for /price/9 a few ms later: both errors fall in
    // its request's span, only its own belongs to it.
    const requests = [
      rec({ time: at(150), path: '/orders/7/total', status: 502, traceId: 'c'.repeat(32), durationMs: 30 }),
      rec({ time: at(170), service: 'back', path: '/price/9?currency=eur', status: 500, traceId: 'f'.repeat(32), durationMs: 5 }),
    ];
    const sibling = entry({ service: 'back', severity: 'ERROR', time: at(165), message: 'price lookup failed for /price/7' });
    const own = entry({ service: 'back', severity: 'ERROR', time: at(172), message: 'price lookup failed for /price/9' });
    const unknownOrder = test({ id: 'orders › unknown', name: 'unknown', durationMs: 20, message: '500 !== 404', suitePath: [], classname: 'orders' });
    const spans = new Map([[unknownOrder.id, { start: Date.parse(at(168)), end: Date.parse(at(190)), source: 'junit' as const }]]);
    const index = buildLogIndex([sibling, own], scope, { requests, windows: spans });
    const messages = correlateTest(unknownOrder, [], index).map((l) => l.entry.message);
    expect(messages).toContain('price lookup failed for /price/9');
    expect(messages).not.toContain('price lookup failed for /price/7');
  });

  it('leaves a passing neighbour’s requests out when the message names the status', () => {
    expect(statusesIn('expected 200 got 404 for POST /api/x at 127.0.0.1:4000 in 2026')).toEqual([200, 404]);
    const requests = [rec({ time: at(120), status: 200 }), rec({ time: at(160), status: 404, path: '/x' })];
    const index = buildLogIndex([], scope, { requests, windows });
    expect(correlateTest(test({ ...failing, message: 'expected 200, got 404' }), [], index).map((l) => l.entry.httpRequest?.path)).toEqual(['/x']);
  });
});

describe('deriveTestWindows', () => {
  it('uses a testcase timestamp, else the suite timestamp plus earlier tests, else the run start plus earlier tests in the file', () => {
    const base = { status: 'passed' as const, message: undefined, suite: 's', classname: 'c' };
    const w = deriveTestWindows(
      [
        test({ ...base, id: 'own', startedAt: '2025-09-08T21:01:00.000Z', durationMs: 10 }),
        test({ ...base, id: 's1', timestamp: '2025-09-08T21:02:00.000Z', durationMs: 200, suitePath: ['s'] }),
        test({ ...base, id: 's2', timestamp: '2025-09-08T21:02:00.000Z', durationMs: 30, suitePath: ['s'] }),
        test({ ...base, id: 'f1', durationMs: 1000, suitePath: [], source: { file: 'a.xml', line: 1 } }),
        test({ ...base, id: 'g1', durationMs: 40, suitePath: [], source: { file: 'b.xml', line: 1 } }),
        test({ ...base, id: 'f2', durationMs: 40, suitePath: [], source: { file: 'a.xml', line: 2 } }),
      ],
      scope.from,
    );
    const rel = (id: string) => {
      const x = w.get(id);
      return x && [x.start - runStartMs, x.end - runStartMs, x.source];
    };
    const runStartMs = Date.parse(scope.from);
    expect(rel('own')).toEqual([60_000 - 1000, 60_000 + 10 + 2000, 'junit']);
    expect(rel('s1')).toEqual([120_000 - 50, 120_000 + 200 + 1000, 'suite-timestamp']);
    expect(rel('s2')).toEqual([120_200 - 50, 120_200 + 30 + 1000 + 20, 'suite-timestamp']);
    expect(rel('f1')).toEqual([-50, 1000 + 1000, 'suite-order']);
    // Another file runs beside the first (files run in parallel): it starts at the run's start too.
    expect(rel('g1')).toEqual([-50, 40 + 1000, 'suite-order']);
    expect(rel('f2')).toEqual([1000 - 50, 1000 + 40 + 1000 + 100, 'suite-order']);
  });
});

describe('deriveTestWindows anchored at the first recorded request', () => {
  it('widens a suite timestamp taken before a build up to the first recorded request', () => {
    // gotestsum stamps the suite when `go test` starts compiling; the first request came 4 s later.
    const base = { status: 'failed' as const, message: 'status 500', suite: 'pkg', classname: 'pkg', suitePath: ['pkg'] };
    const tests = [test({ ...base, id: 'g1', timestamp: scope.from, durationMs: 100 }), test({ ...base, id: 'g2', timestamp: scope.from, durationMs: 50 })];
    const runStartMs = Date.parse(scope.from);
    const w = deriveTestWindows(tests, scope.from, runStartMs + 4000);
    const rel = (id: string) => {
      const x = w.get(id);
      return x && [x.start - runStartMs, x.end - runStartMs];
    };
    expect(rel('g1')).toEqual([-50, 4000 - 100 + 100 + 1000]);
    expect(rel('g2')).toEqual([100 - 50, 4000 - 100 + 100 + 50 + 1000 + 10]);
    // Without a request to bound it, the timestamp is all there is.
    expect(deriveTestWindows(tests, scope.from).get('g2')?.end).toBe(runStartMs + 100 + 50 + 1000 + 10);
  });
  it('starts a file no earlier than its first request minus its first test, and ends from the request', () => {
    const base = { status: 'passed' as const, message: undefined, suitePath: [], source: { file: 'a.xml', line: 1 } };
    const runStartMs = Date.parse(scope.from);
    // The runner took 800 ms to start; the first test (120 ms) made its first request 30 ms in.
    const w = deriveTestWindows([test({ ...base, id: 't1', durationMs: 120 }), test({ ...base, id: 't2', durationMs: 10 })], scope.from, runStartMs + 830);
    const t2 = w.get('t2');
    expect(t2 && [t2.start - runStartMs, t2.end - runStartMs]).toEqual([710 + 120 - 50, 830 + 120 + 10 + 1000 + 12]);
  });
});

describe('linesDuring', () => {
  it("prefers the request's own span, and widens to a second either side only when that holds no error", () => {
    const at = Date.parse('2025-09-08T21:05:10.500Z');
    const request = {
      at,
      record: { time: new Date(at).toISOString(), service: 'front', method: 'GET', path: '/x', status: 502, durationMs: 30, traceId: 'f'.repeat(32) },
      entry: entry({}),
    };
    const line = (ms: number, message: string) => ({ at: at + ms, entry: entry({ severity: 'ERROR', time: new Date(at + ms).toISOString(), message }) });
    // A neighbour's error 60 ms after this request ended stays out when the request's own span has one.
    expect(linesDuring(request, [line(10, 'own'), line(90, 'neighbour')]).map((e) => e.message)).toEqual(['own']);
    // A whole-second log time (Go's log) sits up to a second before the request: found by the wide pass.
    expect(linesDuring(request, [line(-500, 'panic at 21:05:10')]).map((e) => e.message)).toEqual(['panic at 21:05:10']);
  });
});
