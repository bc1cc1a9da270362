import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LogEntry } from '@greenloop/core';
import { describe, expect, it } from 'vitest';
import { readLogText } from './log-lines.ts';

const FALLBACK = '2026-12-02T16:00:00.000Z';
const REF = Date.parse('2026-12-02T15:00:00Z');
const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');
const read = (text: string) => readLogText(text, { service: 'api', fallbackTime: FALLBACK, referenceMs: REF });
const brief = (e: LogEntry) => ({
  time: e.time,
  severity: e.severity,
  first: e.message.split('\n')[0],
  lines: e.message.split('\n').length,
  ...(e.httpRequest ? { http: e.httpRequest } : {}),
  ...(e.timeUnknown ? { timeUnknown: true } : {}),
  ...(e.probe ? { probe: true } : {}),
  ...(e.trace ? { trace: e.trace } : {}),
});

describe('readLogText on real samples', () => {
  it('Python logging (written by python3 logging.basicConfig) with a traceback kept with its ERROR entry', () => {
    const { entries, stats } = read(fixture('python-logging.log'));
    expect(entries.map(brief)).toEqual([
      { time: '2026-12-02T14:52:58.854Z', severity: 'INFO', first: '2026-12-02 14:52:58,854 INFO app: started on port 8080', lines: 1 },
      { time: '2026-12-02T14:52:58.854Z', severity: 'ERROR', first: '2026-12-02 14:52:58,854 ERROR app: GET /api/orders failed', lines: 4 },
      {
        time: '2026-12-02T14:52:58.855Z',
        severity: 'ERROR',
        first: '2026-12-02 14:52:58,855 ERROR app: GET /api/orders -> 500',
        lines: 1,
        http: { method: 'GET', path: '/api/orders', status: 500 },
      },
    ]);
    expect(entries[1]?.message.split('\n').at(-1)).toBe('ZeroDivisionError: division by zero');
    expect(stats).toEqual({ lines: 6, entries: 3, timeRead: 3, timeUnknown: 0, zoneAssumed: 3 });
  });

  it("Go's log (written by go run) with a panic and its goroutine dump kept together, in order, flagged", () => {
    const { entries, stats } = read(fixture('go-log.log'));
    expect(entries.map(brief)).toEqual([
      { time: '2026-12-02T14:52:57.000Z', severity: 'DEFAULT', first: '2026/12/02 14:52:57 listening on :8080', lines: 1 },
      {
        time: '2026-12-02T14:52:57.000Z',
        severity: 'DEFAULT',
        first: '2026/12/02 14:52:57 GET /api/items -> 500',
        lines: 1,
        http: { method: 'GET', path: '/api/items', status: 500 },
      },
      { time: '2026-12-02T14:52:57.930Z', severity: 'DEFAULT', first: '2026/12/02 14:52:57.930671 with micros', lines: 1 },
      // The panic has no time of its own: it keeps its place with the previous entry's time.
      { time: '2026-12-02T14:52:57.930Z', severity: 'CRITICAL', first: 'panic: assignment to entry in nil map', lines: 5, timeUnknown: true },
    ]);
    expect(entries[3]?.message).toContain('\t/src/app/main.go:9 +0xc5');
    expect(stats.timeUnknown).toBe(1);
  });

  it('pino (hand-written in its format): numeric levels, ms epoch, req/res, err.stack, the probe marked', () => {
    const { entries } = read(fixture('pino.log'));
    expect(entries.map(brief)).toEqual([
      {
        time: '2026-12-02T14:52:58.900Z',
        severity: 'INFO',
        first: 'request completed',
        lines: 1,
        http: { method: 'GET', path: '/health', status: 200, latencyMs: 1, userAgent: 'greenloop-probe/1' },
        probe: true,
      },
      {
        time: '2026-12-02T14:52:59.000Z',
        severity: 'INFO',
        first: 'request completed',
        lines: 1,
        http: { method: 'GET', path: '/api/orders/7', status: 500, latencyMs: 12, userAgent: 'node' },
      },
      { time: '2026-12-02T14:52:59.001Z', severity: 'ERROR', first: 'order lookup failed', lines: 4 },
    ]);
    expect(entries[2]?.message).toContain('at getOrder (/src/app/orders.js:14:22)');
  });
});

