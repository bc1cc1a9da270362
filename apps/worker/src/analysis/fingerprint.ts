import { createHash } from 'node:crypto';
import type { TriageClass } from '@greenloop/core';
import { endpointKey, routeShape } from './endpoints.ts';
import { appFrames, frameKey } from './stack-frames.ts';
import type { EndpointRef, FailureSignals, StackFrame } from './types.ts';

/**
 * Failure fingerprints: the same root failure gets the same 12-hex id in every cycle and every loop, however
 * the ids, ports, timestamps and worktree paths in its text vary; different root causes get different ids.
 *
 * What identifies a root failure depends on what kind it is:
 * - an HTTP failure is its endpoints and statuses (`POST /api/agents/:id/stop → 404`), whatever the
 *   assertion wording or the test that saw it;
 * - a WebSocket close is its close codes, endpoint when named, and normalized message;
 * - a network failure is its errno (a refused connection is one problem, whichever route saw it);
 * - a timeout is where it happened (endpoint, else the test line);
 * - anything else is error type + normalized message + the top frames in the code under test, or, when the
 *   trace names no such code, the test line that failed (test files are protected, so that line is stable).
 *
 * Server logs never feed the key: they are pulled with caps and can differ run to run, a fingerprint must not.
 */

const MESSAGE_RULES: readonly [RegExp, string | ((m: string) => string)][] = [
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes
  [/\u001b\[[0-9;?]*[ -/]*[@-~]/g, ''],
  [/\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?/g, '<ts>'],
  [/\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b/g, '<time>'],
  [/\beyJ[\w-]+\.[\w-]+\.[\w-]*/g, '<token>'],
  [/\b(bearer|basic)\s+\S+/gi, '$1 <token>'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>'],
  [/\b(?:https?|wss?):\/\/[^\s"'`<>]+/g, (u) => `<url>${routeShape(u)}`],
  [/(?<![\w<>])\/[\w\-.~%@]+(?:\/[\w\-.~%@:]*)+/g, (p) => routeShape(p)],
  [/\b0x[0-9a-f]+\b/gi, '<hex>'],
  [/\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b/gi, '<hex>'],
  [/"(?:[^"\\\n]|\\.){0,300}"/g, '"<v>"'],
  [/(?<![\w])'(?:[^'\\\n]|\\.){0,300}'(?![\w])/g, "'<v>'"],
  [/`(?:[^`\\\n]|\\.){0,300}`/g, '`<v>`'],
  [/\b\d{1,3}(?:\.\d{1,3}){3}\b/g, '<ip>'],
  [/\[[0-9a-f:]*:[0-9a-f:]+\]/gi, '<ip>'],
  [/(<ip>|localhost|\b[a-z][\w-]*(?:\.[\w-]+)+):\d{2,5}\b/gi, '$1'],
  [/\b\d+(?:\.\d+)?(?:ms|s|m|h|b|kb|mb|gb)?\b/gi, '<n>'],
  [/\s+/g, ' '],
];

/**
 * A message with everything that varies between runs of the same failure replaced by placeholders, and
 * without a leading "SomeError: " (pytest and jest prefix the type, node and vitest do not).
 */
export function normalizeMessage(message: string | undefined): string {
  if (!message) return '';
  let m = message.length > 2000 ? message.slice(0, 2000) : message;
  m = m.replace(/^\s*[\w.$]*(?:Error|Exception|Failure)(?: \[[A-Z0-9_]+\])?:\s*/, '');
  for (const [re, replacement] of MESSAGE_RULES) m = typeof replacement === 'string' ? m.replace(re, replacement) : m.replace(re, replacement);
  m = m.trim();
  return m.length > 500 ? m.slice(0, 500) : m;
}

/** What a fingerprint is computed from. */
export interface FingerprintParts {
  /** Triage from the failure text alone (never from logs). */
  triage: TriageClass;
  errorType?: string;
  message?: string;
  signals: FailureSignals;
  /** Endpoints named by the failure text. */
  endpoints: readonly EndpointRef[];
  frames: readonly StackFrame[];
  /** Used when nothing else pins the failure down. */
  testId: string;
}

/**
 * Ports below 10000 in a network error name the kind of target (5432 a database, 6379 Redis, 443 an API) and
 * stay put across runs; higher ones are ephemeral (the local provider's free ports) and say nothing.
 */
export function wellKnownPorts(message: string): number[] {
  const ports = new Set<number>();
  for (const m of message.matchAll(/(?:\b\d{1,3}(?:\.\d{1,3}){3}|\]|localhost|\b[a-z][\w-]*(?:\.[\w-]+)+):(\d{2,5})\b/gi)) {
    const port = Number(m[1]);
    if (port > 0 && port < 10_000) ports.add(port);
  }
  return [...ports].sort((a, b) => a - b);
}

function anchor(parts: FingerprintParts): string {
  const testFrame = parts.frames.find((f) => f.test && !f.internal && !f.vendor);
  return testFrame ? frameKey(testFrame, true) : `test:${parts.testId}`;
}

function sortedKeys(endpoints: readonly EndpointRef[], withStatus: boolean): string {
  return [...new Set(endpoints.map((e) => endpointKey(withStatus ? e : { ...e, status: undefined })))].sort().join(', ');
}

/** The readable string a fingerprint hashes; see the module comment for what goes in. */
export function fingerprintKey(parts: FingerprintParts): string {
  const { signals, triage } = parts;
  const withStatus = parts.endpoints.filter((e) => e.status !== undefined);
  if (withStatus.length > 0 && (triage === 'route-missing' || triage === 'auth-rejected' || triage === 'server-error')) {
    return `http|${triage}|${sortedKeys(withStatus, true)}`;
  }
  if (triage === 'websocket-close') return `ws|${signals.wsCloseCodes.join(',')}|${sortedKeys(parts.endpoints, false)}|${normalizeMessage(parts.message)}`;
  if (signals.errnos.length > 0) return `net|${signals.errnos.join(',')}|${wellKnownPorts(parts.message ?? '').join(',')}`;
  if (triage === 'timeout') {
    return parts.endpoints.length > 0 ? `timeout|${sortedKeys(parts.endpoints, false)}` : `timeout|${anchor(parts)}`;
  }
  const app = appFrames(parts.frames)
    .slice(0, 3)
    .map((f) => frameKey(f));
  const fields = [
    'error',
    triage,
    parts.errorType ?? '',
    normalizeMessage(parts.message),
    signals.httpStatuses.join(','),
    sortedKeys(parts.endpoints, true),
    app.join(' < '),
    app.length === 0 ? anchor(parts) : '',
  ];
  return fields.join('|');
}

/** sha256 of the key, first 12 hex characters. */
export function fingerprintOf(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}
