import type { LoopFields, LoopState } from '@greenloop/core';
import { appendAudit, cancelLoop, cyclesOf, LOOP_FIELD, LOOP_STATES, noticesOf, redactDeep, redactJson, startLoop, TERMINAL_STATES } from '@greenloop/core';
import type { FastifyPluginAsync } from 'fastify';
import { apiError, errorResponses } from '../../errors.ts';
import { actorOf, principalOf } from '../../plugins/auth.ts';
import { ENV_NAME_PATTERN, loopIdParams, POSITIVE_INT_PATTERN } from '../../schemas.ts';
import artifactRoutes from './artifacts.ts';
import cycleRoutes from './cycles.ts';
import eventRoutes from './events.ts';
import evidenceRoutes from './evidence.ts';

/** Where a loop's resources live, for clients that follow links instead of building URLs. */
export function loopLinks(id: string) {
  return { self: `/v1/loops/${id}`, events: `/v1/loops/${id}/events`, cancel: `/v1/loops/${id}/cancel`, artifacts: `/v1/loops/${id}/artifacts/` };
}

/** `{...object, ...extra}` for an object's JSON and extra members already in JSON (`"name":value,...`). */
function extendJson(objectJson: string, members: string): string {
  const body = objectJson.slice(0, -1);
  return body.length > 1 ? `${body},${members}}` : `{${members}}`;
}

/**
 * GET /v1/loops/:id's answer from the loop's stored fields, without parsing them: the loop record with
 * its notices, links and cycle summaries, each cycle with its stage records. The fields are written in
 * the shape the view shows (LoopStore), by greenloop's own code; a test holds this equal to what the
 * LoopDetail schema's serializer makes of the parsed records. Status polls are the API's busiest
 * request, and parsing and re-serializing every record cost about a fifth of its throughput.
 */
export function loopViewJson(id: string, fields: LoopFields): string {
  const cycles: string[] = [];
  for (const { cycle, stages } of cyclesOf(fields).values()) {
    const members: string[] = [];
    for (const [name, raw] of stages) members.push(`${JSON.stringify(name)}:${raw}`);
    cycles.push(extendJson(cycle, `"stages":{${members.join(',')}}`));
  }
  const notices = noticesOf(fields);
  const extra = `${notices.length ? `"notices":${JSON.stringify(notices)},` : ''}"links":${JSON.stringify(loopLinks(id))},"cycles":[${cycles.join(',')}]`;
  return extendJson(fields[LOOP_FIELD] as string, extra);
}

const IDEMPOTENCY_KEY_PATTERN = '^[A-Za-z0-9._:-]{1,128}$';

