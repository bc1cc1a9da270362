import type { TriageClass } from '@greenloop/core';
import { actualStatus } from './endpoints.ts';
import type { CorrelatedLog, EndpointRef, FailureSignals, StackFrame } from './types.ts';

/**
 * Triage: which kind of failure this is, decided from facts in the failure text (HTTP statuses, WebSocket
 * close codes, errno names, timeouts), then from the server logs tied to the test, then from the error type.
 */

const WS_CODE = /\b(?:received|sent|close[ds]?(?: with)?(?: code)?|code|status)\s*[:=]?\s*(1\d{3}|4\d{3})\b/gi;
const WS_CONTEXT = /websocket|\bws\b|\bwss?:\/\/|\b1\d{3} \([a-z ]+\)|connection closed|close frame/i;
const ERRNO =
  /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EPIPE|ECONNABORTED|UND_ERR_CONNECT_TIMEOUT|UND_ERR_SOCKET|UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT)\b/g;
// Connection-level failures in the words runners and HTTP clients of every stack use (Node, Python requests/
// urllib3/httpx, Go net/http, Java): the suite could not talk to the service at all.
const ERRNO_PHRASE =
  /(connection refused|ConnectionRefusedError|Failed to establish a new connection|NewConnectionError)|(connection reset|socket hang up|ConnectionResetError|RemoteDisconnected|ECONNABORTED)|(no such host|getaddrinfo|Name or service not known|nodename nor servname|UnknownHostException|Temporary failure in name resolution)|(\bfetch failed\b)|(broken pipe)|(certificate verify failed|self[- ]signed certificate|SSLError|SSLHandshakeException|\bERR_TLS_|CERT_HAS_EXPIRED|UNABLE_TO_VERIFY_LEAF_SIGNATURE|DEPTH_ZERO_SELF_SIGNED_CERT|x509: |tls: )|(\bReadTimeout\b|\bConnectTimeout(?:Error)?\b|SocketTimeoutException|Client\.Timeout exceeded|i\/o timeout|Read timed out)/gi;
const PHRASE_ERRNO = ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'FETCH_FAILED', 'EPIPE', 'TLS', 'ETIMEDOUT'];
const TIMEOUT = /\b(?:timed? ?out|timeout|deadline exceeded|Exceeded timeout)\b|TimeoutError|TimeoutException/i;
const ASSERTION_TYPE = /assert|expect|comparison|ComparisonFailure|AssertionFailed/i;
const ASSERTION_TEXT = /\bexpected\b|\bassert|toBe|toEqual|to equal|to be\b|!==|Expected values to be/i;

/** Facts about a failure's text that triage and fingerprints use. */
export function extractSignals(text: string): FailureSignals {
  const capped = text.length > 20_000 ? text.slice(0, 20_000) : text;
  const wsCloseCodes = new Set<number>();
  if (WS_CONTEXT.test(capped)) {
    for (const m of capped.matchAll(WS_CODE)) {
      const code = Number(m[1]);
      if ((code >= 1000 && code <= 1015) || (code >= 4000 && code <= 4999)) wsCloseCodes.add(code);
    }
  }
  const errnos = new Set<string>();
  for (const m of capped.matchAll(ERRNO)) errnos.add(m[1] as string);
  if (errnos.size === 0) {
    for (const m of capped.matchAll(ERRNO_PHRASE)) {
      const group = m.slice(1).findIndex((g) => g !== undefined);
      errnos.add(PHRASE_ERRNO[group] as string);
    }
  }
  const status = actualStatus(capped);
  return {
    httpStatuses: status === undefined ? [] : [status],
    wsCloseCodes: [...wsCloseCodes].sort((a, b) => a - b),
    errnos: [...errnos].sort(),
    timeout: TIMEOUT.test(capped),
  };
}

/** What triage looks at for one failed test. */
export interface TriageInput {
  errorType?: string;
  /** Message and body of the failure. */
  text: string;
  signals: FailureSignals;
  endpoints: readonly EndpointRef[];
  logs: readonly CorrelatedLog[];
  frames: readonly StackFrame[];
}

function byStatus(statuses: readonly number[]): TriageClass | undefined {
  if (statuses.some((s) => s === 404 || s === 405)) return 'route-missing';
  if (statuses.some((s) => s === 401 || s === 403)) return 'auth-rejected';
  if (statuses.some((s) => s >= 500)) return 'server-error';
  return undefined;
}

