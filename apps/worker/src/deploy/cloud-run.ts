import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { protos, RevisionsClient, ServicesClient } from '@google-cloud/run';
import {
  type CloudRunDeployConfig,
  type DeployedService,
  GreenloopError,
  type Logger,
  type ProcessRecorder,
  renderArgv,
  renderString,
  type ServiceConfig,
} from '@greenloop/core';
import { type GoogleClientOptions, googleClientOptions } from '../google-client-options.ts';
import { runCommand } from '../process/run-command.ts';
import type { SandboxSettings } from '../process/sandbox.ts';
import { deployValues } from './placeholder-values.ts';
import { deployCredentialPaths } from './step-sandbox.ts';
import type { DeployProvider, DeployRequest } from './types.ts';

type IService = protos.google.cloud.run.v2.IService;
type ITrafficTarget = protos.google.cloud.run.v2.ITrafficTarget;
type ICondition = protos.google.cloud.run.v2.ICondition;
type IRevision = protos.google.cloud.run.v2.IRevision;
type ITimestamp = protos.google.protobuf.ITimestamp;
const V2 = protos.google.cloud.run.v2;

export type { GoogleClientOptions } from '../google-client-options.ts';

/** Which Cloud Run service a deploy or a readiness check is about. */
export interface CloudRunTarget {
  project: string;
  region: string;
  service: string;
}

/** In-process retries of one Google API call for retryable errors (quota, unavailable, aborted). */
export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 1000, maxDelayMs: 30_000 };

// ---- errors ------------------------------------------------------------------------------------------

/** What a Google API call was doing, so an error can say which service/project/region/field it was about. */
export interface GoogleErrorContext {
  api: 'Cloud Run' | 'Cloud Logging';
  /** e.g. "get service", "update service", "list log entries". */
  action: string;
  project: string;
  region?: string;
  service?: string;
  revision?: string;
}

const GRPC_NAMES: Record<number, string> = {
  0: 'OK',
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  6: 'ALREADY_EXISTS',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  10: 'ABORTED',
  11: 'OUT_OF_RANGE',
  12: 'UNIMPLEMENTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  15: 'DATA_LOSS',
  16: 'UNAUTHENTICATED',
};

// The same table google-gax uses for REST responses without a status name (409 is ABORTED unless the body
// says ALREADY_EXISTS).
const HTTP_TO_GRPC: Record<number, number> = { 400: 3, 401: 16, 403: 7, 404: 5, 409: 10, 412: 9, 416: 11, 429: 8, 499: 1, 500: 13, 501: 12, 503: 14, 504: 4 };
const NETWORK_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_SOCKET']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** The gRPC code and HTTP status of anything a Google client library throws (gRPC, REST fallback or gaxios). */
export function googleStatus(err: unknown): { grpc?: number; http?: number } {
  if (!isRecord(err)) return {};
  let grpc: number | undefined;
  let http: number | undefined;
  if (typeof err.code === 'number') {
    if (err.code >= 100) http = err.code;
    else grpc = err.code;
  } else if (typeof err.code === 'string' && NETWORK_ERRNOS.has(err.code)) {
    grpc = 14;
  }
  if (typeof err.httpStatusCode === 'number') http = err.httpStatusCode;
  if (http === undefined && typeof err.status === 'number' && err.status >= 100) http = err.status;
  if (grpc === undefined && http !== undefined) grpc = HTTP_TO_GRPC[http] ?? (http >= 500 ? 13 : http >= 400 ? 9 : undefined);
  return { ...(grpc === undefined ? {} : { grpc }), ...(http === undefined ? {} : { http }) };
}

function durationMs(d: unknown): number | undefined {
  if (typeof d === 'string') {
    const m = /^(\d+(?:\.\d+)?)s$/.exec(d);
    return m ? Math.round(Number(m[1]) * 1000) : undefined;
  }
  if (!isRecord(d)) return undefined;
  const seconds = Number(d.seconds ?? 0);
  const nanos = Number(d.nanos ?? 0);
  return Number.isFinite(seconds) && Number.isFinite(nanos) ? Math.round(seconds * 1000 + nanos / 1e6) : undefined;
}

/** Field violations (BadRequest), retry delay (RetryInfo) and the missing permission (ErrorInfo), where present. */
function statusDetails(err: Record<string, unknown>): {
  fields: { field: string; description: string }[];
  retryAfterMs?: number;
  permission?: string;
  reason?: string;
} {
  const fields: { field: string; description: string }[] = [];
  let retryAfterMs: number | undefined;
  const list = [...(Array.isArray(err.statusDetails) ? err.statusDetails : []), ...(Array.isArray(err.details) ? err.details : [])];
  for (const d of list) {
    if (!isRecord(d)) continue;
    if (Array.isArray(d.fieldViolations)) {
      for (const v of d.fieldViolations) if (isRecord(v)) fields.push({ field: String(v.field ?? ''), description: String(v.description ?? '') });
    }
    if (d.retryDelay !== undefined) retryAfterMs = durationMs(d.retryDelay);
  }
  const meta = isRecord(err.errorInfoMetadata) ? err.errorInfoMetadata : undefined;
  const permission = typeof meta?.permission === 'string' ? meta.permission : undefined;
  const reason = typeof err.reason === 'string' && err.reason ? err.reason : undefined;
  return { fields, ...(retryAfterMs === undefined ? {} : { retryAfterMs }), ...(permission ? { permission } : {}), ...(reason ? { reason } : {}) };
}

function where(ctx: GoogleErrorContext): string {
  if (ctx.api === 'Cloud Logging') return `project "${ctx.project}"`;
  const svc = ctx.service ? `service "${ctx.service}"` : 'service';
  const rev = ctx.revision ? `revision "${ctx.revision}" of ` : '';
  return `${rev}${svc} in project "${ctx.project}", region "${ctx.region ?? '?'}"`;
}

/**
 * Turns an error from a Google client library into a GreenloopError that decides retries and tells a
 * person what to do. Works on gRPC codes and on REST HTTP statuses (fallback mode, gaxios errors).
 * Quota, unavailable, deadline, internal and aborted errors are retryable (with `details.retryAfterMs`
 * when the server said how long to wait); permission, authentication, not-found, invalid-argument,
 * precondition and already-exists errors are not.
 */
