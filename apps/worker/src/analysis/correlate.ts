import { createHash } from 'node:crypto';
import type { LogEntry } from '@greenloop/core';
import type { RecordedRequest } from '../proxy/request-record.ts';
import { routeShape } from './endpoints.ts';
import { indexRequests, linesDuring, type RequestRef, requestsInWindow } from './request-evidence.ts';
import type { TestWindow } from './test-windows.ts';
import type { CorrelatedLog, EndpointRef, ParsedTestCase } from './types.ts';

/**
 * Ties failed tests to server log lines. In order of confidence:
 * 1. `test`: the service logged the `x-greenloop-test` header and it names this test;
 * 2. `trace`: the entry's trace id equals the one the suite derives for this test — the first 32 hex of
 *    sha256(`${runId}:${testName}`), sent as the `traceparent` trace id (as examples/demo-service documents);
 * 3. `route`: a request to the endpoint the failure names, in the run's window, with the failing status;
 * 4. `window`: an error the services logged while the test ran (only when the JUnit file has timestamps).
 * Entries that carry another run's id are never used.
 *
 * With the recording proxy's records (`request`), a test's requests are found first — by its name header,
 * else by its time window narrowed by its failure message (test-windows.ts, request-evidence.ts) — and then
 * every service's log lines with those requests' trace ids (`trace`) or logged while they were in flight
 * (`window`): the evidence for services that log in their own format and suites that send no headers.
 */

/** Where and when the test run happened. */
export interface CorrelationScope {
  runId: string;
  /** ISO times of the test run; route and window matches stay inside it. */
  from: string;
  to: string;
}

/** Log entries indexed once per cycle for cheap per-test lookups. */
export interface LogIndex {
  scope: CorrelationScope;
  byTest: Map<string, LogEntry[]>;
  /** Normalized trailing word groups of logged test names → the normalized names. */
  bySuffix: Map<string, string[]>;
  byTrace: Map<string, LogEntry[]>;
  byRoute: Map<string, LogEntry[]>;
  /** In-scope error entries, by time, for window matches. */
  errors: { at: number; entry: LogEntry }[];
  /** Every in-scope entry with a readable time, by time (for lines logged while a recorded request ran). */
  byTime: { at: number; entry: LogEntry }[];
  /** The run's requests recorded by the proxy, by time; and by the normalized test name the suite sent. */
  requests: RequestRef[];
  requestsByTest: Map<string, RequestRef[]>;
  /** When each test ran (by test id), for tests whose requests carry no name. */
  windows: Map<string, TestWindow>;
}

/** What the proxy recorded, and when each test ran; both optional. */
export interface RequestEvidence {
  requests?: readonly RecordedRequest[];
  windows?: Map<string, TestWindow>;
}

const SEVERITY_RANK: Record<LogEntry['severity'], number> = { CRITICAL: 5, ERROR: 4, WARNING: 3, INFO: 2, DEFAULT: 1, DEBUG: 0 };
const CLOCK_SKEW_MS = 5000;

/** The trace id a suite derives for a test: first 32 hex of sha256("<runId>:<test full name>"), as examples/demo-service/e2e/client.js does. */
export function traceIdFor(runId: string, testName: string): string {
  return createHash('sha256').update(`${runId}:${testName}`).digest('hex').slice(0, 32);
}

/** Lowercased words of a test name, separators (›, >, ::, /, .) as spaces, so "a › b" matches "a > b". */
export function normalizeTestName(name: string): string {
  return name
    .replace(/\.py\b/g, '')
    .toLowerCase()
    .replace(/[\s›»>:/.\\|,]+/g, ' ')
    .trim();
}

/** The names a suite may have sent in `x-greenloop-test` for this test (full names in the usual styles). */
export function testNameCandidates(test: ParsedTestCase): string[] {
  const { name, classname, suitePath } = test;
  const baseId = test.id.replace(/ \[\d+\]$/, '');
  const out = new Set<string>([name, baseId]);
  if (suitePath.length > 0) {
    out.add([...suitePath, name].join(' > '));
    out.add([...suitePath, name].join(' '));
  }
  if (classname) {
    out.add(`${classname} ${name}`);
    out.add(`${classname}.${name}`);
    out.add(`${classname}::${name}`);
    out.add(`${classname} > ${name}`);
  }
  return [...out];
}