function proxyConnectionError(entry: CorrelatedLog['entry']): boolean {
  const error = entry.json?.source === 'greenloop-proxy' ? entry.json.error : undefined;
  return typeof error === 'string' && extractSignals(error).errnos.length > 0;
}

/**
 * Classifies a failure. Order matters and follows how specific the evidence is: a WebSocket close code, a
 * network errno or timeout, the HTTP status the test saw, the status the server logged for the test's
 * requests, a server-side error log, then the error type.
 */
export function classify(input: TriageInput): TriageClass {
  const { signals } = input;
  if (signals.wsCloseCodes.length > 0) return 'websocket-close';
  if (signals.errnos.length > 0) return 'infrastructure';
  // The suite saw only "502" but greenloop's recording proxy knows why: it could not reach the service.
  if (input.logs.some((l) => l.match === 'request' && proxyConnectionError(l.entry))) return 'infrastructure';
  const statuses = [...signals.httpStatuses, ...input.endpoints.flatMap((e) => (e.status === undefined ? [] : [e.status]))];
  const fromTest = byStatus(statuses);
  if (fromTest) return fromTest;
  // A runner's own timeout with no network error: the service took the request and never answered in
  // time (a hanging handler is a code bug), so this goes to the fixer, unlike connection-level timeouts.
  if (signals.timeout) return 'timeout';
  const logged = input.logs.flatMap((l) => (l.entry.httpRequest?.status === undefined ? [] : [l.entry.httpRequest.status]));
  const fromLogs = byStatus(logged.filter((s) => s >= 400));
  if (fromLogs) return fromLogs;
  if (input.logs.some((l) => l.entry.severity === 'ERROR' || l.entry.severity === 'CRITICAL')) return 'server-error';
  const type = input.errorType ?? '';
  if (ASSERTION_TYPE.test(type)) return 'assertion';
  // An exception (not an assertion) thrown from the code under test is the code failing, not the test.
  const firstOwn = input.frames.find((f) => !f.internal && !f.vendor);
  if (type && /Error|Exception|panic/.test(type) && firstOwn && !firstOwn.test) return 'server-error';
  if (ASSERTION_TEXT.test(input.text)) return 'assertion';
  return 'unknown';
}

/** What the environment verdict reads of an analyzed cycle. */
export interface EnvironmentVerdictInput {
  totals: { total: number; failed: number; skipped: number };
  clusters: readonly {
    fingerprint: string;
    title: string;
    triage: TriageClass;
    tests: readonly string[];
    sampleMessage: string;
    endpoints: readonly { status?: number }[];
  }[];
}

/** Which environment verdicts apply (fixer.massFailure: `fix` turns off the same-way rule). */
export interface EnvironmentVerdictOptions {
  /** Whether most tests failing the same way (not only unreachable) is an environment failure. */
  sameWay: boolean;
}

/**
 * Share of executed tests that must fail, and share of those that must fail the environment's way; also the
 * share of executed tests one way of failing must hold for "most tests fail the same way".
 */
export const ENVIRONMENT_FAILED_SHARE = 0.8;
/**
 * "Most tests fail the same way" also needs this many tests. In a suite of 1 to 4 tests, one bug in a route
 * they all call fails them all, which says nothing about the environment.
 *
 * Why 80% and 5: seeded bugs and real regressions break a few features each, so no one way of failing comes
 * near 80% of a suite. Measured on every cycle of the examples' loops (test/e2e-demo-loop, test/e2e-stacks):
 * the largest way held 2 of 24 tests (demo, cycle 1) and 1 of 4–6 elsewhere (3 failures, each its own way).
 * Something every test goes through does reach it: a missing env var or secret, a database that is down, a
 * bad deploy config. A false verdict stops the loop with the evidence and the opt-out (fixer.massFailure);
 * a missed one sends an environment problem to the code fixer, which can only work around it in code.
 */
const SAME_WAY_MIN_TESTS = 5;

// A gateway answering for a service that is not there is the environment too (a proxy, a load balancer).
// So is a runner timeout when it is how most of the suite fails: one hanging handler is a code bug (its
// cluster goes to the fixer), every request hanging is a service that is not really there.
const GATEWAY = /\b(?:502|503|504)\b|Bad Gateway|Service Unavailable|Gateway Time-?out/i;
type VerdictCluster = EnvironmentVerdictInput['clusters'][number];
const failsLikeEnvironment = (c: VerdictCluster) =>
  c.triage === 'infrastructure' ||
  c.triage === 'timeout' ||
  c.endpoints.some((e) => e.status === 502 || e.status === 503 || e.status === 504) ||
  GATEWAY.test(c.sampleMessage);

