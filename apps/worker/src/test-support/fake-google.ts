import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { PassThroughClient } from 'google-auth-library';

/**
 * A local fake of the Google REST endpoints greenloop's client libraries call in fallback (REST) mode:
 * Cloud Run Admin API v2 (get/patch service, get operation, get/list/delete revisions; tagged 0%-traffic
 * revisions get a tag URL `https://<tag>---<service>-….run.app`) and Cloud Logging v2
 * (`entries:list` with page tokens and a working subset of the filter language). Tests drive it with a
 * scenario (rollout length, revision outcome) and injected failures, and read `requests` to see exactly
 * what the libraries sent. Test-only.
 */

export type FakeMethod = 'getService' | 'updateService' | 'getOperation' | 'getRevision' | 'deleteRevision' | 'listRevisions' | 'listEntries';

export interface FakeRequest {
  method: FakeMethod | 'unknown';
  httpMethod: string;
  path: string;
  query: string;
  body: unknown;
  at: number;
}

/** An error the fake answers with instead of handling the call. */
export interface FakeFailure {
  /** HTTP status, e.g. 403, 429, 503. */
  status: number;
  /** google.rpc status name; defaults from the HTTP status. */
  grpcStatus?: string;
  message?: string;
  /** google.rpc error details (RetryInfo, BadRequest, ErrorInfo) as REST JSON with "@type". */
  details?: unknown[];
  /** How many calls in a row fail (default 1). */
  times?: number;
  /** Runs when the failure is served (e.g. to simulate a concurrent change). */
  onServe?: () => void;
}

/** What happens to new revisions and rollouts. Mutable between and during tests. */
export interface FakeScenario {
  /** Polls (GET operation or GET service) before a rollout finishes. */
  rolloutPolls: number;
  /** Outcome of the next revisions created. */
  revisionOutcome: 'ready' | 'fail';
  /** Misbehave: report a failed latest revision as receiving the LATEST traffic (to exercise restoring traffic). */
  failedRevisionServes: boolean;
}

interface FakeRevision {
  name: string;
  image: string;
  state: 'pending' | 'ready' | 'failed';
  createdAt: string;
}

interface FakeTraffic {
  type: number;
  revision?: string;
  percent: number;
  tag?: string;
}

interface FakeRollout {
  operation: string;
  pollsLeft: number;
  revision?: string;
  outcome: 'ready' | 'fail';
}

/** One Cloud Run service as the fake holds it (short revision names). */
export interface FakeService {
  project: string;
  region: string;
  id: string;
  uri: string;
  generation: number;
  template: { revision?: string; containers: { name?: string; image: string; ports?: { containerPort: number }[] }[]; [k: string]: unknown };
  traffic: FakeTraffic[];
  revisions: Map<string, FakeRevision>;
  latestReadyRevision?: string;
  latestCreatedRevision?: string;
  terminal: { state: number; message?: string };
  rollout?: FakeRollout;
  completedOps: Map<string, { error?: { code: number; message: string } }>;
}

// Enum numbers: the libraries ask for `enum-encoding=int`, as the real API then answers.
const STATE = { PENDING: 1, RECONCILING: 2, FAILED: 3, SUCCEEDED: 4 } as const;
const TRAFFIC = { LATEST: 1, REVISION: 2 } as const;
const REVISION_REASON_HEALTH_CHECK_CONTAINER_ERROR = 6;

const STATUS_FOR_HTTP: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

