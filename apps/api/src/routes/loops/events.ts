import { TERMINAL_STATES } from '@greenloop/core';
import type { FastifyPluginAsync } from 'fastify';
import { apiError, errorResponses } from '../../errors.ts';
import { LOOP_ID_PATTERN, STREAM_ID_PATTERN } from '../../schemas.ts';
import { lastEventIdOf, streamEvents } from '../../sse.ts';

/** OpenAPI description shared by both event streams. */
export const SSE_RESPONSE = {
  description: 'Server-Sent Events: `id:` is the Redis stream id (resume with Last-Event-ID), `event:` the event type, `data:` the JSON event',
  content: { 'text/event-stream': { schema: { type: 'string' } } },
} as const;

const eventRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Params: { id: string }; Querystring: { lastEventId?: string } }>(
    '/:id/events',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['loops'],
        summary: "The loop's events as Server-Sent Events, from the start or after Last-Event-ID; ends after loop.finished",
        params: { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', pattern: LOOP_ID_PATTERN } } },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { lastEventId: { type: 'string', pattern: STREAM_ID_PATTERN, description: 'Alternative to the Last-Event-ID header' } },
        },
        response: { 200: SSE_RESPONSE, ...errorResponses(400, 401, 403, 404, 429, 500, 503) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const afterId = lastEventIdOf(request) ?? '0';
      if (!(await app.store.getLoop(id))) throw apiError('LOOP_NOT_FOUND', { id });
      await streamEvents({
        request,
        reply,
        store: app.store,
        loopId: id,
        afterId,
        sse: app.eventStreams.options,
        slots: app.eventStreams.slots,
        isFinished: async () => {
          const loop = await app.store.getLoop(id);
          return !loop || TERMINAL_STATES.includes(loop.state);
        },
      });
      return reply;
    },
  );
};

export default eventRoutes;
