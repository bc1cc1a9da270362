import { readAudit } from '@greenloop/core';
import type { FastifyPluginAsync } from 'fastify';
import { apiError, errorResponses } from '../../errors.ts';
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
      const { cursor } = request.query;
      // "0-0" is before every entry (Redis refuses an exclusive range from it); ids past 2^64 are not ids.
      if (cursor !== undefined && !isStreamCursor(cursor)) {
        throw apiError('VALIDATION', { message: `querystring.cursor: ${JSON.stringify(cursor)} is not a cursor this endpoint returned` });
      }
      return await readAudit(app.store.redis, app.store.prefix, { limit, ...(cursor ? { before: cursor } : {}) });
    },
  );
};

/** A Redis stream id after 0-0 whose parts fit in 64 bits. */
function isStreamCursor(cursor: string): boolean {
  const [ms, seq] = cursor.split('-').map((p) => BigInt(p)) as [bigint, bigint];
  const max = 2n ** 64n - 1n;
  return ms <= max && seq <= max && (ms > 0n || seq > 0n);
}

export default auditPlugin;