/** The 32-hex trace id in a LogEntry (Cloud Logging "projects/p/traces/<id>", a raw id, or a logged traceparent). */
export function entryTraceId(entry: LogEntry): string | undefined {
  const candidates = [entry.trace, entry.json?.traceparent, entry.json?.trace, entry.json?.['logging.googleapis.com/trace']];
  for (const c of candidates) {
    if (typeof c !== 'string') continue;
    const tp = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/i.exec(c.trim());
    if (tp?.[1]) return tp[1].toLowerCase();
    const m = /(?:^|\/)([0-9a-f]{32})$/i.exec(c.trim());
    if (m?.[1]) return m[1].toLowerCase();
  }
  return undefined;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function routeKey(method: string | undefined, path: string): string {
  return `${(method ?? '*').toUpperCase()} ${routeShape(path)}`;
}

/** Indexes a cycle's log entries (and the proxy's records); entries of other runs are left out. */
export function buildLogIndex(entries: readonly LogEntry[], scope: CorrelationScope, evidence: RequestEvidence = {}): LogIndex {
  const from = Date.parse(scope.from) - CLOCK_SKEW_MS;
  const to = Date.parse(scope.to) + CLOCK_SKEW_MS;
  // The proxy shares the worker's clock: its records need no skew allowance beyond the run's second.
  const requests = indexRequests(evidence.requests ?? [], scope.runId, Date.parse(scope.from) - 1000, Date.parse(scope.to) + 1000);
  const index: LogIndex = {
    scope,
    byTest: new Map(),
    bySuffix: new Map(),
    byTrace: new Map(),
    byRoute: new Map(),
    errors: [],
    byTime: [],
    requests,
    requestsByTest: new Map(),
    windows: evidence.windows ?? new Map(),
  };
  for (const r of requests) if (r.record.test) push(index.requestsByTest, normalizeTestName(r.record.test), r);
  for (const entry of entries) {
    if (entry.runId && entry.runId !== scope.runId) continue;
    if (entry.test) push(index.byTest, normalizeTestName(entry.test), entry);
    const trace = entryTraceId(entry);
    if (trace) push(index.byTrace, trace, entry);
    const at = Date.parse(entry.time);
    const inWindow = entry.runId === scope.runId || (Number.isFinite(at) && at >= from && at <= to);
    if (!inWindow) continue;
    if (entry.httpRequest?.path) {
      push(index.byRoute, routeKey(entry.httpRequest.method, entry.httpRequest.path), entry);
      push(index.byRoute, routeKey(undefined, entry.httpRequest.path), entry);
    }
    if (SEVERITY_RANK[entry.severity] >= SEVERITY_RANK.ERROR && Number.isFinite(at)) index.errors.push({ at, entry });
    if (Number.isFinite(at)) index.byTime.push({ at, entry });
  }
  for (const name of index.byTest.keys()) {
    const words = name.split(' ');
    for (let k = 1; k <= Math.min(words.length - 1, 8); k++) push(index.bySuffix, words.slice(-k).join(' '), name);
  }
  index.errors.sort((a, b) => a.at - b.at);
  index.byTime.sort((a, b) => a.at - b.at);
  return index;
}

function pick(found: Map<LogEntry, CorrelatedLog['match']>, max: number): CorrelatedLog[] {
  const list = [...found].map(([entry, match]) => ({ entry, match }));
  list.sort((a, b) => SEVERITY_RANK[b.entry.severity] - SEVERITY_RANK[a.entry.severity] || a.entry.time.localeCompare(b.entry.time));
  return list.slice(0, max).sort((a, b) => a.entry.time.localeCompare(b.entry.time));
}

/** Server log lines for one failed test (at most `max`, errors first, returned in time order). */
export function correlateTest(test: ParsedTestCase, endpoints: readonly EndpointRef[], index: LogIndex, max = 20): CorrelatedLog[] {
  const found = new Map<LogEntry, CorrelatedLog['match']>();
  const candidates = index.byTest.size > 0 || index.byTrace.size > 0 ? testNameCandidates(test) : [];
  if (index.byTest.size > 0) for (const n of new Set(candidates.map(normalizeTestName))) for (const e of index.byTest.get(n) ?? []) found.set(e, 'test');
  if (found.size === 0 && index.byTest.size > 0) {
    // A logged name that ends with this test's name and mentions its suite or class: a full name in a style
    // the candidates did not guess.
    const short = normalizeTestName(test.name);
    const context = normalizeTestName([...test.suitePath, test.classname].join(' '))
      .split(' ')
      .filter((w) => w.length > 2);
    for (const logged of index.bySuffix.get(short) ?? []) {
      if (context.length === 0 || context.some((w) => logged.includes(w))) for (const e of index.byTest.get(logged) ?? []) found.set(e, 'test');
    }
  }
  if (index.byTrace.size > 0) {
    for (const c of candidates) for (const e of index.byTrace.get(traceIdFor(index.scope.runId, c)) ?? []) if (!found.has(e)) found.set(e, 'trace');
  }
  const own = testRequests(test, endpoints, index);
  const namesNeighbourPath = neighbourPathMatcher(own, index.requests);
  for (const r of own) {
    found.set(r.entry, 'request');
    for (const e of index.byTrace.get(r.record.traceId) ?? []) if (!found.has(e)) found.set(e, 'trace');
    for (const e of linesDuring(r, index.byTime)) if (!found.has(e) && !namesNeighbourPath(e)) found.set(e, 'window');
  }
  const logged = () => [...found.values()].some((m) => m !== 'request');
  if (!logged()) {
    for (const ep of endpoints) {
      for (const e of index.byRoute.get(routeKey(ep.method, ep.path)) ?? []) {
        const status = e.httpRequest?.status;
        const relevant = ep.status !== undefined ? status === ep.status : status !== undefined && status >= 400;
        if (relevant && !found.has(e)) found.set(e, 'route');
      }
    }
  }
  const window = testWindow(test, index);
  if (!logged() && window) {
    for (const { at, entry } of index.errors) {
      if (at < window.start) continue;
      if (at > window.end) break;
      found.set(entry, 'window');
    }
  }
  return pick(found, max);
}

/** The test's window: derived for the whole run (test-windows.ts), else from its own JUnit timestamp. */
function testWindow(test: ParsedTestCase, index: LogIndex): TestWindow | undefined {
  const derived = index.windows.get(test.id);
  if (derived) return derived;
  const start = test.startedAt ? Date.parse(test.startedAt) : Number.NaN;
  return Number.isFinite(start) ? { start: start - 1000, end: start + test.durationMs + 2000, source: 'junit' } : undefined;
}

/**
 * Paths the suite requested in *other* tests and never in this one. A line caught only by time that names one
 * of them ("price lookup failed for /price/9") belongs to the neighbour that made that request, not to this
 * test, even when the two ran within milliseconds of each other.
 */
function neighbourPathMatcher(own: readonly RequestRef[], all: readonly RequestRef[]): (entry: LogEntry) => boolean {
  const mine = new Set(own.map((r) => r.record.path));
  const ownSet = new Set(own);
  const paths = [...new Set(all.filter((r) => !ownSet.has(r) && !mine.has(r.record.path) && r.record.path.length > 1).map((r) => r.record.path))];
  // A sibling of one of this test's own paths: same route, another id ("/price/7" when this test asked for
  // "/price/9"). It names a request some other test caused, even one the suite made through another service
  // (the front calling the back directly), which no recorded request shows.
  const minePaths = new Set([...mine].map((p) => p.replace(/[?#].*$/, '')));
  const ownShapes = new Set([...minePaths].map(routeShape));
  const namesSibling = (text: string) => {
    for (const [token] of text.matchAll(/\/[\w.~%-]+(?:\/[\w.~%-]+)*/g)) if (!minePaths.has(token) && ownShapes.has(routeShape(token))) return true;
    return false;
  };
  if (paths.length === 0) return (entry) => namesSibling(entry.message);
  // One expression per test, not per line: a path followed by anything but more of a path.
  const named = new RegExp(`(?:${paths.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})(?![\\w/-])`);
  const exact = new Set(paths);
  return (entry) => (entry.httpRequest?.path !== undefined && exact.has(entry.httpRequest.path)) || named.test(entry.message) || namesSibling(entry.message);
}

/** The recorded requests this test made: by the name it sent, else by its window and failure message. */
export function testRequests(test: ParsedTestCase, endpoints: readonly EndpointRef[], index: LogIndex): RequestRef[] {
  if (index.requests.length === 0) return [];
  if (index.requestsByTest.size > 0) {
    const named = new Set<RequestRef>();
    for (const n of new Set(testNameCandidates(test).map(normalizeTestName))) for (const r of index.requestsByTest.get(n) ?? []) named.add(r);
    if (named.size > 0) return [...named].slice(-10);
  }
  const window = testWindow(test, index);
  if (!window) return [];
  const unnamed = index.requestsByTest.size > 0 ? index.requests.filter((r) => !r.record.test) : index.requests;
  return requestsInWindow(unnamed, window, test.message ?? test.details?.split('\n')[0] ?? '', endpoints);
}
