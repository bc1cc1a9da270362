import type { FastifyPluginAsync } from 'fastify';

const healthPlugin: FastifyPluginAsync = async (app) => {
  app.get(
    '/healthz',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['ops'],
        summary: 'Liveness and Redis reachability (no auth)',
        security: [],
        response: {
          200: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] }, redis: { type: 'string', enum: ['ok'] } } },
          503: { type: 'object', properties: { status: { type: 'string', enum: ['unavailable'] }, redis: { type: 'string', enum: ['down'] } } },
        },
      },
    },
    async (_request, reply) => {
      const ok = await Promise.race([
        app.store.redis.ping().then(
          (r) => r === 'PONG',
          () => false,
        ),
        new Promise<boolean>((resolve) => setTimeout(resolve, 1000, false).unref()),
      ]);
      return ok ? { status: 'ok', redis: 'ok' } : reply.code(503).send({ status: 'unavailable', redis: 'down' });
    },
  );
};

export default healthPlugin;
