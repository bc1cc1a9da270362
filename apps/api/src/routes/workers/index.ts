import { listWorkers } from '@greenloop/core';
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '../../errors.ts';

const WorkerJobSchema = {
  type: 'object',
  required: ['queue', 'id', 'name', 'startedAt'],
  additionalProperties: false,
  properties: {
    queue: { type: 'string' },
    id: { type: 'string' },
    name: { type: 'string' },
    loopId: { type: 'string' },
    startedAt: { type: 'string', format: 'date-time' },
  },
} as const;

/** One worker process of the registry (GET /v1/workers). */
export const WorkerSchema = {
  type: 'object',
  required: ['id', 'host', 'pid', 'version', 'startedAt', 'lastSeen', 'capacity', 'jobs', 'artifacts'],
  additionalProperties: false,
  properties: {
    id: { type: 'string' },
    host: { type: 'string' },
    pid: { type: 'integer' },
    version: { type: 'string', description: "greenloop's version on that worker: during a rolling upgrade old and new ones show side by side" },
    startedAt: { type: 'string', format: 'date-time' },
    lastSeen: { type: 'string', format: 'date-time', description: 'Last heartbeat (every 15 s; an entry expires after 45 s without one)' },
    capacity: { type: 'object', additionalProperties: { type: 'integer' }, description: 'Parallel jobs per queue' },
    jobs: { type: 'array', items: WorkerJobSchema, description: 'Jobs running now' },
    artifacts: { type: 'string', description: 'Where it publishes evidence (local:<dir> or gs://<bucket>/<prefix>/)' },
    capabilities: {
      type: 'array',
      items: { type: 'string' },
      description: 'Record features it understands (projects: loops with a source); none on workers older than the field',
    },
  },
} as const;

const workersRoutes: FastifyPluginAsync = async (app) => {
  app.get(
    '/',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['ops'],
        summary: 'The live worker processes: version, capacity, running jobs (from their Redis heartbeats)',
        response: {
          200: {
            type: 'object',
            required: ['workers'],
            additionalProperties: false,
            properties: {
              workers: { type: 'array', items: WorkerSchema },
              versions: { type: 'object', additionalProperties: { type: 'integer' }, description: 'Workers per greenloop version' },
            },
          },
          ...errorResponses(401, 403, 429, 500, 503),
        },
      },
    },
    async () => {
      const workers = await listWorkers(app.store.redis, app.store.prefix);
      const versions: Record<string, number> = {};
      for (const w of workers) versions[w.version] = (versions[w.version] ?? 0) + 1;
      return { workers, versions };
    },
  );
};

export default workersRoutes;
