import { randomUUID } from 'node:crypto';
import { type Entry, Logging } from '@google-cloud/logging';
import type { CloudLoggingConfig, DeployedService, LogEntry, Logger, Redis } from '@greenloop/core';
import { DEFAULT_RETRY, type GoogleClientOptions, type GoogleErrorContext, type RetryPolicy, sleep, withGoogleRetry } from '../deploy/cloud-run.ts';
import { googleClientOptions } from '../google-client-options.ts';
import { readRecord, urlPath } from '../ingest/log-entry.ts';
import { readLogTime } from '../ingest/log-time.ts';
import { readPlainLine } from '../ingest/plain-text.ts';
import type { LogPull, LogQuery, LogSource } from './types.ts';

/** At most `limit` calls in any `windowMs`. */
export interface RateLimit {
  limit: number;
  windowMs: number;
}

/** Cloud Logging's default read quota is 60 `entries.list` calls per minute per project. */
export const CLOUD_LOGGING_RATE_LIMIT: RateLimit = { limit: 60, windowMs: 60_000 };

// A sliding-window log in a sorted set, timed by the Redis server's clock so that every worker process
// agrees: admits the call and returns 0, or returns how many ms until the oldest call leaves the window.
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
`;

/**
 * A rate limit shared by every process using the same Redis and key: at most `limit` acquisitions in any
 * sliding window of `windowMs`. `acquire` waits until the call may go ahead.
 */
export class RedisRateLimiter {
  readonly redis: Redis;
  readonly key: string;
  readonly rate: RateLimit;

  constructor(redis: Redis, key: string, rate: RateLimit) {
    this.redis = redis;
    this.key = key;
    this.rate = rate;
  }

  /** Resolves when a call is admitted; returns how long it waited (ms). */
  async acquire(signal?: AbortSignal, log?: Logger): Promise<number> {
    let waited = 0;
    const member = randomUUID();
    for (;;) {
      const wait = Number(await this.redis.eval(ACQUIRE, 1, this.key, this.rate.limit, this.rate.windowMs, member));
      if (wait <= 0) return waited;
      log?.debug({ key: this.key, waitMs: wait }, 'Cloud Logging rate limit reached; waiting');
      // A little jitter so that processes woken together do not all race for the one free slot.
      const pause = wait + Math.floor(Math.random() * 25);
      await sleep(pause, signal, { api: 'Cloud Logging', action: 'wait for the rate limit' });
      waited += pause;
    }
  }
}

export interface CloudLoggingSourceOptions {
  /** Shared Redis for the cross-process rate limit. */
  redis: Redis;
  /** Key prefix (the deployment's Redis prefix); the limiter key is `<prefix>:ratelimit:cloud-logging:<project>`. */
  keyPrefix: string;
  clientOptions?: GoogleClientOptions;
  rateLimit?: RateLimit;
  retry?: RetryPolicy;
  /** The test window is widened by this much on both sides for clock skew (default 5s). */
  skewMs?: number;
  log?: Logger;
}

interface CloudRunLogTarget {
  service: string;
  cloudRunService: string;
  revision: string;
}

const SEVERITY_BY_NUMBER: Record<number, string> = {
  0: 'DEFAULT',
  100: 'DEBUG',
  200: 'INFO',
  300: 'NOTICE',
  400: 'WARNING',
  500: 'ERROR',
  600: 'CRITICAL',
  700: 'ALERT',
  800: 'EMERGENCY',
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function quote(v: string): string {
  return JSON.stringify(v);
}

/** greenloop's severities: NOTICE counts as INFO; ALERT and EMERGENCY as CRITICAL. */
export function normalizeSeverity(v: unknown): LogEntry['severity'] {
  const name = typeof v === 'number' ? (SEVERITY_BY_NUMBER[v] ?? 'DEFAULT') : String(v ?? 'DEFAULT').toUpperCase();
  switch (name) {
    case 'DEBUG':
    case 'INFO':
    case 'WARNING':
    case 'ERROR':
    case 'CRITICAL':
      return name;
    case 'NOTICE':
      return 'INFO';
    case 'ALERT':
    case 'EMERGENCY':
      return 'CRITICAL';
    default:
      return 'DEFAULT';
  }
}

// Cloud Logging always stamps entries; an unreadable stamp (never seen) falls back to the epoch rather than throwing.
function toIso(v: unknown): string {
  if (v instanceof Date && Number.isFinite(v.getTime())) return v.toISOString();
  return new Date(readLogTime(v)?.ms ?? 0).toISOString();
}

function latencyMs(v: unknown): number | undefined {
  if (typeof v === 'string') {
    const m = /^(\d+(?:\.\d+)?)s$/.exec(v);
    return m ? Math.round(Number(m[1]) * 1000) : undefined;
  }
  if (!isRecord(v)) return undefined;
  const ms = Number(v.seconds ?? 0) * 1000 + Number(v.nanos ?? 0) / 1e6;
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/** The Cloud Run services (and the revisions greenloop deployed) whose logs belong to this cycle. */
function cloudRunTargets(services: DeployedService[]): CloudRunLogTarget[] {
  const out: CloudRunLogTarget[] = [];
  for (const s of services) {
    const cloudRunService = str(s.details?.cloudRunService);
    if (cloudRunService && s.revision) out.push({ service: s.service, cloudRunService, revision: s.revision });
  }
  return out;
}

/**
 * A Cloud Logging entry (as the library returns it) as greenloop's LogEntry. The entry's own fields
 * (timestamp, severity, httpRequest, trace, resource labels) come first; the payload is read like any
 * other log line (`ingest/`), so a pino or Python app's own request fields, errors and stacks are kept too.
 */
export function normalizeEntry(entry: Pick<Entry, 'metadata' | 'data'>, serviceNames: ReadonlyMap<string, string>): LogEntry {
  const m = entry.metadata;
  const labels: Record<string, unknown> = isRecord(m.labels) ? m.labels : {};
  const resourceLabels: Record<string, unknown> = isRecord(m.resource) && isRecord(m.resource.labels) ? m.resource.labels : {};
  const data: unknown = entry.data;
  const json = isRecord(data) ? data : undefined;
  const cloudRunService = str(resourceLabels.service_name) ?? '';
  const service = serviceNames.get(cloudRunService) ?? cloudRunService;
  const http = isRecord(m.httpRequest) ? m.httpRequest : undefined;
  const fromPayload = json ? readRecord(json, service).entry : undefined;
  const text = typeof data === 'string' ? readPlainLine(data) : undefined;
  const severity = normalizeSeverity(m.severity);
  const out: LogEntry = {
    time: toIso(m.timestamp),
    severity: severity === 'DEFAULT' ? (fromPayload?.severity ?? text?.severity ?? 'DEFAULT') : severity,
    service,
    message: '',
  };
  if (http) {
    const h: NonNullable<LogEntry['httpRequest']> = {};
    const method = str(http.requestMethod);
    const url = str(http.requestUrl);
    const latency = latencyMs(http.latency);
    const userAgent = str(http.userAgent);
    if (method) h.method = method;
    if (url) h.path = urlPath(url);
    if (typeof http.status === 'number' && http.status > 0) h.status = http.status;
    if (latency !== undefined) h.latencyMs = latency;
    if (userAgent) h.userAgent = userAgent;
    out.httpRequest = h;
  } else if (fromPayload?.httpRequest) out.httpRequest = fromPayload.httpRequest;
  else if (text?.httpRequest) out.httpRequest = text.httpRequest;
  if (typeof data === 'string') out.message = data;
  else if (fromPayload) out.message = fromPayload.message;
  else if (out.httpRequest) out.message = `${out.httpRequest.method ?? ''} ${out.httpRequest.path ?? ''} ${out.httpRequest.status ?? ''}`.trim();
  if (json) out.json = json;
  const trace = str(m.trace) ?? fromPayload?.trace;
  if (trace) out.trace = trace;
  const runId = fromPayload?.runId ?? str(labels.runId);
  const test = fromPayload?.test ?? str(labels.test);
  if (runId) out.runId = runId;
  if (test) out.test = test;
  const revision = str(resourceLabels.revision_name);
  if (revision) out.revision = revision;
  if (out.httpRequest?.userAgent?.includes('greenloop-probe') || fromPayload?.probe || text?.probe) out.probe = true;
  return out;
}

/**
 * Pulls the cycle's server-side logs from Cloud Logging: entries at or above the configured severity from
 * the Cloud Run revisions greenloop deployed, within the test window (explicit `timestamp>=`/`<=`, so the
 * library adds no 24h window of its own), plus failing request logs (status >= 400) counted by method,
 * path and status. Bounded by pageSize, maxPages and maxEntries (`truncated` says when a cap cut it short),
 * and by a rate limit shared in Redis by every worker process (60 `entries.list` calls per minute per
 * project by default); 429 / RESOURCE_EXHAUSTED answers are retried with backoff.
 */
export class CloudLoggingSource implements LogSource {
  readonly config: CloudLoggingConfig;
  readonly logging: Logging;
  readonly limiter: RedisRateLimiter;
  private readonly retry: RetryPolicy;
  private readonly skewMs: number;
  private readonly log: Logger | undefined;

  constructor(config: CloudLoggingConfig, opts: CloudLoggingSourceOptions) {
    this.config = config;
    // projectId is passed so the library never looks the project up from credentials or metadata.
    this.logging = new Logging(googleClientOptions({ ...opts.clientOptions, projectId: config.project }));
    this.limiter = new RedisRateLimiter(opts.redis, `${opts.keyPrefix}:ratelimit:cloud-logging:${config.project}`, opts.rateLimit ?? CLOUD_LOGGING_RATE_LIMIT);
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.skewMs = opts.skewMs ?? 5000;
    this.log = opts.log;
  }

  /** The two filters a pull sends (exported through `pull().query` for the cycle report). */
  filters(q: Pick<LogQuery, 'services' | 'from' | 'to'>): { entries: string; requests: string } | undefined {
    const targets = cloudRunTargets(q.services);
    if (targets.length === 0) return undefined;
    const from = new Date(Date.parse(q.from) - this.skewMs).toISOString();
    const to = new Date(Date.parse(q.to) + this.skewMs).toISOString();
    const services = targets
      .map((t) => `(resource.labels.service_name=${quote(t.cloudRunService)} AND resource.labels.revision_name=${quote(t.revision)})`)
      .join(' OR ');
    const base = `resource.type="cloud_run_revision" AND (${services})`;
    const window = `timestamp>=${quote(from)} AND timestamp<=${quote(to)}`;
    return {
      entries: `${base} AND severity>=${this.config.severity} AND ${window}`,
      requests: `${base} AND logName=${quote(`projects/${this.config.project}/logs/run.googleapis.com%2Frequests`)} AND httpRequest.status>=400 AND ${window}`,
    };
  }

  async pull(q: LogQuery): Promise<LogPull> {
    const filters = this.filters(q);
    if (!filters) {
      return {
        entries: [],
        truncated: false,
        failingRequests: [],
        query: `Cloud Logging (project ${this.config.project}): no Cloud Run revisions were deployed this cycle; nothing queried`,
      };
    }
    const names = new Map(cloudRunTargets(q.services).map((t) => [t.cloudRunService, t.service]));
    const main = await this.list(filters.entries, q.signal);
    const requests = await this.list(filters.requests, q.signal);

    const counts = new Map<string, { method?: string; path: string; status: number; count: number }>();
    for (const e of requests.entries) {
      const http = isRecord(e.metadata.httpRequest) ? e.metadata.httpRequest : undefined;
      const status = typeof http?.status === 'number' ? http.status : 0;
      if (status < 400) continue;
      const method = str(http?.requestMethod);
      const path = urlPath(str(http?.requestUrl) ?? '');
      const key = `${method ?? ''} ${path} ${status}`;
      const row = counts.get(key) ?? { ...(method ? { method } : {}), path, status, count: 0 };
      row.count++;
      counts.set(key, row);
    }
    return {
      entries: main.entries.map((e) => normalizeEntry(e, names)),
      truncated: main.truncated || requests.truncated,
      failingRequests: [...counts.values()].sort((a, b) => b.count - a.count || a.path.localeCompare(b.path)),
      query: [
        `Cloud Logging (project ${this.config.project}), pageSize ${this.config.pageSize}, maxPages ${this.config.maxPages}, maxEntries ${this.config.maxEntries}`,
        `entries: ${filters.entries}`,
        `failing requests: ${filters.requests}`,
        `pages read: ${main.pages} + ${requests.pages}${main.truncated || requests.truncated ? ' (truncated by the caps)' : ''}`,
      ].join('\n'),
    };
  }

  /** One filter, page by page (page tokens, no auto-pagination), within pageSize / maxPages / maxEntries. */
  private async list(filter: string, signal: AbortSignal | undefined): Promise<{ entries: Entry[]; truncated: boolean; pages: number }> {
    const { pageSize, maxPages, maxEntries, project } = this.config;
    const ctx: GoogleErrorContext = { api: 'Cloud Logging', action: 'list log entries', project };
    const entries: Entry[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    for (;;) {
      const remaining = maxEntries - entries.length;
      const [page, , response] = await withGoogleRetry(
        () =>
          this.logging.getEntries({
            resourceNames: [`projects/${project}`],
            filter,
            orderBy: 'timestamp asc',
            pageSize: Math.min(pageSize, remaining),
            ...(pageToken ? { pageToken } : {}),
            autoPaginate: false,
            // gax's own retries are off so every HTTP call passes the shared rate limit and one retry policy.
            gaxOptions: { retry: null, ...(signal ? { signal } : {}) },
          }),
        ctx,
        {
          retry: this.retry,
          ...(signal ? { signal } : {}),
          ...(this.log ? { log: this.log } : {}),
          beforeAttempt: async () => void (await this.limiter.acquire(signal, this.log)),
        },
      );
      pages++;
      entries.push(...page.slice(0, remaining));
      const next = response?.nextPageToken ?? undefined;
      if (page.length > remaining) return { entries, truncated: true, pages };
      if (!next) return { entries, truncated: false, pages };
      if (entries.length >= maxEntries || pages >= maxPages) return { entries, truncated: true, pages };
      pageToken = next;
    }
  }
}
