import { describe, expect, it } from 'vitest';
import { analyzeFailure } from './cluster.ts';
import { actualStatus, extractEndpoints, routeShape } from './endpoints.ts';
import { normalizeMessage } from './fingerprint.ts';
import { parseJUnitString } from './junit-parser.ts';
import { parseStackFrames } from './stack-frames.ts';
import { classify, extractSignals } from './triage.ts';
import type { ParsedTestCase } from './types.ts';

function failed(over: Partial<ParsedTestCase> & { message: string }): ParsedTestCase {
  return {
    id: over.id ?? `suite › ${over.name ?? 'test'}`,
    suite: 'suite',
    classname: 'suite',
    name: over.name ?? 'test',
    status: 'failed',
    durationMs: 10,
    suitePath: ['suite'],
    source: { file: 'junit.xml', line: 1 },
    ...over,
  };
}

const nodeTrace = (msg: string, cause: string, worktree: string, line: number) => `Error [ERR_TEST_FAILURE]: ${msg}
    at async Promise.all (index 0) {
  code: 'ERR_TEST_FAILURE',
  cause: ${cause}: ${msg}
      at TestContext.<anonymous> (file://${worktree}/e2e/agents.test.js:${line}:12)
      at Test.runInAsyncScope (node:async_hooks:227:14)
      at Test.run (node:internal/test_runner/test:1402:25)
}`;

const fp = (t: ParsedTestCase) => analyzeFailure(t).fingerprint;

describe('normalizeMessage', () => {
  it('replaces ids, uuids, hex, timestamps, quoted values, numbers and ports, and shapes routes', () => {
    expect(
      normalizeMessage(
        'Error: user "alice" (id 42) 9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d at 2025-09-08T21:04:27.123Z from http://127.0.0.1:39211/api/agents/7f3a9c2e/stop?token=x obj 0x7f4466561d50',
      ),
    ).toBe('user "<v>" (id <n>) <uuid> at <ts> from <url>/api/agents/:id/stop obj <hex>');
  });

  it('strips a leading error type so pytest and node wordings agree', () => {
    expect(normalizeMessage('ConnectionError: received 1011 (internal error)')).toBe(normalizeMessage('received 1011 (internal error)'));
  });

  it('shapes bare paths and keeps hostnames but not ports', () => {
    expect(normalizeMessage('GET /api/users/123/orders/456 failed on api.staging.example.com:8443')).toBe(
      'GET /api/users/:id/orders/:id failed on api.staging.example.com',
    );
  });
});

describe('routeShape', () => {
  it('collapses ids of every common kind', () => {
    expect(routeShape('https://h:1/api/agents/7f3a9c2e/stop?x=1')).toBe('/api/agents/:id/stop');
    expect(routeShape('/api/threads/01ARZ3NDEKTSV4RRFFQ69G5FAV/messages')).toBe('/api/threads/:id/messages');
    expect(routeShape('/api/users/9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d')).toBe('/api/users/:id');
    expect(routeShape('/api/v1/agents/start')).toBe('/api/v1/agents/start');
    expect(routeShape('/api/deadbeef/x')).toBe('/api/deadbeef/x');
  });
});