describe('readLogText formats', () => {
  it.each([
    [
      'Python JSON with epoch seconds and a Cloud trace (the issue 10 service)',
      '{"time": 1796215811.69, "severity": "ERROR", "message": "boom", "logging.googleapis.com/trace": "projects/p/traces/0af7651916cd43dd8448eb211c80319c"}',
      { time: '2026-12-02T12:50:11.690Z', severity: 'ERROR', first: 'boom', lines: 1, trace: 'projects/p/traces/0af7651916cd43dd8448eb211c80319c' },
    ],
    [
      'structlog: event, level, ISO timestamp',
      '{"event": "order saved", "level": "warning", "timestamp": "2026-12-02T12:50:11.690123Z"}',
      { time: '2026-12-02T12:50:11.690Z', severity: 'WARNING', first: 'order saved', lines: 1 },
    ],
    [
      'python-json-logger: levelname, asctime, created',
      '{"asctime": "2026-12-02 12:50:11,690", "levelname": "CRITICAL", "message": "db gone", "created": 1796215811.69}',
      { time: '2026-12-02T12:50:11.690Z', severity: 'CRITICAL', first: 'db gone', lines: 1 },
    ],
    [
      'zap: ts in float seconds',
      '{"level":"error","ts":1796215811.69,"caller":"main.go:12","msg":"handler failed","method":"POST","path":"/api/pay","status":502}',
      { time: '2026-12-02T12:50:11.690Z', severity: 'ERROR', first: 'handler failed', lines: 1, http: { method: 'POST', path: '/api/pay', status: 502 } },
    ],
    [
      'ECS: @timestamp and log.level',
      '{"@timestamp":"2026-12-02T12:50:11.690Z","log.level":"warn","message":"retrying","http.request.method":"GET","url.path":"/q","http.response.status_code":429}',
      { time: '2026-12-02T12:50:11.690Z', severity: 'WARNING', first: 'retrying', lines: 1, http: { method: 'GET', path: '/q', status: 429 } },
    ],
    [
      'Cloud Logging LogEntry (gcloud logging read --format=json) with httpRequest',
      JSON.stringify({
        timestamp: '2026-12-02T12:50:11.690Z',
        severity: 'ERROR',
        httpRequest: { requestMethod: 'GET', requestUrl: 'https://api-x.run.app/api/orders/7?x=1', status: 500, latency: '0.012s', userAgent: 'pytest' },
        trace: 'projects/p/traces/0af7651916cd43dd8448eb211c80319c',
        resource: { type: 'cloud_run_revision', labels: { service_name: 'api', revision_name: 'api-00007-abc' } },
      }),
      {
        time: '2026-12-02T12:50:11.690Z',
        severity: 'ERROR',
        first: 'GET /api/orders/7 500',
        lines: 1,
        http: { method: 'GET', path: '/api/orders/7', status: 500, latencyMs: 12, userAgent: 'pytest' },
        trace: 'projects/p/traces/0af7651916cd43dd8448eb211c80319c',
      },
    ],
    [
      'Cloud Logging LogEntry with jsonPayload',
      '{"timestamp":"2026-12-02T12:50:11.690Z","severity":"WARNING","jsonPayload":{"message":"slow","time":1},"insertId":"x"}',
      { time: '2026-12-02T12:50:11.690Z', severity: 'WARNING', first: 'slow', lines: 1 },
    ],
    [
      'Cloud Logging LogEntry with textPayload and a numeric severity',
      '{"timestamp":{"seconds":1796215811,"nanos":690000000},"severity":500,"textPayload":"Traceback (most recent call last): ..."}',
      { time: '2026-12-02T12:50:11.690Z', severity: 'ERROR', first: 'Traceback (most recent call last): ...', lines: 1 },
    ],
    [
      "log4j2's JsonLayout: instant {epochSecond, nanoOfSecond}, thrown with its stack trace",
      JSON.stringify({
        instant: { epochSecond: 1796215811, nanoOfSecond: 690000000 },
        level: 'ERROR',
        loggerName: 'com.acme.Orders',
        message: 'total failed',
        thrown: {
          name: 'java.lang.NullPointerException',
          message: 'price is null',
          extendedStackTrace: 'java.lang.NullPointerException: price is null\n\tat com.acme.Orders.total(Orders.java:42)',
        },
      }),
      { time: '2026-12-02T12:50:11.690Z', severity: 'ERROR', first: 'total failed', lines: 3 },
    ],
    [
      'Cloud Run structured split time',
      '{"timestampSeconds":1796215811,"timestampNanos":690000000,"severity":"INFO","message":"ok"}',
      { time: '2026-12-02T12:50:11.690Z', severity: 'INFO', first: 'ok', lines: 1 },
    ],
    [
      'a traceparent logged as the trace',
      '{"time":"2026-12-02T12:50:11.690Z","msg":"x","traceparent":"00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"}',
      { time: '2026-12-02T12:50:11.690Z', severity: 'DEFAULT', first: 'x', lines: 1, trace: '0af7651916cd43dd8448eb211c80319c' },
    ],
    [
      "Python http.server's access line in a JSON message",
      '{"time": 1796215811.69, "severity": "INFO", "message": "\\"GET /api/items?x=1 HTTP/1.1\\" 404 -"}',
      {
        time: '2026-12-02T12:50:11.690Z',
        severity: 'INFO',
        first: '"GET /api/items?x=1 HTTP/1.1" 404 -',
        lines: 1,
        http: { method: 'GET', path: '/api/items', status: 404 },
      },
    ],
    [
      'logfmt (Go slog text handler)',
      'time=2026-12-02T13:50:11.690+01:00 level=ERROR msg="upstream failed" method=GET path=/api/items status=502',
      {
        time: '2026-12-02T12:50:11.690Z',
        severity: 'ERROR',
        first: 'upstream failed',
        lines: 1,
        http: { method: 'GET', path: '/api/items', status: 502 },
      },
    ],
    [
      'common log format (nginx), time in brackets, probe user agent',
      '127.0.0.1 - - [02/Dec/2026:12:50:11 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "greenloop-probe/1"',
      {
        time: '2026-12-02T12:50:11.000Z',
        severity: 'DEFAULT',
        first: '127.0.0.1 - - [02/Dec/2026:12:50:11 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "greenloop-probe/1"',
        lines: 1,
        http: { method: 'GET', path: '/healthz', status: 200 },
        probe: true,
      },
    ],
    [
      "Python http.server's request log",
      '127.0.0.1 - - [02/Dec/2026 12:50:11] "POST /api/orders?x=1 HTTP/1.1" 500 -',
      {
        time: '2026-12-02T12:50:11.000Z',
        severity: 'DEFAULT',
        first: '127.0.0.1 - - [02/Dec/2026 12:50:11] "POST /api/orders?x=1 HTTP/1.1" 500 -',
        lines: 1,
        http: { method: 'POST', path: '/api/orders', status: 500 },
      },
    ],
    [
      'gunicorn: bracketed ISO time and level',
      '[2026-12-02 12:50:11 +0000] [7] [ERROR] Worker (pid:9) was sent SIGKILL!',
      { time: '2026-12-02T12:50:11.000Z', severity: 'ERROR', first: '[2026-12-02 12:50:11 +0000] [7] [ERROR] Worker (pid:9) was sent SIGKILL!', lines: 1 },
    ],
    [
      'syslog',
      'Dec  2 12:50:11 host app[12]: WARN disk almost full',
      { time: '2026-12-02T12:50:11.000Z', severity: 'WARNING', first: 'Dec  2 12:50:11 host app[12]: WARN disk almost full', lines: 1 },
    ],
    [
      'syslog RFC 5424 (priority, version, ISO time): the severity from the priority',
      '<11>1 2026-12-02T12:50:11.690Z host orders 42 - - payment failed for /api/pay',
      { time: '2026-12-02T12:50:11.690Z', severity: 'ERROR', first: '<11>1 2026-12-02T12:50:11.690Z host orders 42 - - payment failed for /api/pay', lines: 1 },
    ],
    [
      'syslog RFC 3164 with its priority',
      '<12>Dec  2 12:50:11 host orders[42]: GET /api/pay 503',
      {
        time: '2026-12-02T12:50:11.000Z',
        severity: 'WARNING',
        first: '<12>Dec  2 12:50:11 host orders[42]: GET /api/pay 503',
        lines: 1,
        http: { method: 'GET', path: '/api/pay', status: 503 },
      },
    ],
    [
      "Ruby's Logger (Rails, Sinatra): the time in brackets after the level letter",
      'E, [2026-12-02T12:50:11.690123 #42] ERROR -- orders: Completed 500 Internal Server Error in 5ms',
      {
        time: '2026-12-02T12:50:11.690Z',
        severity: 'ERROR',
        first: 'E, [2026-12-02T12:50:11.690123 #42] ERROR -- orders: Completed 500 Internal Server Error in 5ms',
        lines: 1,
      },
    ],
    [
      'klog / glog (Kubernetes, Go): severity letter, month and day, no year',
      'W1202 12:50:11.690123   42 server.go:88] GET /api/pay 429 rate limited',
      {
        time: '2026-12-02T12:50:11.690Z',
        severity: 'WARNING',
        first: 'W1202 12:50:11.690123   42 server.go:88] GET /api/pay 429 rate limited',
        lines: 1,
        http: { method: 'GET', path: '/api/pay', status: 429 },
      },
    ],
    [
      'morgan dev: METHOD path status',
      '2026-12-02T12:50:11.690Z GET /api/users/3 404 1.234 ms - 9',
      {
        time: '2026-12-02T12:50:11.690Z',
        severity: 'DEFAULT',
        first: '2026-12-02T12:50:11.690Z GET /api/users/3 404 1.234 ms - 9',
        lines: 1,
        http: { method: 'GET', path: '/api/users/3', status: 404 },
      },
    ],
  ])('%s', (_name, line, expected) => {
    const { entries } = read(line);
    expect(entries.map(brief)).toEqual([expected]);
  });
});

