import type { Role } from '@greenloop/core';
import { appendAudit, GreenloopError, ROLES, TOKEN_NAME_PATTERN } from '@greenloop/core';
import type { FastifyPluginAsync } from 'fastify';
import { apiError, errorResponses } from '../../errors.ts';
import { actorOf, principalOf } from '../../plugins/auth.ts';

const tokenIdParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', pattern: '^[a-f0-9]{16}$', description: 'Token id (the part after glt_)' } },
} as const;

const tokensPlugin: FastifyPluginAsync = async (app) => {
  app.post<{ Body: { name: string; role: Role; expiresInDays?: number } }>(
    '/',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Create a token; the response is the only time the token is shown',
        body: {
          type: 'object',
          required: ['name', 'role'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', pattern: TOKEN_NAME_PATTERN.source, description: 'Recorded as the actor of everything done with the token' },
            role: { type: 'string', enum: [...ROLES] },
            expiresInDays: { type: 'integer', minimum: 1, maximum: 3650 },
          },
        },
        response: {
          201: {
            type: 'object',
            allOf: [{ $ref: 'Token#' }],
            required: ['token'],
            properties: { token: { type: 'string', description: 'glt_<id>_<secret>; store it now, it cannot be shown again' } },
          },
          ...errorResponses(400, 401, 403, 409, 413, 415, 429, 500, 503),
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const { name, role, expiresInDays } = request.body;
      let created: Awaited<ReturnType<typeof app.tokens.create>>;
      try {
        created = await app.tokens.create({
          name,
          role,
          createdBy: principal.name,
          ...(expiresInDays ? { expiresAt: new Date(Date.now() + expiresInDays * 86_400_000).toISOString() } : {}),
        });
      } catch (err) {
        if (err instanceof GreenloopError && err.code === 'TOKEN_NAME_TAKEN') throw apiError('TOKEN_NAME_TAKEN', { name });
        if (err instanceof GreenloopError && err.code === 'TOKEN_NAME_RESERVED') throw apiError('TOKEN_NAME_RESERVED', { name });
        throw err;
      }
      await appendAudit(app.store.redis, app.store.prefix, {
        actor: actorOf(principal),
        action: 'token.create',
        target: created.info.id,
        details: { name, role },
      });
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .send({ ...created.info, token: created.token });
    },
  );

  app.get(
    '/',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'List tokens (never the tokens themselves)',
        response: {
          200: { type: 'object', required: ['tokens'], properties: { tokens: { type: 'array', items: { $ref: 'Token#' } } } },
          ...errorResponses(401, 403, 429, 500, 503),
        },
      },
    },
    async () => ({ tokens: await app.tokens.list() }),
  );

  app.delete<{ Params: { id: string } }>(
    '/:id',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Revoke a token',
        params: tokenIdParams,
        response: {
          200: { type: 'object', allOf: [{ $ref: 'Token#' }], properties: { revoked: { type: 'boolean' } } },
          ...errorResponses(400, 401, 403, 404, 429, 500, 503),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const revoked = await app.tokens.revoke(id);
      if (!revoked) throw apiError('TOKEN_NOT_FOUND', { id });
      app.forgetToken(id);
      await appendAudit(app.store.redis, app.store.prefix, {
        actor: actorOf(principalOf(request)),
        action: 'token.revoke',
        target: id,
        details: { name: revoked.name },
      });
      return { ...revoked, revoked: true };
    },
  );
};

export default tokensPlugin;
