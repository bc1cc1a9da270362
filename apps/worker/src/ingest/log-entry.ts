import type { LogEntry } from '@greenloop/core';
import { readSeverity, type Severity } from './log-severity.ts';
import { type LogTime, readLogTime } from './log-time.ts';
import { readRequestLine } from './plain-text.ts';

/**
 * One structured log record (a JSON line, a logfmt line, a Cloud Logging LogEntry) as greenloop's LogEntry.
 * Knows the keys of the common loggers: pino / bunyan (`time` ms, numeric `level`, `msg`, `req`/`res`),
 * Python (`asctime`/`created`, `levelname`/`levelno`, `message`, `exc_info`), structlog (`event`), zap (`ts`
 * seconds), slog / logrus (`time`, `level`, `msg`), ECS (`@timestamp`, `log.level`), log4j2's JsonLayout (`instant`,
 * `thrown`), Cloud Run structured
 * logs and Cloud Logging's LogEntry (`timestamp`, `severity`, `httpRequest`, `trace`,
 * `logging.googleapis.com/trace`, `jsonPayload` / `textPayload`).
 */

/** The user agent and header greenloop's own probes send, so that their requests are never counted as test traffic. */
export const PROBE_USER_AGENT = 'greenloop-probe/1';
export const PROBE_HEADER = 'x-greenloop-probe';

/** A record read into an entry; `time` is undefined when no field held a readable time. */
export interface ReadRecord {
  entry: Omit<LogEntry, 'time'>;
  time: LogTime | undefined;
}

type Rec = Record<string, unknown>;

const TIME_KEYS = ['timestamp', 'time', 'ts', '@timestamp', 'datetime', 'date', 'asctime', 'created', 'timeMillis', 'instant', 'eventTime', 't'];
const MESSAGE_KEYS = ['message', 'msg', 'event', 'textPayload', 'text', 'log'];
const STACK_KEYS = ['stack', 'stack_trace', 'stacktrace', 'exc_info', 'exception', 'exc_text', 'traceback', 'error.stack_trace', 'thrown.extendedStackTrace'];
const METHODS = /^(?:GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|TRACE|CONNECT)$/i;

function isRecord(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

const DOTTED = new Map<string, [string, string] | null>();

/** A value at a dotted key, either nested (`req.method` as {req:{method}}) or flat (`"http.method"`). */
function get(rec: Rec, key: string): unknown {
  const flat = rec[key];
  if (flat !== undefined) return flat;
  let split = DOTTED.get(key);
  if (split === undefined) {
    const dot = key.indexOf('.');
    split = dot < 0 ? null : [key.slice(0, dot), key.slice(dot + 1)];
    DOTTED.set(key, split);
  }
  if (!split) return undefined;
  const head = rec[split[0]];
  return isRecord(head) ? get(head, split[1]) : undefined;
}

function first(rec: Rec, keys: readonly string[]): unknown {
  for (const k of keys) {
    const v = get(rec, k);
    if (v !== undefined && v !== null && v !== '') return v;
  }
  return undefined;
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\d+(?:\.\d+)?$/.test(v.trim())) return Number(v);
  return undefined;
}

