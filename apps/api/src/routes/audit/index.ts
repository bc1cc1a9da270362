import { readAudit } from '@greenloop/core';
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '../../errors.ts';
import { POSITIVE_INT_PATTERN } from '../../schemas.ts';

const auditPlugin: FastifyPluginAsync = async (app) => {
  app.get<{ Querystring: { limit?: string; cursor?: string } }>(
    '/',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Audit trail, newest first: who started, cancelled, scheduled, created or revoked what',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'string', pattern: POSITIVE_INT_PATTERN, description: '1–500, default 50' },
            cursor: { type: 'string', pattern: '^[0-9]{1,15}-[0-9]{1,10}$', description: 'nextCursor of the previous page' },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['entries'],
            properties: { entries: { type: 'array', items: { $ref: 'AuditEntry#' } }, nextCursor: { type: 'string' } },
          },
          ...errorResponses(400, 401, 403, 429, 500, 503),
        },
      },
    },
    async (request) => {
      const limit = Math.min(500, Number(request.query.limit ?? 50));
      return await readAudit(app.store.redis, app.store.prefix, { limit, ...(request.query.cursor ? { before: request.query.cursor } : {}) });
    },
  );
};

export default auditPlugin;