const firstLine = (message: string) => message.split('\n')[0]?.slice(0, 200) ?? '';

/**
 * The way a cluster's tests fail, without where. HTTP failures are clustered per endpoint (a fingerprint is
 * `GET /api/x → 500`), so the same 500 from ten endpoints is ten clusters and one way: its triage and
 * status. Anything else is its cluster: fingerprints already ignore ids, ports and wording there, and
 * coarser keys (a normalized assertion message) would merge unrelated bugs ("<n> !== <n>").
 */
function failureWay(c: VerdictCluster): string {
  const statuses = [...new Set(c.endpoints.flatMap((e) => (e.status === undefined ? [] : [e.status])))].sort((a, b) => a - b);
  const http = c.triage === 'server-error' || c.triage === 'route-missing' || c.triage === 'auth-rejected';
  return http && statuses.length > 0 ? `${c.triage} ${statuses.join(',')}` : `cluster ${c.fingerprint}`;
}

/** Most tests could not reach a working service: connection-level errors, a gateway's 502/503/504, the runner's timeout. */
function unreachable(a: EnvironmentVerdictInput, executed: number): string | undefined {
  if (a.totals.failed < ENVIRONMENT_FAILED_SHARE * executed) return undefined;
  const env = a.clusters.filter(failsLikeEnvironment);
  const envTests = env.reduce((n, c) => n + c.tests.length, 0);
  if (envTests === 0 || envTests < ENVIRONMENT_FAILED_SHARE * a.totals.failed) return undefined;
  const biggest = [...env].sort((x, y) => y.tests.length - x.tests.length)[0];
  const sample = biggest ? ` — e.g. "${firstLine(biggest.sampleMessage)}" (${biggest.tests.length} test(s): ${biggest.title})` : '';
  return `${a.totals.failed} of ${executed} tests failed, ${envTests} of them unable to reach a working service${sample}. That is the environment (deploy, URLs, network, TLS), not the code: no fixer was dispatched`;
}

/** Most tests failed the same way (see SAME_WAY_MIN_TESTS). */
function sameWay(a: EnvironmentVerdictInput, executed: number): string | undefined {
  const ways = new Map<string, VerdictCluster[]>();
  for (const c of a.clusters) {
    const key = failureWay(c);
    ways.set(key, [...(ways.get(key) ?? []), c]);
  }
  const count = (cs: readonly VerdictCluster[]) => cs.reduce((n, c) => n + c.tests.length, 0);
  const [way, clusters] = [...ways].sort((x, y) => count(y[1]) - count(x[1]))[0] ?? [];
  if (!way || !clusters) return undefined;
  const n = count(clusters);
  if (n < SAME_WAY_MIN_TESTS || n < ENVIRONMENT_FAILED_SHARE * executed) return undefined;
  const biggest = [...clusters].sort((x, y) => y.tests.length - x.tests.length)[0] as VerdictCluster;
  const spread = clusters.length > 1 ? ` (${way} in ${clusters.length} clusters)` : '';
  return (
    `most tests fail the same way: ${n} of ${executed} with "${firstLine(biggest.sampleMessage)}"${spread}. ` +
    'One failure shared by nearly every test is usually the environment, not a code bug: check for a missing env var or secret, ' +
    'a dependency that is down (database, queue, another service) or a bad deploy config. No fixer was dispatched; ' +
    'if it is a bug in code every test goes through, set fixer.massFailure: fix to send it to the fixer'
  );
}

/**
 * A run that failed because of its environment, not the code. Either at least 80% of the executed tests
 * failed, and at least 80% of those with connection-level errors (refused, reset, DNS, TLS, network
 * timeouts), a gateway's 502/503/504, or the runner's timeout; or (unless `sameWay` is off) one way of
 * failing holds at least 80% of the executed tests and at least 5. Returns the evidence in words, or
 * undefined. A few such failures among passing tests are not a verdict on the run: their clusters go to a
 * person (fixer.skipTriage) or the fixer, and the loop goes on.
 */
export function environmentFailure(a: EnvironmentVerdictInput, opts: EnvironmentVerdictOptions = { sameWay: true }): string | undefined {
  const executed = a.totals.total - a.totals.skipped;
  if (executed <= 0 || a.totals.failed === 0) return undefined;
  return unreachable(a, executed) ?? (opts.sameWay ? sameWay(a, executed) : undefined);
}
