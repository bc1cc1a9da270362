import {
  appendAudit,
  getSchedule,
  listSchedules,
  projectNotFound,
  removeSchedule,
  SCHEDULE_NAME_PATTERN,
  scheduleId,
  splitEnvironmentName,
  upsertSchedule,
} from '@greenloop/core';
import type { FastifyPluginAsync } from 'fastify';
import { apiError, errorResponses } from '../../errors.ts';
import { actorOf, principalOf } from '../../plugins/auth.ts';
import { ENV_NAME_PATTERN, SCHEDULE_ID_PATTERN } from '../../schemas.ts';

const scheduleIdParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', pattern: SCHEDULE_ID_PATTERN, description: "<environment>.<name>; a project environment's slash sent as %2F" } },
} as const;

const cron = { type: 'string', minLength: 1, maxLength: 120, description: 'Cron pattern: 5 fields, or 6 with seconds first, or @daily-style alias' } as const;
const timezone = { type: 'string', minLength: 1, maxLength: 64, description: 'IANA time zone (default UTC)' } as const;

const schedulesPlugin: FastifyPluginAsync = async (app) => {
  /** An environment of greenloop.yaml, or one of a known project (whose greenloop.yaml only the worker reads). */
  async function assertEnvironment(name: string): Promise<void> {
    const { project } = splitEnvironmentName(name);
    if (project !== undefined) {
      if (!(await app.projects.get(project))) throw projectNotFound(project, name);
      return;
    }
    const config = await app.loadConfig();
    if (!config.environments[name]) throw apiError('UNKNOWN_ENVIRONMENT', { name, configured: Object.keys(config.environments) });
  }

  app.get<{ Querystring: { environment?: string } }>(
    '/',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['schedules'],
        summary: 'List schedules with their next run times',
        querystring: { type: 'object', additionalProperties: false, properties: { environment: { type: 'string', pattern: ENV_NAME_PATTERN } } },
        response: {
          200: { type: 'object', required: ['schedules'], properties: { schedules: { type: 'array', items: { $ref: 'Schedule#' } } } },
          ...errorResponses(400, 401, 403, 429, 500, 503),
        },
      },
    },
    async (request) => {
      const all = await listSchedules(app.queues);
      const env = request.query.environment;
      return { schedules: env ? all.filter((s) => s.environment === env) : all };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/:id',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['schedules'],
        summary: 'One schedule',
        params: scheduleIdParams,
        response: { 200: { $ref: 'Schedule#' }, ...errorResponses(400, 401, 403, 404, 429, 500, 503) },
      },
    },
    async (request) => {
      const s = await getSchedule(app.queues, request.params.id);
      if (!s) throw apiError('SCHEDULE_NOT_FOUND', { id: request.params.id });
      return s;
    },
  );

  app.post<{ Body: { environment: string; name: string; cron: string; timezone?: string } }>(
    '/',
    {
      config: { auth: 'operator' },
      schema: {
        tags: ['schedules'],
        summary: 'Create a schedule that starts a loop on an environment (or <project>/<environment>)',
        body: {
          type: 'object',
          required: ['environment', 'name', 'cron'],
          additionalProperties: false,
          properties: {
            environment: { type: 'string', pattern: ENV_NAME_PATTERN },
            name: { type: 'string', pattern: SCHEDULE_NAME_PATTERN.source },
            cron,
            timezone,
          },
        },
        response: { 201: { $ref: 'Schedule#' }, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429, 500, 503) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const { environment, name } = request.body;
      const tz = request.body.timezone ?? 'UTC';
      await assertEnvironment(environment);
      const id = scheduleId(environment, name);
      if (await getSchedule(app.queues, id)) throw apiError('SCHEDULE_EXISTS', { id });
      const created = await upsertSchedule(app.queues, { environment, name, cron: request.body.cron, timezone: tz, source: 'api', createdBy: principal.name });
      await appendAudit(app.store.redis, app.store.prefix, {
        actor: actorOf(principal),
        action: 'schedule.create',
        target: id,
        details: { cron: created.cron, timezone: tz },
      });
      return reply.code(201).send(created);
    },
  );

  app.put<{ Params: { id: string }; Body: { cron: string; timezone?: string } }>(
    '/:id',
    {
      config: { auth: 'operator' },
      schema: {
        tags: ['schedules'],
        summary: "Change a schedule's cron pattern or time zone",
        params: scheduleIdParams,
        body: { type: 'object', required: ['cron'], additionalProperties: false, properties: { cron, timezone } },
        response: { 200: { $ref: 'Schedule#' }, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429, 500, 503) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { id } = request.params;
      const current = await getSchedule(app.queues, id);
      if (!current) throw apiError('SCHEDULE_NOT_FOUND', { id });
      if (current.source === 'config') throw apiError('SCHEDULE_FROM_CONFIG', { id });
      const tz = request.body.timezone ?? current.timezone;
      const updated = await upsertSchedule(app.queues, { ...current, cron: request.body.cron, timezone: tz, createdBy: current.createdBy ?? principal.name });
      await appendAudit(app.store.redis, app.store.prefix, {
        actor: actorOf(principal),
        action: 'schedule.update',
        target: id,
        details: { cron: updated.cron, timezone: tz },
      });
      return updated;
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/:id',
    {
      config: { auth: 'operator' },
      schema: {
        tags: ['schedules'],
        summary: 'Delete a schedule created through the API',
        params: scheduleIdParams,
        response: {
          200: { type: 'object', properties: { id: { type: 'string' }, deleted: { type: 'boolean' } } },
          ...errorResponses(400, 401, 403, 404, 409, 429, 500, 503),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const current = await getSchedule(app.queues, id);
      if (!current) throw apiError('SCHEDULE_NOT_FOUND', { id });
      if (current.source === 'config') throw apiError('SCHEDULE_FROM_CONFIG', { id });
      await removeSchedule(app.queues, id);
      await appendAudit(app.store.redis, app.store.prefix, {
        actor: actorOf(principalOf(request)),
        action: 'schedule.delete',
        target: id,
        details: { environment: current.environment },
      });
      return { id, deleted: true };
    },
  );
};

export default schedulesPlugin;