describe('fingerprint stability', () => {
  it('is the same when only ids, ports, timestamps and worktree paths differ', () => {
    const a = failed({
      message: 'expected 200 got 404 for POST /api/agents/7f3a9c2e/stop',
      details: nodeTrace('expected 200 got 404 for POST /api/agents/7f3a9c2e/stop', 'Error', '/srv/loops/l1/cycle-1', 34),
    });
    const b = failed({
      name: 'other',
      message: 'expected 200 got 404 for POST /api/agents/c9f0f895/stop',
      details: nodeTrace('expected 200 got 404 for POST /api/agents/c9f0f895/stop', 'Error', '/tmp/loops/l9/cycle-7', 34),
    });
    expect(fp(a)).toBe(fp(b));
    expect(fp(a)).toMatch(/^[0-9a-f]{12}$/);
  });

  it('merges the same HTTP failure worded differently by different runners', () => {
    const node = failed({ message: 'POST /api/agents/start → 404\n\n404 !== 200' });
    const pytest = failed({ message: 'AssertionError: POST /api/agents/start returned 404\nassert 404 == 200' });
    const junit5 = failed({ message: 'POST /api/agents/start ==> expected: <200> but was: <404>', type: 'org.opentest4j.AssertionFailedError' });
    expect(new Set([fp(node), fp(pytest), fp(junit5)]).size).toBe(1);
  });

  it('merges connection refusals on ephemeral ports, not those on a database port', () => {
    const a = failed({ message: 'connect ECONNREFUSED 127.0.0.1:43123' });
    const b = failed({ message: 'connect ECONNREFUSED 127.0.0.1:39211' });
    const db = failed({ message: 'connect ECONNREFUSED 10.0.0.4:5432' });
    expect(fp(a)).toBe(fp(b));
    expect(fp(a)).not.toBe(fp(db));
  });

  it('keeps an assertion stable across runs, anchored on the (protected) test line', () => {
    const run1 = failed({
      message: "Expected values to be strictly equal:\n\n'stopped' !== 'running'",
      type: 'AssertionError',
      details: nodeTrace('x', 'AssertionError', '/a', 50),
    });
    const run2 = failed({
      message: "Expected values to be strictly equal:\n\n'idle' !== 'running'",
      type: 'AssertionError',
      details: nodeTrace('x', 'AssertionError', '/b', 50),
    });
    expect(fp(run1)).toBe(fp(run2));
  });

  it('ignores app line numbers, which move when a fix edits the file', () => {
    const at = (line: number) =>
      `TypeError: Cannot read properties of undefined (reading 'id')\n    at cancel (/w/src/agents.js:${line}:9)\n    at handler (/w/src/router.js:20:3)`;
    const a = failed({ message: "Cannot read properties of undefined (reading 'id')", type: 'TypeError', details: at(112) });
    const b = failed({ message: "Cannot read properties of undefined (reading 'id')", type: 'TypeError', details: at(131) });
    expect(fp(a)).toBe(fp(b));
  });
});

describe('fingerprint discrimination', () => {
  it('tells different routes, statuses and classes apart', () => {
    const prints = [
      failed({ message: 'POST /api/agents/start → 404' }),
      failed({ message: 'POST /api/agents/stop → 404' }),
      failed({ message: 'POST /api/agents/start → 403' }),
      failed({ message: 'GET /api/agents/start → 404' }),
      failed({ message: 'POST /api/agents/start → 500' }),
      failed({ message: 'received 1011 (internal error)' }),
      failed({ message: 'received 1006 (abnormal closure)' }),
      failed({ message: 'connect ECONNREFUSED 127.0.0.1:4000' }),
      failed({ message: 'read ECONNRESET' }),
    ].map(fp);
    expect(new Set(prints).size).toBe(prints.length);
  });

  it('tells the same message thrown from different code apart', () => {
    const from = (fn: string) =>
      failed({ message: "Cannot read properties of undefined (reading 'id')", type: 'TypeError', details: `TypeError: x\n    at ${fn} (/w/src/${fn}.js:1:1)` });
    expect(fp(from('cancelAgent'))).not.toBe(fp(from('renderThread')));
  });

  it('tells two different assertions in one test file apart', () => {
    const a = failed({ message: 'expected true to be false', type: 'AssertionError', details: nodeTrace('x', 'AssertionError', '/w', 10) });
    const b = failed({ message: 'expected true to be false', type: 'AssertionError', details: nodeTrace('x', 'AssertionError', '/w', 80) });
    expect(fp(a)).not.toBe(fp(b));
  });
});

describe('endpoints and statuses from failure text', () => {
  it('reads the styles suites print', () => {
    expect(extractEndpoints('POST /api/agents/start → 404')).toEqual([{ method: 'POST', path: '/api/agents/start', status: 404 }]);
    expect(extractEndpoints('expected 200 got 404 for GET /x/12')).toEqual([{ method: 'GET', path: '/x/:id', status: 404 }]);
    expect(extractEndpoints('Error: expect(received).toBe(expected)\n\nExpected: 200\nReceived: 403\n\nPOST /api/chat/stream\n    at x (/a/b.js:1:1)')).toEqual(
      [{ method: 'POST', path: '/api/chat/stream', status: 403 }],
    );
    expect(extractEndpoints('`/api/auth/sessions` (404)')).toEqual([{ path: '/api/auth/sessions', status: 404 }]);
    expect(extractEndpoints('Post "http://127.0.0.1:39211/api/agents/9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d/stop": dial tcp: connection refused')).toEqual([
      { method: 'POST', path: '/api/agents/:id/stop' },
    ]);
    expect(extractEndpoints('at Object.<anonymous> (/home/x/e2e/a.test.js:44:17)')).toEqual([]);
  });

  it('finds the status the server actually answered, not the expected one', () => {
    expect(actualStatus('expected status 200 but got 404')).toBe(404);
    expect(actualStatus('expected response status 200, received 401')).toBe(401);
    // Without a word about HTTP, "got 404" may be a count.
    expect(actualStatus('expected 200 but got 404')).toBeUndefined();
    expect(actualStatus('POST /x: expected 403 to be 200')).toBe(403);
    expect(actualStatus('assert 404 == 200 for the request')).toBe(404);
    expect(actualStatus('Request failed with status code 502')).toBe(502);
    expect(actualStatus('POST /x ==> expected: <200> but was: <404>')).toBe(404);
    expect(actualStatus('expected 3 to equal 4')).toBeUndefined();
    expect(actualStatus('received 1011 (internal error)')).toBeUndefined();
  });
});

