import type { Redis } from '@greenloop/core';
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '../../errors.ts';
import { STREAM_ID_PATTERN } from '../../schemas.ts';
import { lastEventIdOf, streamEvents } from '../../sse.ts';
import { SSE_RESPONSE } from '../loops/events.ts';

const eventsPlugin: FastifyPluginAsync = async (app) => {
  app.get<{ Querystring: { lastEventId?: string } }>(
    '/',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['loops'],
        summary: "Every loop's events as Server-Sent Events: new ones only, or everything after Last-Event-ID",
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            lastEventId: { type: 'string', pattern: STREAM_ID_PATTERN, description: 'Alternative to the Last-Event-ID header; "0" replays what is kept' },
          },
        },
        response: { 200: SSE_RESPONSE, ...errorResponses(400, 401, 403, 429, 500, 503) },
      },
    },
    async (request, reply) => {
      // Without a resume point, start at the newest entry: a dashboard wants what happens next.
      const afterId = lastEventIdOf(request) ?? (await latestId(app.store.redis, app.store.key('events')));
      await streamEvents({ request, reply, store: app.store, afterId, sse: app.eventStreams.options, slots: app.eventStreams.slots });
      return reply;
    },
  );
};

async function latestId(redis: Redis, key: string): Promise<string> {
  const last = (await redis.xrevrange(key, '+', '-', 'COUNT', 1)) as [string, string[]][];
  return last[0]?.[0] ?? '0';
}

export default eventsPlugin;