export function classifyGoogleError(err: unknown, ctx: GoogleErrorContext): GreenloopError {
  if (err instanceof GreenloopError) return err;
  const { grpc, http } = googleStatus(err);
  const raw = isRecord(err) ? err : {};
  const serverMessage = err instanceof Error ? err.message : String(err);
  const info = statusDetails(raw);
  const prefix = ctx.api === 'Cloud Run' ? 'CLOUD_RUN' : 'CLOUD_LOGGING';
  const status = grpc === undefined ? undefined : GRPC_NAMES[grpc];
  const details: Record<string, unknown> = {
    api: ctx.api,
    action: ctx.action,
    project: ctx.project,
    ...(ctx.region ? { region: ctx.region } : {}),
    ...(ctx.service ? { service: ctx.service } : {}),
    ...(grpc === undefined ? {} : { grpcCode: grpc, status }),
    ...(http === undefined ? {} : { httpStatus: http }),
    ...(info.fields.length ? { fieldViolations: info.fields } : {}),
    ...(info.retryAfterMs === undefined ? {} : { retryAfterMs: info.retryAfterMs }),
    ...(info.permission ? { permission: info.permission } : {}),
    ...(info.reason ? { reason: info.reason } : {}),
    serverMessage,
  };
  const make = (code: string, message: string, retryable: boolean, hint: string) =>
    new GreenloopError(`${prefix}_${code}`, message, { retryable, hint, cause: err, details });
  const what = `${ctx.api} ${ctx.action} for ${where(ctx)}`;

  switch (grpc) {
    case 8:
      return make(
        'RATE_LIMITED',
        `${what} hit a quota or rate limit (${http ?? 429} RESOURCE_EXHAUSTED): ${serverMessage}`,
        true,
        'retried with backoff; if it persists, raise the API quota in the Google Cloud console or run fewer loops at once',
      );
    case 14:
    case 4:
    case 13:
    case 2:
      return make(
        'UNAVAILABLE',
        `${what} failed transiently (${status}${http ? `, HTTP ${http}` : ''}): ${serverMessage}`,
        true,
        'retried with backoff; check https://status.cloud.google.com if it persists',
      );
    case 10:
      return make(
        'ABORTED',
        `${what} conflicted with a concurrent change (ABORTED): ${serverMessage}`,
        true,
        'retried: someone or something else changed the resource at the same time',
      );
    case 7: {
      const actAs = /actAs|serviceAccountUser/i.test(serverMessage) || info.permission === 'iam.serviceAccounts.actAs';
      const hint =
        ctx.api === 'Cloud Logging'
          ? `grant the worker's service account roles/logging.viewer on project "${ctx.project}"`
          : actAs
            ? `grant the worker's service account roles/iam.serviceAccountUser on the runtime service account of "${ctx.service ?? 'the service'}" (deploying a revision acts as that account)`
            : `grant the worker's service account roles/run.developer on project "${ctx.project}" (or on service "${ctx.service ?? '?'}"), plus roles/iam.serviceAccountUser on the service's runtime service account`;
      return make(
        'PERMISSION_DENIED',
        `${what} was denied (${http ?? 403} PERMISSION_DENIED${info.permission ? `, missing ${info.permission}` : ''}): ${serverMessage}`,
        false,
        hint,
      );
    }
    case 16:
      return make(
        'UNAUTHENTICATED',
        `${what} had no valid credentials (${http ?? 401} UNAUTHENTICATED): ${serverMessage}`,
        false,
        'greenloop uses Application Default Credentials: set GOOGLE_APPLICATION_CREDENTIALS, run `gcloud auth application-default login`, or run the worker with a service account (workload identity)',
      );
    case 5:
      return make(
        'NOT_FOUND',
        `${what}: not found (${http ?? 404} NOT_FOUND): ${serverMessage}`,
        false,
        ctx.api === 'Cloud Run'
          ? `check deploy.project ("${ctx.project}"), deploy.region ("${ctx.region ?? '?'}") and deploy.service ("${ctx.service ?? '?'}") in greenloop.yaml; greenloop redeploys an existing service, create it once with gcloud run deploy`
          : `check logs.project ("${ctx.project}") in greenloop.yaml`,
      );
    case 3:
    case 11: {
      const fields = info.fields.map((f) => (f.description ? `${f.field} (${f.description})` : f.field)).join('; ');
      const hint =
        info.fields.some((f) => /image/i.test(f.field)) || /image/i.test(serverMessage)
          ? 'check deploy.image: it must render to a pushed image reference'
          : 'check the named field in greenloop.yaml or on the Cloud Run service';
      return make(
        'INVALID_ARGUMENT',
        `${what} was rejected as invalid${fields ? ` in field ${fields}` : ''} (${http ?? 400} INVALID_ARGUMENT): ${serverMessage}`,
        false,
        hint,
      );
    }
    case 9:
      return make(
        'FAILED_PRECONDITION',
        `${what} failed a precondition (FAILED_PRECONDITION): ${serverMessage}`,
        false,
        'the service is not in a state that allows this change; see the message',
      );
    case 6:
      return make(
        'ALREADY_EXISTS',
        `${what}: already exists (${http ?? 409} ALREADY_EXISTS): ${serverMessage}`,
        false,
        'a revision with this name exists already; greenloop reuses its own revisions, so another deploy used the same name',
      );
    case 1:
      return make('CANCELLED', `${what} was cancelled`, false, 'the loop was cancelled');
    default:
      return make(
        'API_ERROR',
        `${what} failed${status ? ` (${status})` : ''}: ${serverMessage}`,
        grpc === undefined,
        'see the message; errors without a Google status are retried',
      );
  }
}

/** The delay before retry number `attempt` (1-based): the server's RetryInfo if any, else capped exponential backoff with jitter. */
function backoffMs(attempt: number, policy: RetryPolicy, err: GreenloopError): number {
  const asked = err.details?.retryAfterMs;
  if (typeof asked === 'number' && asked > 0) return Math.min(asked, policy.maxDelayMs);
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(exp / 2 + (Math.random() * exp) / 2);
}

/**
 * Runs one Google API call, retrying retryable errors with backoff up to `policy.attempts` times;
 * throws the classified GreenloopError (still retryable, so the queue backs off further) when they run out.
 */
export async function withGoogleRetry<T>(
  call: () => Promise<T>,
  ctx: GoogleErrorContext,
  opts: { retry?: RetryPolicy; signal?: AbortSignal; log?: Logger; beforeAttempt?: () => Promise<void> } = {},
): Promise<T> {
  const policy = opts.retry ?? DEFAULT_RETRY;
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(opts.signal, ctx);
    await opts.beforeAttempt?.();
    try {
      return await call();
    } catch (err) {
      throwIfAborted(opts.signal, ctx);
      const classified = classifyGoogleError(err, ctx);
      if (!classified.retryable || attempt >= policy.attempts) throw classified;
      const wait = backoffMs(attempt, policy, classified);
      opts.log?.warn({ code: classified.code, attempt, waitMs: wait }, `${ctx.api} ${ctx.action}: retrying after ${classified.code}`);
      await sleep(wait, opts.signal, ctx);
    }
  }
}

function cancelled(ctx: { api: string; action: string }): GreenloopError {
  return new GreenloopError(ctx.api === 'Cloud Logging' ? 'LOGS_CANCELLED' : 'DEPLOY_CANCELLED', `${ctx.api} ${ctx.action} was cancelled`, {
    retryable: false,
  });
}

function throwIfAborted(signal: AbortSignal | undefined, ctx: { api: string; action: string }): void {
  if (signal?.aborted) throw cancelled(ctx);
}

