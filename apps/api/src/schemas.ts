import { AUDIT_ACTIONS, LOOP_ENVIRONMENT_PATTERN, LOOP_STATES, PROJECT_NAME_PATTERN, ROLES, STAGES, STOP_RULES } from '@greenloop/core';

/**
 * Shared JSON Schemas, registered once with `addSchema` and referenced as `{ $ref: '<Name>#' }`. They
 * drive validation, response serialization (fields not listed here are not sent) and /docs.
 */

/** Loop ids as core's newLoopId makes them (and as the job catalog accepts them). */
export const LOOP_ID_PATTERN = '^[a-z0-9-]{6,64}$';
/** `<environment>` of greenloop.yaml or `<project>/<environment>`; in a path, the slash is sent as %2F. */
export const ENV_NAME_PATTERN = LOOP_ENVIRONMENT_PATTERN.source;
/** `<environment>.<name>`, the environment possibly `<project>/<environment>`. */
export const SCHEDULE_ID_PATTERN = `${ENV_NAME_PATTERN.slice(0, -1)}\\.[a-z][a-z0-9-]{0,48}$`;
/** Redis stream ids ("1700000000000-0"), or "0" for "from the beginning". */
export const STREAM_ID_PATTERN = '^(0|[0-9]{1,15}-[0-9]{1,10})$';
/** Query and path numbers arrive as strings; coercion is off so bodies are typed strictly. */
export const POSITIVE_INT_PATTERN = '^[1-9][0-9]{0,5}$';

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const freeObject = { type: 'object', additionalProperties: true } as const;

const TestTotals = {
  $id: 'TestTotals',
  type: 'object',
  properties: { total: int, passed: int, failed: int, skipped: int, durationMs: { type: 'number' } },
} as const;

const Actor = {
  $id: 'Actor',
  type: 'object',
  properties: { kind: { type: 'string', enum: ['api', 'schedule', 'cli'] }, name: str, tokenId: str },
} as const;

/** What fixers reported spending (core's SpendSchema): on the loop and on each cycle, when any was reported. */
const Spend = {
  type: 'object',
  properties: { usd: { type: 'number' }, inputTokens: int, outputTokens: int },
} as const;

const StageError = { type: 'object', properties: { code: str, message: str, hint: str } } as const;

const stageFields = {
  stage: { type: 'string', enum: [...STAGES] },
  status: { type: 'string', enum: ['running', 'succeeded', 'failed', 'cancelled', 'skipped'] },
  startedAt: str,
  finishedAt: str,
  attempts: int,
  error: StageError,
  summary: str,
} as const;

const LoopLinks = {
  type: 'object',
  properties: { self: str, events: str, cancel: str, artifacts: str },
} as const;

const Loop = {
  $id: 'Loop',
  type: 'object',
  properties: {
    id: str,
    environment: str,
    /** A project loop's copy of its project, taken when the loop was created; absent for GREENLOOP_REPO's environments. */
    source: {
      type: 'object',
      properties: { project: str, remote: str, baseBranch: str, credentialsSecret: str },
    },
    state: { type: 'string', enum: [...LOOP_STATES] },
    createdAt: str,
    startedAt: str,
    finishedAt: str,
    startedBy: { $ref: 'Actor#' },
    branch: str,
    baseCommit: str,
    commit: str,
    cycle: int,
    stage: { type: 'string', enum: [...STAGES] },
    stop: {
      type: 'object',
      properties: { rule: { type: 'string', enum: [...STOP_RULES] }, message: str, clusters: { type: 'array', items: str } },
    },
    latest: { $ref: 'TestTotals#' },
    spend: Spend,
    notices: { type: 'array', items: str },
    /** `pending` from the verdict until services are stopped, worktrees removed and the environment released. */
    teardown: { type: 'string', enum: ['pending', 'done'] },
    links: LoopLinks,
  },
} as const;

const LoopDetail = {
  $id: 'LoopDetail',
  type: 'object',
  properties: { ...Loop.properties, cycles: { type: 'array', items: { $ref: 'CycleSummary#' } } },
} as const;

const cycleFields = {
  loopId: str,
  n: int,
  commit: str,
  startedAt: str,
  finishedAt: str,
  totals: { $ref: 'TestTotals#' },
  green: { type: 'boolean' },
  failingFingerprints: { type: 'array', items: str },
  spend: Spend,
  hasReport: { type: 'boolean' },
  /** Server-side paths of the report files (what the worker recorded); fetch them through the report route. */
  report: { type: 'object', properties: { markdown: str, json: str } },
} as const;

const CycleSummary = {
  $id: 'CycleSummary',
  type: 'object',
  properties: {
    ...cycleFields,
    stages: { type: 'object', additionalProperties: { type: 'object', properties: stageFields } },
  },
} as const;

const Cycle = {
  $id: 'Cycle',
  type: 'object',
  properties: {
    ...cycleFields,
    failingTests: { type: 'array', items: str },
    stages: { type: 'object', additionalProperties: { type: 'object', properties: { ...stageFields, result: freeObject } } },
    links: { type: 'object', properties: { report: str, loop: str } },
  },
} as const;

const Schedule = {
  $id: 'Schedule',
  type: 'object',
  properties: {
    id: str,
    environment: str,
    name: str,
    cron: str,
    timezone: str,
    source: { type: 'string', enum: ['config', 'api'] },
    createdBy: str,
    next: str,
    nextRuns: { type: 'array', items: str },
  },
} as const;

const Token = {
  $id: 'Token',
  type: 'object',
  properties: {
    id: str,
    name: str,
    role: { type: 'string', enum: [...ROLES] },
    createdAt: str,
    createdBy: str,
    expiresAt: str,
  },
} as const;

const Project = {
  $id: 'Project',
  type: 'object',
  properties: {
    name: { type: 'string', pattern: PROJECT_NAME_PATTERN.source },
    remote: { type: 'string', description: 'https://, ssh://, user@host:path, file:// or an absolute path of a bare repository; never with credentials' },
    baseBranch: str,
    credentialsSecret: { type: 'string', description: "Name of the workers' environment variable holding the remote's credentials (never the value)" },
    createdAt: str,
    updatedAt: str,
    createdBy: str,
  },
} as const;

const AuditEntry = {
  $id: 'AuditEntry',
  type: 'object',
  properties: {
    id: str,
    time: str,
    actor: { $ref: 'Actor#' },
    action: { type: 'string', enum: [...AUDIT_ACTIONS] },
    target: str,
    details: freeObject,
  },
} as const;

export const SHARED_SCHEMAS = [TestTotals, Actor, Loop, LoopDetail, CycleSummary, Cycle, Schedule, Token, Project, AuditEntry] as const;

/** Params of every /v1/loops/:id/... route. */
export const loopIdParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', pattern: LOOP_ID_PATTERN, description: 'Loop id' } },
} as const;