class HttpError extends Error {
  readonly status: number;
  readonly grpcStatus: string;
  readonly details: unknown[];
  constructor(status: number, message: string, grpcStatus?: string, details: unknown[] = []) {
    super(message);
    this.status = status;
    this.grpcStatus = grpcStatus ?? STATUS_FOR_HTTP[status] ?? 'UNKNOWN';
    this.details = details;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function trafficType(v: unknown): number {
  if (v === TRAFFIC.LATEST || v === 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST') return TRAFFIC.LATEST;
  if (v === TRAFFIC.REVISION || v === 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION') return TRAFFIC.REVISION;
  return 0;
}

export class FakeGoogle {
  readonly requests: FakeRequest[] = [];
  readonly scenario: FakeScenario = { rolloutPolls: 2, revisionOutcome: 'ready', failedRevisionServes: false };
  port = 0;
  private readonly server: Server;
  private readonly services = new Map<string, FakeService>();
  private readonly failures = new Map<FakeMethod, FakeFailure[]>();
  private readonly logs: Record<string, unknown>[] = [];
  private opCounter = 0;

  private constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  /** Starts the fake on 127.0.0.1 and a free port. */
  static async start(): Promise<FakeGoogle> {
    const fake = new FakeGoogle();
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    const addr = fake.server.address();
    fake.port = typeof addr === 'object' && addr ? addr.port : 0;
    return fake;
  }

  /**
   * Where `ServicesClient`, `RevisionsClient` and `Logging` connect to reach this fake (plain HTTP), with
   * an auth client that adds no credentials (so nothing looks for ADC). No transport option: the REST
   * transport comes from googleClientOptions, the construction production uses too.
   */
  clientOptions() {
    return { protocol: 'http', apiEndpoint: '127.0.0.1', port: this.port, authClient: new PassThroughClient() };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Adds an existing Cloud Run service with one ready revision serving 100% (LATEST). */
  addService(o: { project: string; region: string; service: string; image?: string; revision?: string }): FakeService {
    const revision = o.revision ?? `${o.service}-00001-abc`;
    const image = o.image ?? `europe-docker.pkg.dev/${o.project}/repo/${o.service}:old`;
    const svc: FakeService = {
      project: o.project,
      region: o.region,
      id: o.service,
      uri: `https://${o.service}-abc123-ew.a.run.app`,
      generation: 1,
      template: { revision, containers: [{ name: 'app', image, ports: [{ containerPort: 8080 }] }] },
      traffic: [{ type: TRAFFIC.LATEST, percent: 100 }],
      revisions: new Map([[revision, { name: revision, image, state: 'ready', createdAt: new Date().toISOString() }]]),
      latestReadyRevision: revision,
      latestCreatedRevision: revision,
      terminal: { state: STATE.SUCCEEDED },
      completedOps: new Map(),
    };
    this.services.set(`${o.project}/${o.region}/${o.service}`, svc);
    return svc;
  }

  service(project: string, region: string, service: string): FakeService {
    const svc = this.services.get(`${project}/${region}/${service}`);
    if (!svc) throw new Error(`fake has no service ${project}/${region}/${service}`);
    return svc;
  }

  /** Creates a revision directly (as if another deploy did), optionally finishing its rollout at once. */
  createRevision(svc: FakeService, name: string, image: string, state: 'ready' | 'failed' | 'pending' = 'ready'): void {
    svc.revisions.set(name, { name, image, state, createdAt: new Date().toISOString() });
    svc.template = { ...svc.template, revision: name, containers: [{ ...svc.template.containers[0], image }] };
    svc.latestCreatedRevision = name;
    if (state === 'ready') svc.latestReadyRevision = name;
    svc.terminal =
      state === 'ready'
        ? { state: STATE.SUCCEEDED }
        : state === 'failed'
          ? { state: STATE.FAILED, message: `Revision '${name}' is not ready` }
          : { state: STATE.RECONCILING };
  }

  /** The next `times` calls of `method` fail with the given HTTP status. */
  failNext(method: FakeMethod, failure: FakeFailure): void {
    const list = this.failures.get(method) ?? [];
    for (let i = 0; i < (failure.times ?? 1); i++) list.push(i === 0 ? failure : { ...failure, onServe: undefined });
    this.failures.set(method, list);
  }

  /** Adds log entries (REST LogEntry JSON: logName, timestamp, severity, resource, jsonPayload/textPayload, httpRequest…). */
  addLogEntries(entries: Record<string, unknown>[]): void {
    this.logs.push(...entries);
  }

  count(method: FakeMethod, httpMethod?: string): number {
    return this.requests.filter((r) => r.method === method && (!httpMethod || r.httpMethod === httpMethod)).length;
  }

  // ---- HTTP ------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = decodeURIComponent(url.pathname);
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const route = this.route(req.method ?? 'GET', path);
    this.requests.push({ method: route?.method ?? 'unknown', httpMethod: req.method ?? 'GET', path, query: url.search, body, at: Date.now() });
    try {
      if (!route) throw new HttpError(404, `fake-google: no route for ${req.method} ${path}`);
      const failure = this.failures.get(route.method)?.shift();
      if (failure) {
        failure.onServe?.();
        throw new HttpError(failure.status, failure.message ?? `injected ${failure.status}`, failure.grpcStatus, failure.details);
      }
      const out = route.run(body);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out));
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(500, err instanceof Error ? err.message : String(err));
      res.writeHead(e.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: e.status, message: e.message, status: e.grpcStatus, details: e.details } }));
    }
  }

  private route(httpMethod: string, path: string): { method: FakeMethod; run: (body: unknown) => unknown } | undefined {
    let m = /^\/v2\/projects\/([^/]+)\/locations\/([^/]+)\/services\/([^/]+)$/.exec(path);
    if (m) {
      const [, p = '', r = '', s = ''] = m;
      if (httpMethod === 'GET') return { method: 'getService', run: () => this.getService(p, r, s) };
      if (httpMethod === 'PATCH') return { method: 'updateService', run: (b) => this.patchService(p, r, s, b) };
    }
    m = /^\/v2\/projects\/([^/]+)\/locations\/([^/]+)\/services\/([^/]+)\/revisions\/([^/]+)$/.exec(path);
    if (m && httpMethod === 'GET') {
      const [, p = '', r = '', s = '', rev = ''] = m;
      return { method: 'getRevision', run: () => this.getRevision(p, r, s, rev) };
    }
    if (m && httpMethod === 'DELETE') {
      const [, p = '', r = '', s = '', rev = ''] = m;
      return { method: 'deleteRevision', run: () => this.deleteRevision(p, r, s, rev) };
    }
    m = /^\/v2\/projects\/([^/]+)\/locations\/([^/]+)\/services\/([^/]+)\/revisions$/.exec(path);
    if (m && httpMethod === 'GET') {
      const [, p = '', r = '', s = ''] = m;
      return {
        method: 'listRevisions',
        run: () => ({ revisions: [...this.lookup(p, r, s).revisions.values()].map((x) => this.revisionJson(this.lookup(p, r, s), x)) }),
      };
    }
    m = /^\/v2\/projects\/([^/]+)\/locations\/([^/]+)\/operations\/([^/]+)$/.exec(path);
    if (m && httpMethod === 'GET') return { method: 'getOperation', run: () => this.getOperation(path.slice('/v2/'.length)) };
    if (path === '/v2/entries:list' && httpMethod === 'POST') return { method: 'listEntries', run: (b) => this.listEntries(b) };
    return undefined;
  }

  // ---- Cloud Run ---------------------------------------------------------------------------------------

  private lookup(project: string, region: string, service: string): FakeService {
    const svc = this.services.get(`${project}/${region}/${service}`);
    if (!svc) throw new HttpError(404, `Resource 'projects/${project}/locations/${region}/services/${service}' was not found`);
    return svc;
  }

  private revisionPath(svc: FakeService, name: string): string {
    return `projects/${svc.project}/locations/${svc.region}/services/${svc.id}/revisions/${name}`;
  }

  /** One poll of a rollout in progress; finishes it when its polls are used up. */
  private tick(svc: FakeService): void {
    const ro = svc.rollout;
    if (!ro) return;
    ro.pollsLeft--;
    if (ro.pollsLeft > 0) return;
    svc.rollout = undefined;
    const rev = ro.revision ? svc.revisions.get(ro.revision) : undefined;
    if (!rev) {
      svc.terminal = { state: STATE.SUCCEEDED };
      svc.completedOps.set(ro.operation, {});
      return;
    }
    if (ro.outcome === 'ready') {
      rev.state = 'ready';
      svc.latestReadyRevision = rev.name;
      svc.terminal = { state: STATE.SUCCEEDED };
      svc.completedOps.set(ro.operation, {});
    } else {
      rev.state = 'failed';
      const message = `Revision '${rev.name}' is not ready and cannot serve traffic. The user-provided container failed to start and listen on the port defined provided by the PORT=8080 environment variable within the allocated timeout.`;
      svc.terminal = { state: STATE.FAILED, message };
      svc.completedOps.set(ro.operation, { error: { code: 9, message } });
    }
  }

  private trafficStatuses(svc: FakeService) {
    const failedLatest = svc.latestCreatedRevision && svc.revisions.get(svc.latestCreatedRevision)?.state === 'failed';
    if (this.scenario.failedRevisionServes && failedLatest && !svc.rollout && svc.traffic.some((t) => t.type === TRAFFIC.LATEST)) {
      return [{ type: TRAFFIC.REVISION, revision: svc.latestCreatedRevision, percent: 100 }];
    }
    return svc.traffic.map((t) => ({
      type: t.type,
      revision: t.type === TRAFFIC.LATEST ? svc.latestReadyRevision : t.revision,
      percent: t.percent,
      ...(t.tag ? { tag: t.tag, uri: `https://${t.tag}---${svc.id}-abc123-ew.a.run.app` } : {}),
    }));
  }

  private serviceJson(svc: FakeService): Record<string, unknown> {
    const reconciling = svc.rollout !== undefined;
    return {
      name: `projects/${svc.project}/locations/${svc.region}/services/${svc.id}`,
      uid: `uid-${svc.id}`,
      generation: String(svc.generation),
      observedGeneration: String(reconciling ? svc.generation - 1 : svc.generation),
      etag: `"etag-${svc.generation}"`,
      uri: svc.uri,
      urls: [svc.uri],
      template: svc.template,
      traffic: svc.traffic,
      reconciling,
      terminalCondition: {
        type: 'Ready',
        state: reconciling ? STATE.RECONCILING : svc.terminal.state,
        ...(svc.terminal.message && !reconciling ? { message: svc.terminal.message } : {}),
      },
      conditions: [{ type: 'RoutesReady', state: reconciling ? STATE.RECONCILING : STATE.SUCCEEDED }],
      ...(svc.latestReadyRevision ? { latestReadyRevision: this.revisionPath(svc, svc.latestReadyRevision) } : {}),
      ...(svc.latestCreatedRevision ? { latestCreatedRevision: this.revisionPath(svc, svc.latestCreatedRevision) } : {}),
      trafficStatuses: reconciling ? [] : this.trafficStatuses(svc),
    };
  }

  private revisionJson(svc: FakeService, rev: FakeRevision): Record<string, unknown> {
    const failed = rev.state === 'failed';
    const state = rev.state === 'ready' ? STATE.SUCCEEDED : failed ? STATE.FAILED : STATE.RECONCILING;
    const message = failed
      ? 'The user-provided container failed to start and listen on the port defined provided by the PORT=8080 environment variable.'
      : undefined;
    return {
      name: this.revisionPath(svc, rev.name),
      service: svc.id,
      containers: [{ image: rev.image }],
      reconciling: rev.state === 'pending',
      createTime: rev.createdAt,
      logUri: `https://console.cloud.google.com/logs/viewer?project=${svc.project}&resource=cloud_run_revision/service_name/${svc.id}/revision_name/${rev.name}`,
      conditions: [
        { type: 'Ready', state, ...(message ? { message } : {}) },
        {
          type: 'ContainerHealthy',
          state,
          ...(failed ? { message: 'Container failed to start', revisionReason: REVISION_REASON_HEALTH_CHECK_CONTAINER_ERROR } : {}),
        },
      ],
    };
  }

  private getService(project: string, region: string, service: string): unknown {
    const svc = this.lookup(project, region, service);
    this.tick(svc);
    return this.serviceJson(svc);
  }

  private getRevision(project: string, region: string, service: string, revision: string): unknown {
    const svc = this.lookup(project, region, service);
    const rev = svc.revisions.get(revision);
    if (!rev) throw new HttpError(404, `Revision '${revision}' not found`);
    return this.revisionJson(svc, rev);
  }

  /** As Cloud Run: a revision that traffic (or a tag) still names cannot be deleted. Done at once. */
  private deleteRevision(project: string, region: string, service: string, revision: string): unknown {
    const svc = this.lookup(project, region, service);
    const rev = svc.revisions.get(revision);
    if (!rev) throw new HttpError(404, `Revision '${revision}' not found`);
    const latestReady = svc.latestReadyRevision === revision;
    if (svc.traffic.some((t) => t.revision === revision || (t.type === TRAFFIC.LATEST && latestReady))) {
      throw new HttpError(400, `Revision '${revision}' is referenced by the service's traffic and cannot be deleted`, 'FAILED_PRECONDITION');
    }
    const json = this.revisionJson(svc, rev);
    svc.revisions.delete(revision);
    const newestReady = [...svc.revisions.values()].filter((r) => r.state === 'ready').at(-1)?.name;
    if (svc.latestReadyRevision === revision) svc.latestReadyRevision = newestReady;
    if (svc.latestCreatedRevision === revision) svc.latestCreatedRevision = [...svc.revisions.keys()].at(-1);
    const name = `projects/${project}/locations/${region}/operations/op-${++this.opCounter}`;
    return { name, done: true, response: { '@type': 'type.googleapis.com/google.cloud.run.v2.Revision', ...json } };
  }

  private patchService(project: string, region: string, service: string, body: unknown): unknown {
    const svc = this.lookup(project, region, service);
    if (!isRecord(body)) throw new HttpError(400, 'request body must be a Service');
    if (svc.rollout) throw new HttpError(409, 'another operation is in progress on this service', 'ABORTED');
    const template = isRecord(body.template) ? body.template : {};
    const containers = Array.isArray(template.containers) ? template.containers.filter(isRecord) : [];
    const image = String(containers.find((c) => Array.isArray(c.ports) && c.ports.length)?.image ?? containers[0]?.image ?? '');
    if (!image) {
      throw new HttpError(400, 'template.containers[0].image is required', 'INVALID_ARGUMENT', [
        { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'template.containers[0].image', description: 'must be set' }] },
      ]);
    }
    const requested = typeof template.revision === 'string' ? template.revision : '';
    if (requested && (!requested.startsWith(`${svc.id}-`) || requested.length > 63 || !/^[a-z][a-z0-9-]*[a-z0-9]$/.test(requested))) {
      throw new HttpError(
        400,
        `Invalid revision name '${requested}': it must start with '${svc.id}-', use lowercase letters, digits and dashes, and be at most 63 characters`,
        'INVALID_ARGUMENT',
        [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'template.revision', description: 'invalid revision name' }] }],
      );
    }
    let newRevision: string | undefined;
    const current = svc.latestCreatedRevision ? svc.revisions.get(svc.latestCreatedRevision) : undefined;
    if (requested && svc.revisions.has(requested)) {
      if (svc.revisions.get(requested)?.image !== image)
        throw new HttpError(409, `Revision named '${requested}' with different configuration already exists.`, 'ALREADY_EXISTS');
    } else if (requested || image !== current?.image) {
      newRevision = requested || `${svc.id}-${String(svc.revisions.size + 1).padStart(5, '0')}-gen`;
    }
    const traffic: FakeTraffic[] = (Array.isArray(body.traffic) ? body.traffic.filter(isRecord) : []).map((t) => ({
      type: trafficType(t.type),
      ...(typeof t.revision === 'string' && t.revision ? { revision: t.revision } : {}),
      percent: typeof t.percent === 'number' ? t.percent : 0,
      ...(typeof t.tag === 'string' && t.tag ? { tag: t.tag } : {}),
    }));
    if (traffic.length) {
      const sum = traffic.reduce((n, t) => n + t.percent, 0);
      const unknown = traffic.find((t) => t.type === TRAFFIC.REVISION && t.revision !== newRevision && !svc.revisions.has(t.revision ?? ''));
      if (sum !== 100 || unknown) {
        throw new HttpError(
          400,
          unknown ? `traffic refers to unknown revision '${unknown.revision}'` : `traffic percentages add up to ${sum}, not 100`,
          'INVALID_ARGUMENT',
          [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'traffic', description: 'invalid traffic split' }] }],
        );
      }
      svc.traffic = traffic;
    }
    svc.generation++;
    svc.template = { ...(template as FakeService['template']), containers: containers as FakeService['template']['containers'] };
    if (newRevision) {
      svc.revisions.set(newRevision, { name: newRevision, image, state: 'pending', createdAt: new Date().toISOString() });
      svc.latestCreatedRevision = newRevision;
      svc.template.revision = newRevision;
    }
    const operation = `projects/${project}/locations/${region}/operations/op-${++this.opCounter}`;
    svc.rollout = {
      operation,
      pollsLeft: Math.max(1, this.scenario.rolloutPolls),
      ...(newRevision ? { revision: newRevision } : {}),
      outcome: this.scenario.revisionOutcome,
    };
    return { name: operation, done: false };
  }

  private getOperation(name: string): unknown {
    for (const svc of this.services.values()) {
      if (svc.rollout?.operation === name) {
        this.tick(svc);
        if (svc.rollout?.operation === name) return { name, done: false };
      }
      const done = svc.completedOps.get(name);
      if (done) {
        if (done.error) return { name, done: true, error: done.error };
        return { name, done: true, response: { '@type': 'type.googleapis.com/google.cloud.run.v2.Service', ...this.serviceJson(svc) } };
      }
    }
    throw new HttpError(404, `operation ${name} not found`);
  }

  // ---- Cloud Logging -----------------------------------------------------------------------------------

  private listEntries(body: unknown): unknown {
    if (!isRecord(body)) throw new HttpError(400, 'request body must be a ListLogEntriesRequest');
    const resourceNames = Array.isArray(body.resourceNames) ? body.resourceNames.map(String) : [];
    if (resourceNames.length === 0) throw new HttpError(400, 'resourceNames is required', 'INVALID_ARGUMENT');
    const pageSize = typeof body.pageSize === 'number' && body.pageSize > 0 ? body.pageSize : 50;
    if (pageSize > 1000) throw new HttpError(400, 'pageSize must be at most 1000', 'INVALID_ARGUMENT');
    const filter = typeof body.filter === 'string' ? parseFilter(body.filter) : () => true;
    const projects = resourceNames.map((r) => r.replace(/^projects\//, ''));
    const desc = typeof body.orderBy === 'string' && /desc/i.test(body.orderBy);
    const matching = this.logs
      .filter((e) => projects.some((p) => String(e.logName ?? '').startsWith(`projects/${p}/`)))
      .filter(filter)
      .sort((a, b) => String(a.timestamp).localeCompare(String(b.timestamp)) * (desc ? -1 : 1));
    const offset = typeof body.pageToken === 'string' && body.pageToken ? Number(Buffer.from(body.pageToken, 'base64url').toString('utf8')) : 0;
    const page = matching.slice(offset, offset + pageSize);
    const next = offset + pageSize < matching.length ? Buffer.from(String(offset + pageSize)).toString('base64url') : undefined;
    return { entries: page, ...(next ? { nextPageToken: next } : {}) };
  }
}

// ---- a subset of the Logging query language ------------------------------------------------------------

const SEVERITIES = ['DEFAULT', 'DEBUG', 'INFO', 'NOTICE', 'WARNING', 'ERROR', 'CRITICAL', 'ALERT', 'EMERGENCY'];
type Pred = (e: Record<string, unknown>) => boolean;

/**
 * Parses the part of the Logging query language greenloop uses: comparisons (`=`, `!=`, `>=`, `<=`, `>`,
 * `<`, `:`) on dotted field paths, AND (explicit or implicit), OR (binds tighter than AND, as in Logging),
 * NOT and parentheses. Severity compares by level, timestamps as times, numbers as numbers.
 */
export function parseFilter(text: string): Pred {
  const tokens = text.match(/"(?:[^"\\]|\\.)*"|\(|\)|>=|<=|!=|=|>|<|:|[^\s()=<>!:"]+/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++];
  const expr = (): Pred => {
    const parts = [orSeq()];
    while (i < tokens.length && peek() !== ')') {
      if (peek() === 'AND') next();
      parts.push(orSeq());
    }
    return (e) => parts.every((p) => p(e));
  };
  const orSeq = (): Pred => {
    const parts = [unary()];
    while (peek() === 'OR') {
      next();
      parts.push(unary());
    }
    return (e) => parts.some((p) => p(e));
  };
  const unary = (): Pred => {
    if (peek() === 'NOT') {
      next();
      const inner = unary();
      return (e) => !inner(e);
    }
    if (peek() === '(') {
      next();
      const inner = expr();
      if (next() !== ')') throw new HttpError(400, `unbalanced parentheses in filter: ${text}`, 'INVALID_ARGUMENT');
      return inner;
    }
    const path = next();
    const op = next();
    const raw = next();
    if (!path || !op || raw === undefined || !['=', '!=', '>=', '<=', '>', '<', ':'].includes(op))
      throw new HttpError(400, `cannot parse filter near "${path ?? ''} ${op ?? ''}": ${text}`, 'INVALID_ARGUMENT');
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    return (e) => compare(field(e, path), op, value, path);
  };
  const pred = expr();
  if (i < tokens.length) throw new HttpError(400, `unexpected "${tokens[i]}" in filter: ${text}`, 'INVALID_ARGUMENT');
  return pred;
}

function field(e: Record<string, unknown>, path: string): unknown {
  let v: unknown = e;
  for (const part of path.split('.')) v = isRecord(v) ? v[part] : undefined;
  return v;
}

function compare(actual: unknown, op: string, value: string, path: string): boolean {
  if (actual === undefined || actual === null) return op === '!=';
  let a: number | string = String(actual);
  let b: number | string = value;
  if (path === 'severity') {
    a = SEVERITIES.indexOf(String(actual));
    b = SEVERITIES.indexOf(value);
  } else if (path === 'timestamp' || path === 'receiveTimestamp') {
    a = Date.parse(String(actual));
    b = Date.parse(value);
  } else if (typeof actual === 'number' && value !== '' && !Number.isNaN(Number(value))) {
    a = actual;
    b = Number(value);
  }
  switch (op) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
    case ':':
      return String(actual).toLowerCase().includes(value.toLowerCase());
    case '>=':
      return a >= b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    default:
      return a < b;
  }
}
