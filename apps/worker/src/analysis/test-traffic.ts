import type { DeployedService, LogEntry, TestRunResult } from '@greenloop/core';
import type { RecordedRequest } from '../proxy/request-record.ts';

/**
 * Which requests were the suite's traffic to the revisions deployed this cycle. greenloop's own probes
 * never count: they are marked (user agent `greenloop-probe/1`, header `x-greenloop-probe`), and an
 * unmarked hit on a health path in the run's first second is the readiness check of a provider that
 * does not mark it (issue 10: a `GET /health` logged 21 ms before the tests made a suite that sent no
 * request look real).
 */

/** How many requests the suite sent, where they were seen, and what was left out. */
export interface TestTraffic {
  /** Where the count came from: the recording proxy's requests.jsonl, or the services' request logs. */
  source: 'proxy' | 'logs';
  /** Log entries carrying this run's id (the suite sent greenloop's headers and the service logged them). */
  runEntries: number;
  /** Requests from the suite that reached a service deployed this cycle, inside the test window. */
  requests: number;
  servicesSeen: string[];
  /** Left out: greenloop's probes, early health hits, other revisions, lines with no readable time, proxy errors. */
  excluded: { probes: number; earlyHealth: number; otherRevision: number; timeUnknown: number; unreached: number };
}

// Untagged lines may be stamped by a service clock a little behind or ahead; only the end of the window is
// widened, because a request logged before the suite started cannot be the suite's.
const END_SKEW_MS = 5000;
const EARLY_HEALTH_MS = 1000;
const HEALTH_PATH = /^\/(?:_?health(?:z|check)?|readyz?|livez?|ping|_ah\/health|status)\/?$/i;

function isHealthPath(path: string | undefined, healthPaths: ReadonlySet<string>): boolean {
  return path !== undefined && (healthPaths.has(path) || HEALTH_PATH.test(path));
}

/** Counts the suite's requests: from the proxy's record when it recorded any, else from request logs. */
export function countTestTraffic(input: {
  run: Pick<TestRunResult, 'runId' | 'startedAt' | 'finishedAt'>;
  services: readonly DeployedService[];
  entries: readonly LogEntry[];
  requests?: readonly RecordedRequest[];
  /** The services' configured health paths (besides the usual names). */
  healthPaths?: readonly string[];
}): TestTraffic {
  const start = Date.parse(input.run.startedAt);
  const end = Date.parse(input.run.finishedAt) + END_SKEW_MS;
  const healthPaths = new Set(input.healthPaths ?? []);
  const excluded = { probes: 0, earlyHealth: 0, otherRevision: 0, timeUnknown: 0, unreached: 0 };
  const seen = new Set<string>();
  const early = (at: number, path: string | undefined) => at < start + EARLY_HEALTH_MS && isHealthPath(path, healthPaths);
  const deployed = new Set(input.services.map((s) => s.service));

  const revisions = new Map(input.services.map((s) => [s.service, s.revision]));
  const otherRevision = (e: LogEntry) => e.revision !== undefined && revisions.has(e.service) && revisions.get(e.service) !== e.revision;
  let runEntries = 0;
  for (const e of input.entries) {
    if (e.runId === input.run.runId && !e.probe && !otherRevision(e)) {
      runEntries++;
      seen.add(e.service);
    }
  }

  const recorded = input.requests ?? [];
  if (recorded.length > 0) {
    let requests = 0;
    for (const r of recorded) {
      const at = Date.parse(r.time);
      if (r.probe) excluded.probes++;
      else if (r.error) excluded.unreached++;
      else if (!deployed.has(r.service)) excluded.otherRevision++;
      else if (at < start || at > end) continue;
      else if (early(at, r.path)) excluded.earlyHealth++;
      else {
        requests++;
        seen.add(r.service);
      }
    }
    if (requests > 0) return { source: 'proxy', runEntries, requests, servicesSeen: [...seen].sort(), excluded };
  }

  let requests = 0;
  for (const e of input.entries) {
    if (!e.httpRequest || (e.runId && e.runId !== input.run.runId)) continue;
    const at = Date.parse(e.time);
    if (e.probe) excluded.probes++;
    else if (e.timeUnknown) excluded.timeUnknown++;
    else if (otherRevision(e)) excluded.otherRevision++;
    else if (!(at >= start && at <= end)) continue;
    else if (early(at, e.httpRequest.path)) excluded.earlyHealth++;
    else {
      requests++;
      seen.add(e.service);
    }
  }
  return { source: 'logs', runEntries, requests, servicesSeen: [...seen].sort(), excluded };
}

/** "2 greenloop probes, 1 early health check left out" (empty when nothing was). */
export function describeExcluded(t: TestTraffic): string {
  const x = t.excluded;
  const parts = [
    x.probes ? `${x.probes} greenloop probe(s)` : '',
    x.earlyHealth ? `${x.earlyHealth} health check(s) in the run's first second` : '',
    x.otherRevision ? `${x.otherRevision} request(s) to another revision or service` : '',
    x.timeUnknown ? `${x.timeUnknown} request line(s) with no readable time` : '',
    x.unreached ? `${x.unreached} request(s) that never reached the service` : '',
  ].filter(Boolean);
  return parts.length ? `left out: ${parts.join(', ')}` : '';
}