/** Sleeps, or throws a non-retryable *_CANCELLED error as soon as `signal` aborts. */
export async function sleep(ms: number, signal: AbortSignal | undefined, ctx: { api: string; action: string }): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
  } catch {
    throw cancelled(ctx);
  }
}

// ---- names -------------------------------------------------------------------------------------------

const MAX_REVISION_NAME = 63;

/**
 * The revision greenloop creates for (loop, cycle, commit): `<service>-<short sha>-<suffix>`, lowercase,
 * at most 63 characters. The suffix is derived from loop id + cycle, so a retried deploy computes the same
 * name and finds its own revision instead of creating a second one.
 */
export function revisionName(service: string, commit: string, loopId: string, cycle: number): string {
  const sha = commit.toLowerCase().replace(/[^a-z0-9]/g, '');
  const suffix = createHash('sha256').update(`${loopId}/${cycle}`).digest('hex');
  let shaLen = 7;
  let sufLen = 8;
  while (service.length + 2 + shaLen + sufLen > MAX_REVISION_NAME && (shaLen > 4 || sufLen > 4)) {
    if (sufLen >= shaLen && sufLen > 4) sufLen--;
    else shaLen--;
  }
  const name = `${service}-${sha.slice(0, shaLen)}-${suffix.slice(0, sufLen)}`;
  if (name.length > MAX_REVISION_NAME) {
    throw new GreenloopError('CLOUD_RUN_NAME_TOO_LONG', `Cloud Run service name "${service}" is too long to name revisions after it (max 49 characters)`);
  }
  return name;
}

/** The traffic tag a candidate revision gets (its URL is `https://<tag>---<service>-….run.app`). */
export function candidateTag(cycle: number): string {
  return `gl-c${cycle}`;
}

/** Tags of fixes' candidates (fixer.proveOnDeploy) start with this; see fixCandidateTag in fix/prove-on-deploy.ts. */
export const FIX_TAG_PREFIX = 'gl-f';

/** `projects/p/locations/r/services/s/revisions/x` → `x`. */
export function shortName(name: string | null | undefined): string {
  if (!name) return '';
  const i = name.lastIndexOf('/');
  return i === -1 ? name : name.slice(i + 1);
}

function serviceResource(t: CloudRunTarget): string {
  return `projects/${t.project}/locations/${t.region}/services/${t.service}`;
}

// ---- normalized state --------------------------------------------------------------------------------

/** A Cloud Run condition with enum values as names, whether the API gave names (unary REST) or numbers (operation results, gRPC). */
export interface NormalizedCondition {
  type: string;
  state: string;
  message?: string;
  reason?: string;
  revisionReason?: string;
  severity?: string;
  lastTransitionTime?: string;
}

export interface TrafficView {
  type: 'LATEST' | 'REVISION' | 'UNSPECIFIED';
  revision?: string;
  percent: number;
  tag?: string;
  uri?: string;
}

/** What greenloop reads from a Cloud Run service; revision names are short names. */
export interface CloudRunServiceState {
  name: string;
  uri: string;
  reconciling: boolean;
  latestReadyRevision: string;
  latestCreatedRevision: string;
  templateRevision: string;
  terminalCondition?: NormalizedCondition;
  conditions: NormalizedCondition[];
  traffic: TrafficView[];
  trafficStatuses: TrafficView[];
  raw: IService;
}

export interface CloudRunRevisionState {
  name: string;
  conditions: NormalizedCondition[];
  logUri?: string;
  image?: string;
  reconciling: boolean;
}

function enumName(table: Record<number, string>, value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number') return table[value] ?? String(value);
  return String(value);
}

function isoTime(t: ITimestamp | null | undefined): string | undefined {
  if (!t) return undefined;
  const ms = Number(t.seconds ?? 0) * 1000 + Number(t.nanos ?? 0) / 1e6;
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : undefined;
}

/** Normalizes a condition; unset and "unspecified" enum values are left out. */
export function normalizeCondition(c: ICondition): NormalizedCondition {
  const C = V2.Condition;
  const keep = (v: string | undefined) => (v && !/_(UNSPECIFIED|UNDEFINED)$/.test(v) ? v : undefined);
  const out: NormalizedCondition = { type: c.type ?? '', state: enumName(C.State, c.state) ?? 'STATE_UNSPECIFIED' };
  const reason = keep(enumName(C.CommonReason, c.reason));
  const revisionReason = keep(enumName(C.RevisionReason, c.revisionReason));
  const severity = keep(enumName(C.Severity, c.severity));
  const at = isoTime(c.lastTransitionTime);
  if (c.message) out.message = c.message;
  if (reason) out.reason = reason;
  if (revisionReason) out.revisionReason = revisionReason;
  if (severity) out.severity = severity;
  if (at) out.lastTransitionTime = at;
  return out;
}

function trafficView(t: { type?: unknown; revision?: string | null; percent?: number | null; tag?: string | null; uri?: string | null }): TrafficView {
  const name = enumName(V2.TrafficTargetAllocationType, t.type) ?? '';
  const type = name.endsWith('LATEST') ? 'LATEST' : name.endsWith('REVISION') ? 'REVISION' : 'UNSPECIFIED';
  const v: TrafficView = { type, percent: t.percent ?? 0 };
  if (t.revision) v.revision = shortName(t.revision);
  if (t.tag) v.tag = t.tag;
  if (t.uri) v.uri = t.uri;
  return v;
}

/** Normalizes a service from a unary call (enum names) or an operation result (enum numbers). */
export function normalizeService(s: IService): CloudRunServiceState {
  const state: CloudRunServiceState = {
    name: s.name ?? '',
    uri: s.uri ?? '',
    reconciling: Boolean(s.reconciling),
    latestReadyRevision: shortName(s.latestReadyRevision),
    latestCreatedRevision: shortName(s.latestCreatedRevision),
    templateRevision: shortName(s.template?.revision),
    conditions: (s.conditions ?? []).map(normalizeCondition),
    traffic: (s.traffic ?? []).map(trafficView),
    trafficStatuses: (s.trafficStatuses ?? []).map(trafficView),
    raw: s,
  };
  if (s.terminalCondition) state.terminalCondition = normalizeCondition(s.terminalCondition);
  return state;
}

function normalizeRevision(r: IRevision): CloudRunRevisionState {
  const out: CloudRunRevisionState = { name: shortName(r.name), conditions: (r.conditions ?? []).map(normalizeCondition), reconciling: Boolean(r.reconciling) };
  if (r.logUri) out.logUri = r.logUri;
  const image = r.containers?.[0]?.image;
  if (image) out.image = image;
  return out;
}

const SUCCEEDED = 'CONDITION_SUCCEEDED';
const FAILED = 'CONDITION_FAILED';

// ---- API wrapper -------------------------------------------------------------------------------------

export interface CloudRunApiOptions {
  clientOptions?: GoogleClientOptions;
  retry?: RetryPolicy;
  /** How often to poll operations and services while waiting (default 2s). */
  pollIntervalMs?: number;
  log?: Logger;
}