describe('readLogText stack traces and unknown times', () => {
  it('keeps a Java exception with its frames and Caused by under the ERROR line', () => {
    const text = [
      '2026-12-02 12:50:11.690 ERROR 1 --- [nio-8080-exec-1] o.a.c.c.C.[dispatcherServlet] : Servlet.service() failed',
      'java.lang.IllegalStateException: boom',
      '\tat com.acme.OrderController.get(OrderController.java:42)',
      '\tat java.base/java.lang.Thread.run(Thread.java:833)',
      'Caused by: java.lang.NullPointerException: null',
      '\tat com.acme.Repo.find(Repo.java:7)',
      '\t... 5 more',
      '2026-12-02 12:50:12.000 INFO 1 --- [main] c.a.App : still up',
    ].join('\n');
    const { entries } = read(text);
    expect(entries.map((e) => [e.severity, e.message.split('\n').length])).toEqual([
      ['ERROR', 7],
      ['INFO', 1],
    ]);
  });

  it("keeps Node's uncaught error and its frames; lines without time inherit the previous entry's time", () => {
    const text = [
      '{"level":30,"time":1796215811690,"msg":"listening"}',
      '/src/app/server.js:12',
      "    throw new Error('db down');",
      '    ^',
      '',
      'Error: db down',
      '    at Server.<anonymous> (/src/app/server.js:12:11)',
      '    at Server.emit (node:events:518:28)',
      '',
      'Node.js v24.1.0',
    ].join('\n');
    const { entries, stats } = read(text);
    expect(entries.map((e) => [e.time, e.severity, e.message.split('\n')[0], e.message.split('\n').length, e.timeUnknown ?? false])).toEqual([
      ['2026-12-02T12:50:11.690Z', 'INFO', 'listening', 1, false],
      ['2026-12-02T12:50:11.690Z', 'DEFAULT', '/src/app/server.js:12', 3, true],
      ['2026-12-02T12:50:11.690Z', 'ERROR', 'Error: db down', 3, true],
      ['2026-12-02T12:50:11.690Z', 'DEFAULT', 'Node.js v24.1.0', 1, true],
    ]);
    expect(stats).toMatchObject({ lines: 8, entries: 4, timeRead: 1, timeUnknown: 3 });
  });

  it('gives lines before the first timed entry the first time, and a log with no times the fallback', () => {
    expect(read('booting\n2026-12-02T12:50:11Z INFO up').entries.map((e) => [e.time, e.timeUnknown ?? false])).toEqual([
      ['2026-12-02T12:50:11.000Z', true],
      ['2026-12-02T12:50:11.000Z', false],
    ]);
    expect(read('one\ntwo').entries.map((e) => [e.time, e.message])).toEqual([
      [FALLBACK, 'one'],
      [FALLBACK, 'two'],
    ]);
  });

  it('keeps a Python traceback printed to stderr after JSON lines as its own ERROR entry', () => {
    const text = [
      '{"time": 1796215811.69, "level": "INFO", "message": "GET /api/x"}',
      'Traceback (most recent call last):',
      '  File "/src/app/main.py", line 9, in handler',
      '    raise KeyError("id")',
      "KeyError: 'id'",
      '{"time": 1796215812.0, "level": "INFO", "message": "next"}',
    ].join('\n');
    const { entries } = read(text);
    expect(entries.map((e) => [e.severity, e.message.split('\n').length, e.timeUnknown ?? false])).toEqual([
      ['INFO', 1, false],
      ['ERROR', 4, true],
      ['INFO', 1, false],
    ]);
    expect(entries[1]?.message.split('\n').at(-1)).toBe("KeyError: 'id'");
  });
});