describe('triage', async () => {
  const triage = (message: string, type?: string, details?: string) =>
    analyzeFailure(failed({ message, ...(type ? { type } : {}), ...(details ? { details } : {}) })).triage;

  it('classifies each class from real-looking failures', () => {
    expect(triage('POST /api/agents/start → 404')).toBe('route-missing');
    expect(triage('expected 200 got 401 for GET /api/me')).toBe('auth-rejected');
    expect(triage('Request failed with status code 403')).toBe('auth-rejected');
    expect(triage('expected 201 got 500 for POST /api/threads')).toBe('server-error');
    expect(triage('received 1011 (internal error) Internal error; then sent 1011 (internal error)')).toBe('websocket-close');
    expect(triage('WebSocket closed with code 1006')).toBe('websocket-close');
    expect(triage('connect ECONNREFUSED 127.0.0.1:4000')).toBe('infrastructure');
    expect(triage('Exceeded timeout of 5000 ms for a test.')).toBe('timeout');
    expect(triage('expected 3 to equal 4', 'AssertionError')).toBe('assertion');
    expect(triage("Cannot read properties of undefined (reading 'id')", 'TypeError', 'TypeError: x\n    at cancel (/w/src/agents.js:3:1)')).toBe(
      'server-error',
    );
    expect(triage('something odd happened')).toBe('unknown');
  });

  it('uses the server log when the test text says nothing about HTTP', () => {
    const signals = extractSignals('expected true to be false');
    const logs = [{ entry: { time: 't', severity: 'ERROR' as const, service: 'api', message: 'boom', httpRequest: { status: 500 } }, match: 'test' as const }];
    expect(classify({ text: 'expected true to be false', signals, endpoints: [], logs, frames: [] })).toBe('server-error');
  });

  it('classifies every runner fixture sensibly', async () => {
    const { tests } = parseJUnitString(
      '<testsuite name="s"><testcase name="a"><failure message="Failed">    x_test.go:9: Post "http://127.0.0.1:5/x": dial tcp 127.0.0.1:5: connect: connection refused</failure></testcase></testsuite>',
      'go.xml',
    );
    expect(analyzeFailure(tests[0] as ParsedTestCase).triage).toBe('infrastructure');
  });
});

describe('stack frames', () => {
  it('parses V8, vitest, Java, Python and Go frames and classifies them', () => {
    const frames = parseStackFrames(
      [
        '    at TestContext.<anonymous> (file:///w/e2e/agents.test.js:7:12)',
        '    at Test.run (node:internal/test_runner/test:1402:25)',
        '    at cancel (/w/node_modules/lib/x.js:1:1)',
        '    at async handler (/w/src/routes.js:40:5)',
        ' ❯ tests/chat.test.ts:7:42',
        '\tat com.acme.api.service.AgentService.cancel(AgentService.java:112)',
        '\tat java.base/java.lang.reflect.Method.invoke(Method.java:580)',
        '  File "/w/app/db.py", line 12, in connect',
        'tests/test_x.py:15: AssertionError',
        '    agents_test.go:42: POST /x → 404',
      ].join('\n'),
    );
    expect(frames.map((f) => [f.fn ?? '', f.file, f.line, f.internal, f.vendor, f.test])).toEqual([
      ['TestContext.<anonymous>', 'file:///w/e2e/agents.test.js', 7, false, false, true],
      ['Test.run', 'node:internal/test_runner/test', 1402, true, false, false],
      ['cancel', '/w/node_modules/lib/x.js', 1, false, true, false],
      ['handler', '/w/src/routes.js', 40, false, false, false],
      ['', 'tests/chat.test.ts', 7, false, false, true],
      ['com.acme.api.service.AgentService.cancel', 'AgentService.java', 112, false, false, false],
      ['java.base/java.lang.reflect.Method.invoke', 'Method.java', 580, true, false, false],
      ['connect', '/w/app/db.py', 12, false, false, false],
      ['', 'tests/test_x.py', 15, false, false, true],
      ['', 'agents_test.go', 42, false, false, true],
    ]);
  });
});