interface CallCtx {
  signal?: AbortSignal;
}

/**
 * The Cloud Run Admin API v2 calls greenloop makes, with retries, classified errors and normalized
 * results. One instance holds one `ServicesClient` and one `RevisionsClient`; `close()` releases them.
 */
export class CloudRunApi {
  readonly services: ServicesClient;
  readonly revisions: RevisionsClient;
  readonly retry: RetryPolicy;
  readonly pollIntervalMs: number;
  readonly log: Logger | undefined;

  constructor(opts: CloudRunApiOptions = {}) {
    this.services = new ServicesClient(googleClientOptions(opts.clientOptions));
    this.revisions = new RevisionsClient(googleClientOptions(opts.clientOptions));
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.pollIntervalMs = opts.pollIntervalMs ?? 2000;
    this.log = opts.log;
  }

  private ctx(t: CloudRunTarget, action: string, revision?: string): GoogleErrorContext {
    return { api: 'Cloud Run', action, project: t.project, region: t.region, service: t.service, ...(revision ? { revision } : {}) };
  }

  // gax's own retries are switched off (`retry: null`) so that every retry goes through one policy with
  // classified errors, and the abort signal reaches the HTTP request.
  private gax(c: CallCtx) {
    return { retry: null, ...(c.signal ? { signal: c.signal } : {}) };
  }

  private opts(c: CallCtx) {
    return { retry: this.retry, ...(c.signal ? { signal: c.signal } : {}), ...(this.log ? { log: this.log } : {}) };
  }

  async getServiceRaw(t: CloudRunTarget, c: CallCtx = {}): Promise<IService> {
    const [svc] = await withGoogleRetry(() => this.services.getService({ name: serviceResource(t) }, this.gax(c)), this.ctx(t, 'get service'), this.opts(c));
    return svc;
  }

  async getService(t: CloudRunTarget, c: CallCtx = {}): Promise<CloudRunServiceState> {
    return normalizeService(await this.getServiceRaw(t, c));
  }

  /** The revision, or undefined when it does not exist. */
  async getRevision(t: CloudRunTarget, revision: string, c: CallCtx = {}): Promise<CloudRunRevisionState | undefined> {
    const name = `${serviceResource(t)}/revisions/${revision}`;
    try {
      const [rev] = await withGoogleRetry(() => this.revisions.getRevision({ name }, this.gax(c)), this.ctx(t, 'get revision', revision), this.opts(c));
      return normalizeRevision(rev);
    } catch (err) {
      if (err instanceof GreenloopError && err.code === 'CLOUD_RUN_NOT_FOUND') return undefined;
      throw err;
    }
  }

  /**
   * Sends the whole service back with changes (PATCH) and follows the long-running operation until it is
   * done or `deadline` passes. An operation that ends in an error (a revision that never became ready
   * ends in FAILED_PRECONDITION) is returned, not thrown: the caller reads the service to decide.
   */
  async update(
    t: CloudRunTarget,
    service: IService,
    opts: CallCtx & { deadline: number; progress?: (m: string) => void },
  ): Promise<{ operation: string; done: boolean; error?: { code: number; message: string }; result?: CloudRunServiceState }> {
    const ctx = this.ctx(t, 'update service');
    const [op] = await withGoogleRetry(() => this.services.updateService({ service }, this.gax(opts)), ctx, this.opts(opts));
    const operation = op.name ?? '';
    const started = Date.now();
    let failures = 0;
    while (!op.latestResponse?.done) {
      if (Date.now() >= opts.deadline) return { operation, done: false };
      await sleep(this.pollIntervalMs, opts.signal, ctx);
      opts.progress?.(`waiting for Cloud Run to roll out ${t.service} (${Math.round((Date.now() - started) / 1000)}s)`);
      try {
        await op.getOperation();
      } catch (err) {
        if (op.latestResponse?.done) break;
        throwIfAborted(opts.signal, ctx);
        const classified = classifyGoogleError(err, { ...ctx, action: 'get operation' });
        failures++;
        if (!classified.retryable || failures >= this.retry.attempts) throw classified;
      }
    }
    const res = op.latestResponse;
    if (res?.error) return { operation, done: true, error: { code: res.error.code ?? 2, message: res.error.message ?? '' } };
    const result = op.result as IService | null;
    return { operation, done: true, ...(result ? { result: normalizeService(result) } : {}) };
  }

  /** Deletes a revision and waits for the operation (up to `deadline`); a revision already gone is fine. */
  async deleteRevision(t: CloudRunTarget, revision: string, opts: CallCtx & { deadline: number }): Promise<void> {
    const name = `${serviceResource(t)}/revisions/${revision}`;
    const ctx = this.ctx(t, 'delete revision', revision);
    const started = await withGoogleRetry(() => this.revisions.deleteRevision({ name }, this.gax(opts)), ctx, this.opts(opts)).catch((err: unknown) => {
      if (err instanceof GreenloopError && err.code === 'CLOUD_RUN_NOT_FOUND') return undefined;
      throw err;
    });
    if (!started) return;
    const [op] = started;
    while (!op.latestResponse?.done) {
      if (Date.now() >= opts.deadline) throw new GreenloopError('CLOUD_RUN_TIMEOUT', `deleting revision ${revision} of ${t.service} did not finish in time`);
      await sleep(this.pollIntervalMs, opts.signal, ctx);
      await op.getOperation();
    }
    const error = op.latestResponse?.error;
    if (error) throw new GreenloopError('CLOUD_RUN_DELETE_FAILED', `deleting revision ${revision} of ${t.service} failed: ${error.message ?? error.code}`);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.services.close(), this.revisions.close()]);
  }
}

// ---- readiness ---------------------------------------------------------------------------------------

export interface ReadinessOptions {
  /** The revision that must become ready; undefined = whatever the latest created revision is (command deploys). */
  revision?: string;
  /** The revision traffic should stay on (or be restored to) if ours fails. */
  previous?: string;
  /** Candidate mode: the tag whose URL tests use. */
  tag?: string;
  /** Absolute time (ms) after which a revision still not ready counts as never ready. */
  deadline: number;
  /** The operation's error, if it ended in one (evidence for DEPLOY_NOT_READY). */
  operationError?: { code: number; message: string };
  signal?: AbortSignal;
  progress?: (message: string) => void;
}

export interface ReadyService {
  state: CloudRunServiceState;
  revision: string;
  /** The URL tests should use: the tag URL for candidates, else the service URL. */
  url: string;
  logUri?: string;
}

function settled(s: CloudRunServiceState, revision: string | undefined, tag: string | undefined): boolean {
  if (s.reconciling) return false;
  if (revision !== undefined && s.latestCreatedRevision !== revision) return false;
  if (tag && s.terminalCondition?.state === SUCCEEDED && !s.trafficStatuses.some((t) => t.tag === tag && t.uri)) return false;
  return true;
}

