import { ConfigError, GreenloopError } from '@greenloop/core';
import type { FastifyError, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import { API_SECURITY_HEADERS } from './plugins/security.ts';

/**
 * Every error the API answers with: a stable code, a status and a message template. 4xx messages say
 * exactly what was wrong with the request; 5xx messages never carry internal detail (the log does);
 * CONFIG_INVALID (422) names the greenloop.yaml field, for the operator who can fix it.
 */
const def = <P extends object = Record<string, never>>(status: number, message: (p: P) => string) => ({ status, message });

export const API_ERRORS = {
  VALIDATION: def<{ message: string }>(400, (p) => p.message),
  INVALID_JSON: def<{ reason: string }>(400, (p) => `request body is not valid JSON: ${p.reason}`),
  EMPTY_JSON_BODY: def(400, () => 'the body is empty but content-type is application/json; send a JSON object or drop the content-type header'),
  BAD_REQUEST: def<{ reason: string }>(400, (p) => p.reason),
  UNKNOWN_ENVIRONMENT: def<{ name: string; configured: string[] }>(
    400,
    (p) => `unknown environment "${p.name}"; configured: ${p.configured.join(', ') || '(none)'}`,
  ),
  PATH_NOT_ALLOWED: def<{ path: string; reason: string }>(400, (p) => `artifact path ${JSON.stringify(p.path)} is not allowed: ${p.reason}`),
  SCHEDULE_INVALID: def<{ issues: string[] }>(400, (p) => `invalid schedule: ${p.issues.join('; ')}`),
  // The project errors come from core (ProjectStore) with their message; see CORE_CODES.
  PROJECT_INVALID: def<{ message: string }>(400, (p) => p.message),
  UNAUTHENTICATED: def<{ reason: string }>(401, (p) => p.reason),
  FORBIDDEN: def<{ need: string; have: string; name: string }>(403, (p) => `this needs the ${p.need} role; token "${p.name}" has the ${p.have} role`),
  ROUTE_NOT_FOUND: def<{ method: string; url: string }>(404, (p) => `no route ${p.method} ${p.url}`),
  LOOP_NOT_FOUND: def<{ id: string }>(404, (p) => `loop "${p.id}" not found`),
  CYCLE_NOT_FOUND: def<{ id: string; n: number }>(404, (p) => `loop "${p.id}" has no cycle ${p.n}`),
  REPORT_NOT_READY: def<{ id: string; n: number }>(404, (p) => `cycle ${p.n} of loop "${p.id}" has no report yet (the analyze stage writes it)`),
  ARTIFACT_NOT_FOUND: def<{ path: string }>(404, (p) => `no artifact at ${JSON.stringify(p.path)}`),
  SCHEDULE_NOT_FOUND: def<{ id: string }>(404, (p) => `schedule "${p.id}" not found`),
  TOKEN_NOT_FOUND: def<{ id: string }>(404, (p) => `token "${p.id}" not found`),
  PROJECT_NOT_FOUND: def<{ message: string }>(404, (p) => p.message),
  NOT_ACCEPTABLE: def<{ offered: string[] }>(406, (p) => `cannot answer with any type in the Accept header; available: ${p.offered.join(', ')}`),
  ENVIRONMENT_BUSY: def<{ environment: string; activeLoopId: string }>(
    409,
    (p) => `environment "${p.environment}" already has an active loop (${p.activeLoopId}); cancel it or wait for it to finish`,
  ),
  LOOP_FINISHED: def<{ id: string; state: string }>(409, (p) => `loop "${p.id}" already finished (${p.state})`),
  SCHEDULE_EXISTS: def<{ id: string }>(409, (p) => `schedule "${p.id}" already exists; use PUT /v1/schedules/${p.id} to change it`),
  SCHEDULE_FROM_CONFIG: def<{ id: string }>(409, (p) => `schedule "${p.id}" is declared in greenloop.yaml; change or remove it there`),
  TOKEN_NAME_RESERVED: def<{ name: string }>(400, (p) => `token name "${p.name}" is reserved: names starting "bootstrap" or "system" are greenloop's own`),
  TOKEN_NAME_TAKEN: def<{ name: string }>(409, (p) => `a token named "${p.name}" already exists; revoke it first or pick another name`),
  PROJECT_EXISTS: def<{ message: string }>(409, (p) => p.message),
  PROJECT_BUSY: def<{ message: string }>(409, (p) => p.message),
  PROJECT_CONTENDED: def<{ message: string }>(409, (p) => p.message),
  /** A live worker runs a greenloop that would ignore LoopRecord.source (rolling upgrade in progress). */
  WORKERS_OUTDATED: def<{ message: string }>(409, (p) => p.message),
  BODY_TOO_LARGE: def<{ limit: number }>(413, (p) => `request body is larger than ${p.limit} bytes`),
  UNSUPPORTED_MEDIA_TYPE: def<{ type: string }>(415, (p) => `content-type ${JSON.stringify(p.type)} is not supported; send application/json`),
  IDEMPOTENCY_KEY_REUSED: def<{ key: string; environment: string }>(
    422,
    (p) => `Idempotency-Key "${p.key}" was already used for a loop on environment "${p.environment}"; use a new key for a different request`,
  ),
  TOO_MANY_STREAMS_FOR_TOKEN: def<{ limit: number }>(429, (p) => `this token already holds ${p.limit} open event streams; close one first`),
  RATE_LIMITED: def<{ retryAfterSeconds: number }>(429, (p) => `too many requests; retry in ${p.retryAfterSeconds}s`),
  INTERNAL: def<{ requestId: string }>(500, (p) => `internal error; the server log has the details under request id ${p.requestId}`),
  // 422, not 500: the request was fine, greenloop.yaml is not, and the operator can fix it (details name the field).
  CONFIG_INVALID: def<{ message: string }>(422, (p) => p.message),
  REDIS_UNAVAILABLE: def(503, () => 'the store (Redis) is unavailable; retry shortly'),
  ARTIFACT_STORE_UNAVAILABLE: def(503, () => 'the artifact store (Cloud Storage) did not answer; retry shortly, the server log has the details'),
  TOO_MANY_STREAMS: def<{ limit: number }>(503, (p) => `too many open event streams (limit ${p.limit}); retry shortly`),
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

/** Core errors answered as they are: their message is already the one a client should read (4xx). */
const CORE_CODES = [
  'PROJECT_INVALID',
  'PROJECT_NOT_FOUND',
  'PROJECT_EXISTS',
  'PROJECT_BUSY',
  'PROJECT_CONTENDED',
  'WORKERS_OUTDATED',
] as const satisfies ApiErrorCode[];
const isCoreCode = (code: string): code is (typeof CORE_CODES)[number] => (CORE_CODES as readonly string[]).includes(code);
type ParamsOf<C extends ApiErrorCode> = Parameters<(typeof API_ERRORS)[C]['message']>[0];

/** An error with an API code and status; thrown anywhere in a request, rendered by the error handler. */
export class ApiError extends GreenloopError {
  readonly statusCode: number;
  /** Extra top-level fields of the error body (e.g. activeLoopId). */
  readonly extra: Record<string, unknown>;

  constructor(code: ApiErrorCode, message: string, statusCode: number, opts: { details?: Record<string, unknown>; extra?: Record<string, unknown> } = {}) {
    super(code, message, opts.details ? { details: opts.details } : {});
    this.name = 'ApiError';
    this.statusCode = statusCode;
    this.extra = opts.extra ?? {};
  }
}

/** Builds an ApiError from the registry. */
export function apiError<C extends ApiErrorCode>(
  code: C,
  params: ParamsOf<C>,
  opts: { details?: Record<string, unknown>; extra?: Record<string, unknown> } = {},
): ApiError {
  const entry = API_ERRORS[code] as { status: number; message: (p: ParamsOf<C>) => string };
  return new ApiError(code, entry.message(params), entry.status, opts);
}

/** The error body every route documents. */
export const ErrorBody = {
  $id: 'ErrorBody',
  type: 'object',
  required: ['statusCode', 'code', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string', description: 'Stable error code, e.g. LOOP_NOT_FOUND' },
    message: { type: 'string' },
    hint: { type: 'string' },
    details: { type: 'object', additionalProperties: true },
    activeLoopId: { type: 'string', description: 'ENVIRONMENT_BUSY: the loop holding the environment' },
    requestId: { type: 'string' },
  },
} as const;

/** Response schemas for the given error statuses, for route definitions. */
export function errorResponses(...statuses: number[]): Record<number, { $ref: string }> {
  return Object.fromEntries(statuses.map((s) => [s, { $ref: 'ErrorBody#' }]));
}

function fieldPath(dataVar: string, e: FastifySchemaValidationError): string {
  const parts = e.instancePath
    .split('/')
    .filter(Boolean)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  return [dataVar, ...parts].join('.');
}

/** Schema errors name the field: "body.environment: must be string", "body: unknown field \"command\"". */
export function formatSchemaErrors(errors: FastifySchemaValidationError[], dataVar: string): ApiError {
  const issues = errors.map((e) => {
    const path = fieldPath(dataVar, e);
    if (e.keyword === 'additionalProperties') return `${path}: unknown field ${JSON.stringify(e.params.additionalProperty)} (not allowed)`;
    if (e.keyword === 'required') return `${path}.${String(e.params.missingProperty)}: is required`;
    if (e.keyword === 'enum' && Array.isArray(e.params.allowedValues))
      return `${path}: must be one of ${e.params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    if (e.keyword === 'pattern') return `${path}: has an invalid format (must match ${String(e.params.pattern)})`;
    return `${path}: ${e.message ?? e.keyword}`;
  });
  return apiError('VALIDATION', { message: issues.join('; ') }, { details: { issues } });
}

/** Keys that would reach Object.prototype if any code merged the body into an object. */
const POISON_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** JSON body parser: empty → EMPTY_JSON_BODY; bad syntax → INVALID_JSON with the parser's reason; no prototype keys. */
export function parseJsonBody(_request: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void): void {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.trim() === '') {
    done(apiError('EMPTY_JSON_BODY', {}));
    return;
  }
  let poisoned: string | undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text, (key, value: unknown) => {
      if (POISON_KEYS.has(key)) poisoned = key;
      return value;
    });
  } catch (err) {
    done(apiError('INVALID_JSON', { reason: err instanceof Error ? err.message : String(err) }));
    return;
  }
  if (poisoned) done(apiError('INVALID_JSON', { reason: `the key "${poisoned}" is not allowed` }));
  else done(null, parsed);
}

function isRedisDown(err: Error): boolean {
  const name = err.name ?? '';
  const msg = err.message ?? '';
  return name === 'MaxRetriesPerRequestError' || /Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|enableOfflineQueue/.test(msg);
}

/** Maps anything thrown to an ApiError; unknown errors become INTERNAL. */
export function toApiError(err: unknown, request: FastifyRequest): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ConfigError) {
    return apiError(
      'CONFIG_INVALID',
      { message: `${err.message.split('\n')[0] ?? 'greenloop.yaml is invalid'}${err.issues[0] ? `: ${err.issues[0]}` : ''}` },
      { details: { issues: err.issues, ...(err.hint ? { hint: err.hint } : {}) } },
    );
  }
  if (err instanceof GreenloopError && err.code === 'SCHEDULE_INVALID') {
    const issues = Array.isArray(err.details?.issues) ? (err.details.issues as string[]) : [err.message];
    return apiError('SCHEDULE_INVALID', { issues }, { details: { issues } });
  }
  if (err instanceof GreenloopError && isCoreCode(err.code)) return apiError(err.code, { message: err.message }, err.details ? { details: err.details } : {});
  const fe = err as Partial<FastifyError> & Error;
  switch (fe.code) {
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return apiError('EMPTY_JSON_BODY', {});
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return apiError('BODY_TOO_LARGE', { limit: request.routeOptions.bodyLimit ?? 0 });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return apiError('UNSUPPORTED_MEDIA_TYPE', { type: String(request.headers['content-type'] ?? '') });
  }
  if (fe instanceof SyntaxError && fe.statusCode === 400) return apiError('INVALID_JSON', { reason: fe.message });
  // Other framework 4xx errors (bad content-length, malformed URL, ...) describe the request, not us.
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    if (fe.statusCode === 429) return apiError('RATE_LIMITED', { retryAfterSeconds: 60 });
    return new ApiError('BAD_REQUEST', fe.message, fe.statusCode);
  }
  if (err instanceof Error && isRedisDown(err)) return apiError('REDIS_UNAVAILABLE', {});
  if (err instanceof GreenloopError && err.code.startsWith('ARTIFACT_STORE_')) return apiError('ARTIFACT_STORE_UNAVAILABLE', {});
  return apiError('INTERNAL', { requestId: request.id });
}

/** The single error handler: logs 5xx with the real error, answers with the registry's body. */
export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const e = toApiError(err, request);
  const where = { reqId: request.id, method: request.method, path: request.url.split('?')[0]?.slice(0, 200) };
  if (e.statusCode >= 500) request.log.error({ err, code: e.code, ...where }, 'request failed');
  else request.log.info({ code: e.code, msg: e.message, ...where }, 'request rejected');
  const body: Record<string, unknown> = { statusCode: e.statusCode, code: e.code, message: e.message, ...e.extra, requestId: request.id };
  if (e.details) body.details = e.details;
  if (e.hint) body.hint = e.hint;
  // Error answers are JSON wherever they come from (an HTML page's route, a 404): the API's headers.
  return reply.code(e.statusCode).headers(API_SECURITY_HEADERS).type('application/json; charset=utf-8').send(body);
}