/** `/x?y=1` from `https://h/x?y=1` or `/x?y=1`. */
export function urlPath(url: string): string {
  // Most logged URLs are paths already; parsing only absolute ones keeps the hot path free of exceptions.
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    try {
      return new URL(url).pathname;
    } catch {
      // not a URL after all: treat it as a path
    }
  }
  const path = url.split(/[?#]/)[0] ?? url;
  return path === '' ? '/' : path;
}

/** `"0.123s"` (Cloud Logging), `{seconds, nanos}`, or a number of ms. */
function latencyMs(v: unknown, unit: 'ms' | 's'): number | undefined {
  if (typeof v === 'string') {
    const m = /^(\d+(?:\.\d+)?)s$/.exec(v.trim());
    if (m) return Math.round(Number(m[1]) * 1000);
  }
  if (isRecord(v)) {
    const ms = Number(v.seconds ?? 0) * 1000 + Number(v.nanos ?? 0) / 1e6;
    return Number.isFinite(ms) ? Math.round(ms) : undefined;
  }
  const n = num(v);
  return n === undefined ? undefined : Math.round(unit === 's' ? n * 1000 : n);
}

function readTime(rec: Rec, referenceMs: number): LogTime | undefined {
  // Cloud Run structured logging's split form.
  const secs = num(rec.timestampSeconds);
  if (secs !== undefined) return readLogTime({ seconds: secs, nanos: num(rec.timestampNanos) ?? 0 }, referenceMs);
  for (const k of TIME_KEYS) {
    const v = get(rec, k);
    if (v === undefined || v === null || v === '') continue;
    const t = readLogTime(v, referenceMs);
    if (t) return t;
  }
  return undefined;
}

function readLevel(rec: Rec): Severity | undefined {
  // Cloud Logging numbers severities 100..800; pino/bunyan number `level` 10..60; Python `levelno` 10..50.
  return (
    readSeverity(get(rec, 'severity'), 'cloud-logging') ??
    readSeverity(get(rec, 'level'), 'pino') ??
    readSeverity(get(rec, 'levelname')) ??
    readSeverity(get(rec, 'log.level')) ??
    readSeverity(get(rec, 'lvl')) ??
    readSeverity(get(rec, 'loglevel')) ??
    readSeverity(get(rec, 'levelno'), 'python')
  );
}

function readHttp(rec: Rec): NonNullable<LogEntry['httpRequest']> | undefined {
  const h = isRecord(rec.httpRequest) ? rec.httpRequest : undefined;
  const methodRaw = first(rec, ['httpRequest.requestMethod', 'req.method', 'request.method', 'http.method', 'http.request.method', 'method', 'verb']);
  const method = str(methodRaw) && METHODS.test(String(methodRaw)) ? String(methodRaw).toUpperCase() : undefined;
  const url = str(
    first(rec, [
      'httpRequest.requestUrl',
      'req.url',
      'req.path',
      'request.url',
      'request.path',
      'http.target',
      'http.url',
      'url.path',
      'path',
      'url',
      'uri',
      'route',
    ]),
  );
  const status = num(
    first(rec, [
      'httpRequest.status',
      'res.statusCode',
      'res.status',
      'response.status',
      'response.statusCode',
      'http.status_code',
      'http.response.status_code',
      'status',
      'statusCode',
      'status_code',
    ]),
  );
  const latency =
    latencyMs(h?.latency, 's') ??
    latencyMs(first(rec, ['responseTime', 'durationMs', 'duration_ms', 'latency_ms', 'elapsed_ms', 'response_time']), 'ms') ??
    latencyMs(first(rec, ['duration_s', 'latency_s']), 's');
  const userAgent = str(
    first(rec, [
      'httpRequest.userAgent',
      'req.headers.user-agent',
      'request.headers.user-agent',
      'http.user_agent',
      'user_agent.original',
      'userAgent',
      'user_agent',
      'ua',
    ]),
  );
  // A path alone is not a request line (many loggers log `path` for files); a method or status must come with it.
  if (!url || (!method && status === undefined)) return undefined;
  const out: NonNullable<LogEntry['httpRequest']> = { path: urlPath(url) };
  if (method) out.method = method;
  if (status !== undefined && status >= 100 && status < 600) out.status = status;
  if (latency !== undefined) out.latencyMs = latency;
  if (userAgent) out.userAgent = userAgent;
  return out;
}

function errorText(rec: Rec): { message?: string; stack?: string } {
  const err = first(rec, ['err', 'error', 'exc', 'thrown']);
  const stack = first(rec, STACK_KEYS) ?? (isRecord(err) ? (err.stack ?? err.stack_trace) : undefined);
  const out: { message?: string; stack?: string } = {};
  if (isRecord(err)) {
    const m = str(err.message);
    if (m) out.message = `${str(err.type) ?? str(err.name) ?? 'Error'}: ${m}`;
  } else if (str(err)) out.message = String(err);
  if (str(stack)) out.stack = String(stack);
  else if (Array.isArray(stack)) out.stack = stack.filter((s) => typeof s === 'string').join('\n');
  return out;
}

function traceOf(rec: Rec): string | undefined {
  const raw = str(first(rec, ['logging.googleapis.com/trace', 'trace', 'traceparent', 'trace_id', 'traceId', 'trace.id', 'otelTraceID', 'dd.trace_id']));
  if (!raw) return undefined;
  // A logged W3C traceparent: keep the trace id, which is what the suite and the proxy derive.
  const tp = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/i.exec(raw.trim());
  return tp?.[1] ? tp[1].toLowerCase() : raw;
}

function isProbe(rec: Rec, http: LogEntry['httpRequest']): boolean {
  if (http?.userAgent?.includes('greenloop-probe')) return true;
  const headers = first(rec, ['req.headers', 'request.headers', 'headers']);
  return isRecord(headers) && headers[PROBE_HEADER] !== undefined;
}

/**
 * Reads one structured record. A Cloud Logging LogEntry's payload (`jsonPayload`, `textPayload`) is read
 * with the entry's own fields taking precedence for time, severity, request and trace.
 */
export function readRecord(raw: Rec, service: string, referenceMs: number = Date.now()): ReadRecord {
  const payload = isRecord(raw.jsonPayload) ? raw.jsonPayload : undefined;
  const rec: Rec = payload ? { ...payload, ...raw } : raw;
  const time = readTime(rec, referenceMs) ?? (payload ? readTime(payload, referenceMs) : undefined);
  const err = errorText(rec);
  // A logger that puts the whole access line in its message (Python's http.server through logging, uvicorn).
  const messageText = str(first(rec, MESSAGE_KEYS));
  const http = readHttp(rec) ?? (messageText ? readRequestLine(messageText) : undefined);
  const text = messageText ?? err.message ?? (http ? `${http.method ?? ''} ${http.path ?? ''} ${http.status ?? ''}`.trim() : undefined);
  let message = text ?? JSON.stringify(raw).slice(0, 2000);
  if (err.stack && !message.includes(err.stack.slice(0, 40))) message = `${message}\n${err.stack}`;
  let severity = readLevel(rec) ?? 'DEFAULT';
  if (severity === 'DEFAULT' && (err.stack || err.message)) severity = 'ERROR';
  const entry: Omit<LogEntry, 'time'> = { severity, service, message: message.slice(0, 8000), json: payload ?? raw };
  if (http) entry.httpRequest = http;
  const trace = traceOf(rec);
  if (trace) entry.trace = trace;
  const runId = str(first(rec, ['runId', 'run_id', 'labels.runId', 'x-greenloop-run-id', 'req.headers.x-greenloop-run-id']));
  const test = str(first(rec, ['test', 'labels.test', 'x-greenloop-test', 'req.headers.x-greenloop-test']));
  if (runId) entry.runId = runId;
  if (test) entry.test = test;
  // Only Cloud Run's own names: an app's "revision" field means something else, and a mismatch would hide its traffic.
  const revision = str(first(rec, ['resource.labels.revision_name', 'K_REVISION']));
  if (revision) entry.revision = revision;
  if (isProbe(rec, http) || messageText?.includes('greenloop-probe')) entry.probe = true;
  return { entry, time };
}