/**
 * Proves a Cloud Run revision is ready: polls the service until it is no longer reconciling and then
 * requires the terminal condition to have succeeded with `latestReadyRevision == latestCreatedRevision ==`
 * the revision. Otherwise it gathers the revision's conditions, messages and log URI, makes sure traffic
 * stays on (or goes back to) the previous ready revision, and throws a non-retryable DEPLOY_NOT_READY.
 * Shared by the cloud-run and command providers.
 */
export async function proveRevisionReady(api: CloudRunApi, t: CloudRunTarget, o: ReadinessOptions): Promise<ReadyService> {
  const ctx = { api: 'Cloud Run', action: `wait for ${t.service}` };
  const started = Date.now();
  let state = await api.getService(t, o);
  let timedOut = false;
  while (!settled(state, o.revision, o.tag)) {
    if (!state.reconciling && o.revision !== undefined && state.latestCreatedRevision !== o.revision && state.latestCreatedRevision) {
      // Not reconciling and someone else's revision is the latest: if ours exists, we were superseded.
      if (await api.getRevision(t, o.revision, o)) {
        throw new GreenloopError(
          'DEPLOY_SUPERSEDED',
          `Cloud Run service ${t.service} moved on to revision ${state.latestCreatedRevision} while greenloop was deploying ${o.revision}`,
          {
            retryable: false,
            hint: 'another deploy changed the service at the same time; greenloop does not override it. Rerun the loop when the other deploy is done',
            details: { revision: o.revision, latestCreatedRevision: state.latestCreatedRevision },
          },
        );
      }
    }
    if (Date.now() >= o.deadline) {
      timedOut = true;
      break;
    }
    o.progress?.(
      `waiting for revision ${o.revision ?? state.latestCreatedRevision} of ${t.service} to be ready (${Math.round((Date.now() - started) / 1000)}s)`,
    );
    await sleep(api.pollIntervalMs, o.signal, ctx);
    state = await api.getService(t, o);
  }
  const revision = o.revision ?? state.latestCreatedRevision;
  const ok =
    !timedOut &&
    state.terminalCondition?.state === SUCCEEDED &&
    state.latestReadyRevision === revision &&
    state.latestCreatedRevision === revision &&
    (!o.tag || state.trafficStatuses.some((s) => s.tag === o.tag && s.uri));
  if (ok) {
    const rev = await api.getRevision(t, revision, o);
    const tagged = o.tag ? state.trafficStatuses.find((s) => s.tag === o.tag)?.uri : undefined;
    return { state, revision, url: tagged ?? state.uri, ...(rev?.logUri ? { logUri: rev.logUri } : {}) };
  }
  throw await notReady(api, t, state, revision, o, timedOut);
}

async function notReady(
  api: CloudRunApi,
  t: CloudRunTarget,
  state: CloudRunServiceState,
  revision: string,
  o: ReadinessOptions,
  timedOut: boolean,
): Promise<GreenloopError> {
  const rev = revision ? await api.getRevision(t, revision, o).catch(() => undefined) : undefined;
  const previous = o.previous && o.previous !== revision ? o.previous : state.latestReadyRevision !== revision ? state.latestReadyRevision : undefined;
  const traffic = await keepTrafficOff(api, t, state, revision, previous, o);
  const failed = [...(rev?.conditions ?? []), ...(state.terminalCondition ? [state.terminalCondition] : []), ...state.conditions].find(
    (c) => c.state === FAILED && c.message,
  );
  const why = timedOut
    ? `was not ready before deploy.readyTimeout (still ${state.reconciling ? 'reconciling' : 'not the latest ready revision'})`
    : `did not become ready: ${failed?.message ?? o.operationError?.message ?? `terminal condition ${state.terminalCondition?.state ?? 'missing'}`}`;
  const trafficNote = traffic.restoredTo
    ? `traffic was moved back to ${traffic.restoredTo}`
    : traffic.servingRevision
      ? `traffic stays on ${traffic.servingRevision}`
      : 'no previous ready revision to keep traffic on';
  return new GreenloopError('DEPLOY_NOT_READY', `Cloud Run revision ${revision || '(none)'} of ${t.service} ${why}`, {
    retryable: false,
    hint: `${trafficNote}; ${rev?.logUri ? `read the revision's logs at ${rev.logUri}` : 'read the revision logs in the Cloud Run console'}${timedOut ? ', or raise deploy.readyTimeout' : ''}`,
    details: {
      project: t.project,
      region: t.region,
      service: t.service,
      revision,
      previousRevision: previous,
      timedOut,
      reconciling: state.reconciling,
      latestReadyRevision: state.latestReadyRevision,
      latestCreatedRevision: state.latestCreatedRevision,
      terminalCondition: state.terminalCondition,
      serviceConditions: state.conditions,
      revisionConditions: rev?.conditions ?? [],
      messages: [
        ...new Set(
          [...(rev?.conditions ?? []), ...(state.terminalCondition ? [state.terminalCondition] : []), ...state.conditions]
            .map((c) => c.message)
            .filter((m): m is string => Boolean(m)),
        ),
      ],
      ...(o.operationError ? { operationError: o.operationError } : {}),
      ...(rev?.logUri ? { logUri: rev.logUri } : {}),
      traffic: traffic.statuses,
      ...(traffic.restoredTo ? { trafficRestoredTo: traffic.restoredTo } : {}),
    },
  });
}

/** Makes sure no traffic reaches a revision that failed; routes 100% to `previous` if some did. */
async function keepTrafficOff(
  api: CloudRunApi,
  t: CloudRunTarget,
  state: CloudRunServiceState,
  revision: string,
  previous: string | undefined,
  o: ReadinessOptions,
): Promise<{ statuses: TrafficView[]; restoredTo?: string; servingRevision?: string }> {
  const onOurs = state.trafficStatuses.some((s) => s.revision === revision && s.percent > 0);
  const serving = state.trafficStatuses.find((s) => s.percent > 0 && s.revision)?.revision;
  if (!onOurs || !previous || !revision) return { statuses: state.trafficStatuses, ...(serving ? { servingRevision: serving } : {}) };
  api.log?.warn({ service: t.service, revision, previous }, 'failed revision receives traffic; routing it back to the previous revision');
  const raw = await api.getServiceRaw(t, o);
  const body: IService = { ...raw, traffic: [revisionTarget(previous, 100), ...keptTags(raw, [revision])] };
  const res = await api.update(t, body, { ...o, deadline: Date.now() + 120_000 });
  const after = res.result ?? (await api.getService(t, o));
  return { statuses: after.trafficStatuses, restoredTo: previous };
}

function revisionTarget(revision: string, percent: number, tag?: string): ITrafficTarget {
  return { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision, percent, ...(tag ? { tag } : {}) };
}

/**
 * Tagged 0% targets worth keeping: people's own tags (not greenloop's candidate tags), not pointing at `drop`.
 * A fix's candidate also keeps the other fixes' candidate tags: they may be under test right now.
 */
