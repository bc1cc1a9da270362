import type { LogEntry } from '@greenloop/core';
import type { RecordedRequest } from '../proxy/request-record.ts';
import { routeShape } from './endpoints.ts';
import type { TestWindow } from './test-windows.ts';
import type { EndpointRef } from './types.ts';

/**
 * Requests the recording proxy saw, as evidence for failed tests: which of them a test made (by its
 * `x-greenloop-test` header, else by its time window narrowed by what its failure message names), and the
 * server log lines of every service that belong to them (same trace id, or logged while they were in flight).
 */

/** A recorded request and the log-shaped entry it is shown as in reports and dossiers. */
export interface RequestRef {
  record: RecordedRequest;
  at: number;
  entry: LogEntry;
}

/** How a test's requests were found: its name in a header, or its time window (narrowed by its message). */
export type RequestMatch = 'test' | 'window';

function severityOf(r: RecordedRequest): LogEntry['severity'] {
  if (r.error || r.status >= 500) return 'ERROR';
  return r.status >= 400 ? 'WARNING' : 'INFO';
}

/** A recorded request as a LogEntry (service = the service it went to; `json.source` says the proxy wrote it). */
export function requestEntry(r: RecordedRequest): LogEntry {
  const entry: LogEntry = {
    time: r.time,
    severity: severityOf(r),
    service: r.service,
    message: `${r.ws ? 'WebSocket ' : ''}request recorded by greenloop's proxy: ${r.status} in ${Math.round(r.durationMs)} ms${r.error ? ` (${r.error})` : ''}`,
    json: { source: 'greenloop-proxy', ...r },
    httpRequest: { method: r.method, path: r.path, status: r.status, latencyMs: r.durationMs },
    trace: r.traceId,
  };
  if (r.runId) entry.runId = r.runId;
  if (r.test) entry.test = r.test;
  return entry;
}

/** The run's own requests, in time order: probes, other runs' and out-of-window records left out. */
export function indexRequests(records: readonly RecordedRequest[], runId: string, from: number, to: number): RequestRef[] {
  const out: RequestRef[] = [];
  for (const r of records) {
    const at = Date.parse(r.time);
    if (r.probe || (r.runId && r.runId !== runId) || !Number.isFinite(at) || at < from || at > to) continue;
    out.push({ record: r, at, entry: requestEntry(r) });
  }
  return out.sort((a, b) => a.at - b.at);
}

const MAX_PER_TEST = 10;

/** HTTP statuses a failure message names ("500 !== 200", "expected 200 got 502", "status 404"). */
export function statusesIn(text: string): number[] {
  return [...new Set([...text.matchAll(/(?<![\w./:-])([1-5]\d\d)(?![\w/:-]|\.\d)/g)].map((m) => Number(m[1])))];
}

/**
 * The requests a failed test made without naming itself, from those in its window: the failing ones (≥ 400 or
 * cut) whose status or route its message names ("502 !== 200" names the 502 it got and the 200 it wanted);
 * else every failing one; else the ones the message names (a test that wanted a 404 and got a 200); else all
 * (a body or value assertion). At most 10, the latest when there are more (the failing assertion comes last).
 */
export function requestsInWindow(requests: readonly RequestRef[], window: TestWindow, message: string, endpoints: readonly EndpointRef[]): RequestRef[] {
  const inWindow = requests.filter((r) => r.at >= window.start && r.at <= window.end);
  if (inWindow.length === 0) return [];
  const statuses = new Set([...statusesIn(message), ...endpoints.flatMap((e) => (e.status === undefined ? [] : [e.status]))]);
  const routes = new Set(endpoints.map((e) => `${e.method ?? ''} ${e.path}`));
  const isNamed = (r: RequestRef) =>
    statuses.has(r.record.status) || routes.has(`${r.record.method} ${routeShape(r.record.path)}`) || routes.has(` ${routeShape(r.record.path)}`);
  const isFailing = (r: RequestRef) => r.record.status >= 400 || r.record.error !== undefined;
  for (const pick of [(r: RequestRef) => isFailing(r) && isNamed(r), isFailing, isNamed]) {
    const chosen = inWindow.filter(pick);
    if (chosen.length > 0) return chosen.slice(-MAX_PER_TEST);
  }
  return inWindow.slice(-MAX_PER_TEST);
}

/** Severities that make a log line evidence on time alone. */
const LOUD: ReadonlySet<LogEntry['severity']> = new Set(['ERROR', 'CRITICAL']);
const TIGHT_MS = 20;

/**
 * Log lines of any service logged while `request` was in flight: errors, and request lines for the same method
 * and path. This is how a front service's 502 picks up the back service's exception when no trace id was
 * propagated. First the request's own span (±20 ms: the proxy and local services share a clock), so the next
 * test's requests, a few ms later, stay out; only when that finds no error, a second either side (a service
 * that logs after it answered, a clock further off, or whole-second log times such as Go's `log`).
 */
export function linesDuring(request: RequestRef, byTime: readonly { at: number; entry: LogEntry }[]): LogEntry[] {
  const end = request.at + request.record.durationMs;
  const tight = scan(request, byTime, request.at - TIGHT_MS, end + TIGHT_MS);
  return tight.some((e) => LOUD.has(e.severity)) ? tight : scan(request, byTime, request.at - 1000, end + 1000);
}

function scan(request: RequestRef, byTime: readonly { at: number; entry: LogEntry }[], from: number, to: number): LogEntry[] {
  const out: LogEntry[] = [];
  let lo = 0;
  let hi = byTime.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((byTime[mid] as { at: number }).at < from) lo = mid + 1;
    else hi = mid;
  }
  const shape = routeShape(request.record.path);
  for (let i = lo; i < byTime.length; i++) {
    const { at, entry } = byTime[i] as { at: number; entry: LogEntry };
    if (at > to) break;
    const h = entry.httpRequest;
    const sameRequest = h?.path !== undefined && routeShape(h.path) === shape && (h.method ?? request.record.method) === request.record.method;
    if (LOUD.has(entry.severity) || sameRequest) out.push(entry);
  }
  return out;
}