const loopsPlugin: FastifyPluginAsync = async (app) => {
  app.post<{ Body: { environment: string }; Headers: { 'idempotency-key'?: string } }>(
    '/',
    {
      config: { auth: 'operator' },
      schema: {
        tags: ['loops'],
        summary: 'Start a loop on an environment',
        description:
          'Names an environment from greenloop.yaml; nothing else can be supplied. One active loop per environment (409 with activeLoopId). ' +
          'With Idempotency-Key, repeating the request returns the same loop (200) instead of starting another. ' +
          'A project environment is named `<project>/<environment>`: an unknown project is 404, and while any live worker runs a greenloop ' +
          'without project support the answer is 409 WORKERS_OUTDATED. The API has no checkout of a project, so it cannot check the ' +
          "environment itself: the worker reads greenloop.yaml at the loop's commit and stops the loop with `config-invalid` if the " +
          'environment is not there.',
        headers: {
          type: 'object',
          properties: { 'idempotency-key': { type: 'string', pattern: IDEMPOTENCY_KEY_PATTERN, description: 'Same key → same loop (24h)' } },
        },
        body: {
          type: 'object',
          required: ['environment'],
          additionalProperties: false,
          properties: {
            environment: {
              type: 'string',
              pattern: ENV_NAME_PATTERN,
              description: "An environment of greenloop.yaml, or a project's as <project>/<environment>",
            },
          },
        },
        response: {
          202: { description: 'Loop queued', $ref: 'Loop#' },
          200: { description: 'Idempotent replay: the loop this key already started', $ref: 'Loop#' },
          ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503),
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const { environment } = request.body;
      // A project's environment is checked by the worker (greenloop.yaml at the loop's commit); the
      // installation's own ones here, against GREENLOOP_REPO's greenloop.yaml.
      const source = await app.projects.loopSource(environment);
      if (!source) {
        const config = await app.loadConfig();
        if (!config.environments[environment]) throw apiError('UNKNOWN_ENVIRONMENT', { name: environment, configured: Object.keys(config.environments) });
      }
      const key = request.headers['idempotency-key'];
      const actor = actorOf(principal);
      // Keys are scoped to the caller, so two clients that happen to pick the same key do not collide.
      const outcome = await startLoop(
        { store: app.store, queues: app.queues },
        { environment, actor, ...(source ? { source } : {}), ...(key ? { idempotencyKey: `${principal.name}/${key}` } : {}) },
      );
      if (outcome.kind === 'conflict') {
        throw apiError('ENVIRONMENT_BUSY', { environment, activeLoopId: outcome.activeLoopId }, { extra: { activeLoopId: outcome.activeLoopId } });
      }
      const loop = outcome.loop;
      if (outcome.kind === 'existing') {
        if (loop.environment !== environment) throw apiError('IDEMPOTENCY_KEY_REUSED', { key: key ?? '', environment: loop.environment });
        return reply
          .code(200)
          .header('location', loopLinks(loop.id).self)
          .send({ ...loop, links: loopLinks(loop.id) });
      }
      await appendAudit(app.store.redis, app.store.prefix, { actor, action: 'loop.start', target: loop.id, details: { environment } });
      return reply
        .code(202)
        .header('location', loopLinks(loop.id).self)
        .send({ ...loop, links: loopLinks(loop.id) });
    },
  );

  app.get<{ Querystring: { environment?: string; state?: LoopState; limit?: string; cursor?: string } }>(
    '/',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['loops'],
        summary: 'List loops, newest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            environment: { type: 'string', pattern: ENV_NAME_PATTERN },
            state: { type: 'string', enum: [...LOOP_STATES] },
            limit: { type: 'string', pattern: POSITIVE_INT_PATTERN, description: 'Page size, 1–100 (default 20)' },
            cursor: { type: 'string', pattern: '^[0-9]{1,15}$', description: 'nextCursor of the previous page' },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['loops'],
            properties: { loops: { type: 'array', items: { $ref: 'Loop#' } }, nextCursor: { type: 'string' } },
          },
          ...errorResponses(400, 401, 403, 429, 500, 503),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const limit = Math.min(100, Number(q.limit ?? 20));
      const page = await app.store.listLoops({
        limit,
        ...(q.environment ? { environment: q.environment } : {}),
        ...(q.state ? { state: q.state } : {}),
        ...(q.cursor ? { cursor: Number(q.cursor) } : {}),
      });
      const loops = page.loops.map((l) => ({ ...l, links: loopLinks(l.id) }));
      const shown = redactDeep(loops);
      return page.nextCursor === undefined ? { loops: shown } : { loops: shown, nextCursor: String(page.nextCursor) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/:id',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['loops'],
        summary: 'A loop with its cycle summaries',
        params: loopIdParams,
        response: {
          200: { $ref: 'LoopDetail#' },
          ...errorResponses(400, 401, 403, 404, 429, 500, 503),
        },
      },
    },
    // Not async: an answer kept in memory goes out without a promise (status polls are the busiest route).
    (request, reply) => {
      const { id } = request.params;
      const key = app.store.key('loop', id);
      const send = (json: string | undefined) => {
        if (json === undefined) throw apiError('LOOP_NOT_FOUND', { id });
        return reply.type('application/json; charset=utf-8').send(json);
      };
      const kept = app.nearCache.peek<string | undefined>(key);
      if (kept) return send(kept.value);
      const read = async () => {
        const fields = await app.store.getLoopFields(id);
        // Redacted once per read from Redis; the kept answer is the redacted one.
        return fields && redactJson(loopViewJson(id, fields));
      };
      return app.nearCache.get(key, read).then(send);
    },
  );

  app.post<{ Params: { id: string } }>(
    '/:id/cancel',
    {
      config: { auth: 'operator' },
      schema: {
        tags: ['loops'],
        summary: 'Ask a loop to stop',
        description: 'Running stages abort; the loop ends in state "cancelled". Repeating the request while it stops is harmless.',
        params: loopIdParams,
        response: {
          202: { description: 'Cancel requested', $ref: 'Loop#' },
          ...errorResponses(400, 401, 403, 404, 409, 429, 500, 503),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const loop = await cancelLoop(app.store, id);
      if (!loop) throw apiError('LOOP_NOT_FOUND', { id });
      if (TERMINAL_STATES.includes(loop.state)) throw apiError('LOOP_FINISHED', { id, state: loop.state });
      await appendAudit(app.store.redis, app.store.prefix, {
        actor: actorOf(principalOf(request)),
        action: 'loop.cancel',
        target: id,
        details: { environment: loop.environment },
      });
      return reply.code(202).send({ ...loop, links: loopLinks(id) });
    },
  );

  await app.register(cycleRoutes);
  await app.register(artifactRoutes);
  await app.register(eventRoutes);
  await app.register(evidenceRoutes);
};

export default loopsPlugin;
