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
const ERRNO_PHRASE =
  /(connection refused|ConnectionRefusedError)|(connection reset|socket hang up|ConnectionResetError|RemoteDisconnected)|(no such host|getaddrinfo|Name or service not known|UnknownHostException)|(\bfetch failed\b)|(broken pipe)/gi;
const PHRASE_ERRNO = ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'FETCH_FAILED', 'EPIPE'];
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

/**
 * Classifies a failure. Order matters and follows how specific the evidence is: a WebSocket close code, a
 * network errno or timeout, the HTTP status the test saw, the status the server logged for the test's
 * requests, a server-side error log, then the error type.
 */
export function classify(input: TriageInput): TriageClass {
  const { signals } = input;
  if (signals.wsCloseCodes.length > 0) return 'websocket-close';
  if (signals.errnos.length > 0) return 'infrastructure';
  const statuses = [...signals.httpStatuses, ...input.endpoints.flatMap((e) => (e.status === undefined ? [] : [e.status]))];
  const fromTest = byStatus(statuses);
  if (fromTest) return fromTest;
  if (signals.timeout) return 'infrastructure';
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
