import { readMetrics, renderPrometheus } from '@greenloop/core';
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '../../errors.ts';

const metricsPlugin: FastifyPluginAsync = async (app) => {
  app.get(
    '/metrics',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['ops'],
        summary: 'Prometheus metrics: loops by state, queue depths, stage durations, fixer outcomes (viewer token; Prometheus supports bearer auth)',
        response: {
          200: { description: 'Prometheus text format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...errorResponses(401, 403, 429, 500, 503),
        },
      },
    },
    async (_request, reply) => {
      const text = renderPrometheus(await readMetrics(app.store, app.queues));
      return reply.type('text/plain; version=0.0.4; charset=utf-8').send(text);
    },
  );
};

export default metricsPlugin;
