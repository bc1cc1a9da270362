import type { LogEntry } from '@greenloop/core';
import { describe, expect, it } from 'vitest';
import { analyzeFailure } from './cluster.ts';
import { buildLogIndex, correlateTest, entryTraceId, normalizeTestName, traceIdFor } from './correlate.ts';
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
  it('is the first 32 hex of sha256(runId + " " + testName)', () => {
    // sha256("run-7 agents > starts an agent"), computed independently with `printf %s … | sha256sum`.
    expect(traceIdFor('run-7', 'agents > starts an agent')).toBe('f46b8fa88f3b7ae36e68b0e11fbac88c');
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