function keptTags(raw: IService, drop: string[], keepFixTags = false): ITrafficTarget[] {
  const keep = (tag: string) => !tag.startsWith('gl-') || (keepFixTags && tag.startsWith(FIX_TAG_PREFIX));
  return (raw.traffic ?? [])
    .map(trafficView)
    .filter((v) => v.tag && keep(v.tag) && v.type === 'REVISION' && v.revision && !drop.includes(v.revision))
    .map((v) => revisionTarget(v.revision ?? '', 0, v.tag));
}

/** Traffic for a normal deploy: all of it to the latest ready revision (ours, once ready). */
function latestTraffic(raw: IService): ITrafficTarget[] {
  return [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 100 }, ...keptTags(raw, [])];
}

/**
 * Traffic for a candidate: the current split pinned to concrete revisions (a LATEST target would hand the
 * candidate all traffic), plus the candidate at 0% under its tag.
 */
function candidateTraffic(raw: IService, state: CloudRunServiceState, revision: string, tag: string): ITrafficTarget[] {
  const split = new Map<string, number>();
  for (const v of state.traffic) {
    if (v.percent <= 0) continue;
    const rev = v.type === 'LATEST' ? state.latestReadyRevision : v.revision;
    if (rev && rev !== revision) split.set(rev, (split.get(rev) ?? 0) + v.percent);
  }
  const pinned = [...split].map(([rev, pct]) => revisionTarget(rev, pct));
  const current = pinned.length ? pinned : [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST' as const, percent: 100 }];
  return [...current, ...keptTags(raw, [revision], tag.startsWith(FIX_TAG_PREFIX)), revisionTarget(revision, 0, tag)];
}

/**
 * The template with greenloop's image and `env` on the container it deploys: the one serving the port (the
 * ingress container), else the first. The container's other variables (secrets by reference included) stay.
 */
function withImage(raw: IService, image: string, env: Readonly<Record<string, string>> = {}): IService['template'] {
  const template = raw.template ?? {};
  const containers = [...(template.containers ?? [])];
  const i = Math.max(
    0,
    containers.findIndex((c) => (c.ports ?? []).length > 0),
  );
  const current = containers[i] ?? {};
  const names = new Set(Object.keys(env));
  const merged = [...(current.env ?? []).filter((e) => !names.has(e.name ?? '')), ...Object.entries(env).map(([name, value]) => ({ name, value }))];
  containers[i] = { ...current, image, ...(merged.length > 0 ? { env: merged } : {}) };
  return { ...template, containers };
}

// ---- commands (build / deploy argv) ------------------------------------------------------------------

/** The last `n` lines of a file (for error messages), or '' if it cannot be read. */
export function tailLines(file: string, n = 20): string {
  try {
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    return lines.slice(-n).join('\n');
  } catch {
    return '';
  }
}

export interface StepOptions {
  /** e.g. "build" or "deploy"; names the output files and the error. */
  step: string;
  argv: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string>>;
  timeoutMs: number;
  /** Directory for `<step>.stdout.log` / `<step>.stderr.log`. */
  dir: string;
  signal?: AbortSignal;
  progress?: (message: string) => void;
  /** Error code for a non-zero exit, e.g. DEPLOY_BUILD_FAILED. */
  failCode: string;
  outputLimit?: number;
  /** Records the command's process group for the deploy attempt (ended by a retry after a crash). */
  processes?: ProcessRecorder;
  /** Run in the sandbox (network host, `cwd` and `writable` writable, the credentials of step-sandbox.ts readable). */
  sandbox?: SandboxSettings;
  writable?: readonly string[];
}

/**
 * Runs a team-provided build or deploy argv with runCommand (own process group, timeout, capped output
 * kept under the cycle directory). A non-zero exit, a timeout or a cancel is a non-retryable error with
 * the exit code and the last lines of output.
 */
export async function runStep(
  o: StepOptions,
): Promise<{ stdoutFile: string; stderrFile: string; durationMs: number; sandboxed: boolean; sandboxNote?: string }> {
  mkdirSync(o.dir, { recursive: true });
  const stdoutFile = join(o.dir, `${o.step}.stdout.log`);
  const stderrFile = join(o.dir, `${o.step}.stderr.log`);
  o.progress?.(`running ${o.step}: ${o.argv.join(' ')}`);
  const tracked = o.processes?.track(o.step === 'build' ? 'build' : 'deploy-command', { tagged: false });
  const env = { ...o.env, ...o.processes?.env() };
  const sandbox = o.sandbox
    ? ({ settings: o.sandbox, kind: 'deploy', network: 'host', writable: [o.cwd, ...(o.writable ?? [])], readable: deployCredentialPaths(env) } as const)
    : undefined;
  const res = await runCommand({
    argv: o.argv,
    cwd: o.cwd,
    env,
    ...(sandbox ? { sandbox } : {}),
    timeoutMs: o.timeoutMs,
    stdoutFile,
    stderrFile,
    ...(o.outputLimit ? { outputLimit: o.outputLimit } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(tracked ? { onSpawn: tracked.onSpawn } : {}),
  });
  await tracked?.release();
  if (res.sandboxWarning) o.progress?.(`warning: ${res.sandboxWarning}`);
  const output = () => [tailLines(stderrFile), tailLines(stdoutFile)].filter(Boolean).join('\n---\n');
  const details = { argv: [...o.argv], exitCode: res.exitCode, signal: res.signal, durationMs: res.durationMs, stdoutFile, stderrFile };
  if (res.cancelled) throw new GreenloopError('DEPLOY_CANCELLED', `${o.step} command was cancelled`, { details });
  if (res.timedOut) {
    throw new GreenloopError(o.failCode.replace(/_FAILED$/, '_TIMEOUT'), `${o.step} command did not finish within ${Math.round(o.timeoutMs / 1000)}s`, {
      hint: `raise the ${o.step} timeout in greenloop.yaml, or see ${stderrFile}`,
      details: { ...details, output: output() },
    });
  }
  if (res.exitCode !== 0) {
    const last = output();
    throw new GreenloopError(o.failCode, `${o.step} command exited with ${res.exitCode ?? res.signal}${last ? `; last output:\n${last}` : ''}`, {
      hint: `fix the ${o.step} command or its inputs; full output in ${stdoutFile} and ${stderrFile}`,
      details: { ...details, output: last },
    });
  }
  const note = res.sandboxed ? {} : { sandboxNote: res.sandboxWarning ?? (o.sandbox ? 'sandbox: off in greenloop.yaml' : 'not sandboxed by its caller') };
  return { stdoutFile, stderrFile, durationMs: res.durationMs, sandboxed: res.sandboxed, ...note };
}

// ---- the provider ------------------------------------------------------------------------------------

export interface CloudRunProviderOptions extends CloudRunApiOptions {
  /** Base environment of build commands (an allow-list built by the composition root: PATH, HOME, CLOUDSDK_CONFIG…). */
  env?: Readonly<Record<string, string>>;
  /** Max bytes of build output kept per stream. */
  outputLimit?: number;
  /** Use this API wrapper instead of creating one (shared clients). */
  api?: CloudRunApi;
}

/**
 * Deploys a service as a new Cloud Run revision through the Cloud Run Admin API v2: optional build
 * command, then getService → updateService with the new image and a unique revision name → wait for the
 * operation → prove the revision ready. Idempotent per (loop, cycle, commit): a retry finds its revision
 * and waits for it instead of creating another. In candidate mode the revision gets 0% traffic under a
 * tag and `promote()` / `promoteCandidate()` shifts traffic once the suite is green.
 */
export class CloudRunProvider implements DeployProvider {
  readonly api: CloudRunApi;
  readonly env: Readonly<Record<string, string>>;
  readonly outputLimit: number | undefined;
  private readonly ownsApi: boolean;

  constructor(opts: CloudRunProviderOptions = {}) {
    this.api = opts.api ?? new CloudRunApi(opts);
    this.ownsApi = !opts.api;
    this.env = opts.env ?? {};
    this.outputLimit = opts.outputLimit;
  }

  async deploy(req: DeployRequest): Promise<DeployedService> {
    const cfg = req.service.deploy;
    if (cfg.provider !== 'cloud-run') throw new GreenloopError('DEPLOY_PROVIDER_MISMATCH', `service ${req.service.name} is not a cloud-run service`);
    const t: CloudRunTarget = { project: cfg.project, region: cfg.region, service: cfg.service };
    const values = deployValues(req);
    const image = renderString(cfg.image, values);
    const env = Object.fromEntries(Object.entries(cfg.env).map(([k, v]) => [k, renderString(v, values)]));
    const revision = revisionName(cfg.service, req.commit, req.loopId, req.cycle);
    const tag = req.candidateTag ?? (cfg.candidate ? candidateTag(req.cycle) : undefined);
    const deadline = Date.now() + cfg.readyTimeout;
    const call = { signal: req.signal };

    let state = await this.api.getService(t, call);
    const reused = state.latestCreatedRevision === revision || state.templateRevision === revision;
    const previous = previousRevision(state, revision) ?? req.previous?.revision;
    let operationError: { code: number; message: string } | undefined;
    let built: { sandboxed: boolean; sandboxNote?: string } | undefined;

    if (reused) {
      req.log.info({ revision }, 'revision for this loop, cycle and commit exists already; waiting for it instead of deploying again');
      req.progress(`revision ${revision} exists already (retried deploy); waiting for it`);
    } else {
      if (cfg.build) {
        built = await this.build(req, cfg, image);
        state = await this.api.getService(t, call);
      }
      const raw = state.raw;
      const body: IService = {
        ...raw,
        template: { ...withImage(raw, image, env), revision },
        traffic: tag ? candidateTraffic(raw, state, revision, tag) : latestTraffic(raw),
      };
      req.progress(`deploying ${image} to Cloud Run service ${cfg.service} as revision ${revision}${tag ? ` (candidate, tag ${tag})` : ''}`);
      try {
        const res = await this.api.update(t, body, { signal: req.signal, deadline, progress: req.progress });
        operationError = res.error;
      } catch (err) {
        if (!(err instanceof GreenloopError && err.code === 'CLOUD_RUN_ALREADY_EXISTS')) throw err;
        // Our revision name is taken: a concurrent attempt of this same deploy created it (fine, wait for
        // it) — or it was created earlier and the service has moved on since (DEPLOY_SUPERSEDED below).
        req.log.info({ revision }, 'revision exists already (409); waiting for it');
      }
    }

    const ready = await proveRevisionReady(this.api, t, {
      revision,
      ...(previous ? { previous } : {}),
      ...(tag ? { tag } : {}),
      deadline,
      ...(operationError ? { operationError } : {}),
      signal: req.signal,
      progress: req.progress,
    });
    return {
      service: req.service.name,
      provider: 'cloud-run',
      url: ready.url,
      revision,
      readyAt: new Date().toISOString(),
      details: {
        project: cfg.project,
        region: cfg.region,
        cloudRunService: cfg.service,
        image,
        serviceUrl: ready.state.uri,
        previousRevision: previous,
        candidate: cfg.candidate || req.candidateTag !== undefined,
        ...(req.candidateTag ? { fixCandidate: true } : {}),
        ...(tag ? { tag, tagUrl: ready.url } : {}),
        ...(ready.logUri ? { logUri: ready.logUri } : {}),
        reusedRevision: reused,
      },
      // Whether the build command (code from the branch, run on this host) was sandboxed.
      ...(built ? { sandboxed: built.sandboxed, ...(built.sandboxNote ? { sandboxNote: built.sandboxNote } : {}) } : {}),
    };
  }

  private async build(req: DeployRequest, cfg: CloudRunDeployConfig, image: string): Promise<{ sandboxed: boolean; sandboxNote?: string }> {
    const argv = renderArgv(cfg.build ?? [], {
      ...deployValues(req),
      image,
      artifacts: req.cycleDir,
      worktree: req.worktree,
    });
    const ran = await runStep({
      step: 'build',
      argv,
      cwd: req.worktree,
      env: this.env,
      timeoutMs: cfg.buildTimeout,
      dir: join(req.cycleDir, 'deploy', req.service.name),
      signal: req.signal,
      progress: req.progress,
      failCode: 'DEPLOY_BUILD_FAILED',
      ...(this.outputLimit ? { outputLimit: this.outputLimit } : {}),
      ...(req.processes ? { processes: req.processes } : {}),
      ...(req.sandbox ? { sandbox: req.sandbox, writable: [req.cycleDir] } : {}),
    });
    return { sandboxed: ran.sandboxed, ...(ran.sandboxNote ? { sandboxNote: ran.sandboxNote } : {}) };
  }

  /**
   * Removes a fix's candidate: its tag leaves the traffic split (the rest of the split is kept as it is),
   * then its revision is deleted, so a proof leaves no revision and no URL behind.
   */
  async withdraw(deployed: DeployedService, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    await withdrawCandidate(this.api, deployed, opts);
  }

  /** Fix candidates of a loop left in the service by a worker that died during a proof (see sweepFixCandidates). */
  async sweepFixCandidates(service: ServiceConfig, loop: { id: string; cycles: number }, opts: { signal?: AbortSignal } = {}): Promise<string[]> {
    const cfg = service.deploy;
    if (cfg.provider !== 'cloud-run') return [];
    return await sweepFixCandidates(this.api, { project: cfg.project, region: cfg.region, service: cfg.service }, loop, opts);
  }

  /** Shifts 100% of traffic to a candidate this provider deployed (see promoteCandidate). */
  async promote(deployed: DeployedService, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<DeployedService> {
    return await promoteCandidate(deployed, { ...opts, api: this.api });
  }

  async close(): Promise<void> {
    if (this.ownsApi) await this.api.close();
  }
}

/** The revision traffic is on before our deploy: the one with the most traffic, else the latest ready one. */
function previousRevision(state: CloudRunServiceState, ours: string): string | undefined {
  const serving = [...state.trafficStatuses].filter((s) => s.revision && s.revision !== ours && s.percent > 0).sort((a, b) => b.percent - a.percent)[0];
  if (serving?.revision) return serving.revision;
  return state.latestReadyRevision && state.latestReadyRevision !== ours ? state.latestReadyRevision : undefined;
}

function detailString(d: DeployedService, key: string): string {
  const v = d.details?.[key];
  if (typeof v !== 'string' || !v)
    throw new GreenloopError('PROMOTE_NOT_CANDIDATE', `deploy record of ${d.service} has no ${key}: only cloud-run candidates can be promoted`);
  return v;
}

/**
 * Shifts 100% of a candidate's service traffic to the candidate revision (keeping its tag), waits for the
 * operation, and checks that the traffic status shows it. Call when the suite passed against the tag URL.
 * Returns the deploy record with `url` set to the service URL.
 */
export async function promoteCandidate(
  deployed: DeployedService,
  opts: { api?: CloudRunApi; clientOptions?: GoogleClientOptions; retry?: RetryPolicy; pollIntervalMs?: number; signal?: AbortSignal; timeoutMs?: number },
): Promise<DeployedService> {
  if (deployed.provider !== 'cloud-run')
    throw new GreenloopError('PROMOTE_NOT_CANDIDATE', `${deployed.service} was deployed by ${deployed.provider}, not cloud-run`);
  const t: CloudRunTarget = {
    project: detailString(deployed, 'project'),
    region: detailString(deployed, 'region'),
    service: detailString(deployed, 'cloudRunService'),
  };
  const tag = detailString(deployed, 'tag');
  const api =
    opts.api ??
    new CloudRunApi({
      ...(opts.clientOptions ? { clientOptions: opts.clientOptions } : {}),
      ...(opts.retry ? { retry: opts.retry } : {}),
      ...(opts.pollIntervalMs ? { pollIntervalMs: opts.pollIntervalMs } : {}),
    });
  const call = opts.signal ? { signal: opts.signal } : {};
  try {
    const raw = await api.getServiceRaw(t, call);
    const body: IService = { ...raw, traffic: [revisionTarget(deployed.revision, 100, tag), ...keptTags(raw, [deployed.revision])] };
    const res = await api.update(t, body, { ...call, deadline: Date.now() + (opts.timeoutMs ?? 300_000) });
    if (res.error) {
      throw new GreenloopError('PROMOTE_FAILED', `shifting traffic of ${t.service} to ${deployed.revision} failed: ${res.error.message}`, {
        details: { operationError: res.error },
      });
    }
    const state = await api.getService(t, call);
    const share = state.trafficStatuses.filter((s) => s.revision === deployed.revision).reduce((n, s) => n + s.percent, 0);
    if (share !== 100) {
      throw new GreenloopError('PROMOTE_FAILED', `after promotion ${t.service} sends ${share}% of traffic to ${deployed.revision}, expected 100%`, {
        retryable: true,
        details: { traffic: state.trafficStatuses },
      });
    }
    return { ...deployed, url: state.uri, readyAt: new Date().toISOString(), details: { ...deployed.details, promoted: true, serviceUrl: state.uri } };
  } finally {
    if (!opts.api) await api.close();
  }
}

/**
 * Takes a fix's candidate out of the service: its tag leaves the traffic split (nothing else changes), then
 * the revision is deleted. Safe to call again: a tag or revision already gone is skipped.
 */
export async function withdrawCandidate(api: CloudRunApi, deployed: DeployedService, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
  const t: CloudRunTarget = {
    project: detailString(deployed, 'project'),
    region: detailString(deployed, 'region'),
    service: detailString(deployed, 'cloudRunService'),
  };
  const tag = detailString(deployed, 'tag');
  const deadline = Date.now() + (opts.timeoutMs ?? 300_000);
  const call = opts.signal ? { signal: opts.signal } : {};
  const raw = await api.getServiceRaw(t, call);
  const traffic = raw.traffic ?? [];
  if (traffic.some((x) => x.tag === tag || (x.revision === deployed.revision && (x.percent ?? 0) === 0))) {
    // Sent back as read, except that an empty tag (how the API reads "no tag") is left out.
    const kept = traffic
      .filter((x) => x.tag !== tag && !(x.revision === deployed.revision && (x.percent ?? 0) === 0))
      .map(({ tag: t, ...rest }) => (t ? { ...rest, tag: t } : rest));
    const res = await api.update(t, { ...raw, traffic: kept }, { ...call, deadline });
    if (res.error) throw new GreenloopError('CLOUD_RUN_WITHDRAW_FAILED', `removing tag ${tag} from ${t.service} failed: ${res.error.message}`);
  }
  await api.deleteRevision(t, deployed.revision, { ...call, deadline });
}

/** Whether `revision` is one greenloop named for this loop (revisionName: `<service>-<sha>-<hash of loop/cycle>`), in cycles 1…`cycles`. */
function namedForLoop(revision: string, loopId: string, cycles: number): boolean {
  const suffix = revision.slice(revision.lastIndexOf('-') + 1);
  if (suffix.length < 4) return false;
  for (let n = 1; n <= cycles; n++) if (createHash('sha256').update(`${loopId}/${n}`).digest('hex').startsWith(suffix)) return true;
  return false;
}

/**
 * At the loop's end: fix candidates (tags `gl-f…`) of this loop that are still in the service's traffic
 * (a worker died during a proof) leave it, and their revisions are deleted. Returns the revisions removed.
 */
export async function sweepFixCandidates(
  api: CloudRunApi,
  t: CloudRunTarget,
  loop: { id: string; cycles: number },
  opts: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<string[]> {
  const call = opts.signal ? { signal: opts.signal } : {};
  const deadline = Date.now() + (opts.timeoutMs ?? 300_000);
  const raw = await api.getServiceRaw(t, call);
  const traffic = raw.traffic ?? [];
  const stale = (x: ITrafficTarget) => !!x.tag?.startsWith(FIX_TAG_PREFIX) && !!x.revision && namedForLoop(x.revision, loop.id, loop.cycles);
  const revisions = [...new Set(traffic.filter(stale).map((x) => x.revision as string))];
  if (revisions.length === 0) return [];
  const kept = traffic.filter((x) => !stale(x)).map(({ tag, ...rest }) => (tag ? { ...rest, tag } : rest));
  const res = await api.update(t, { ...raw, traffic: kept }, { ...call, deadline });
  if (res.error) throw new GreenloopError('CLOUD_RUN_WITHDRAW_FAILED', `removing fix candidates' tags from ${t.service} failed: ${res.error.message}`);
  for (const revision of revisions) await api.deleteRevision(t, revision, { ...call, deadline });
  return revisions;
}
