import { readFile, realpath } from 'node:fs/promises';
import { sep } from 'node:path';
import { redact, redactDeep, redactJson } from '@greenloop/core';
import type { FastifyPluginAsync } from 'fastify';
import { loopArtifactDir } from '../../artifacts.ts';
import { apiError, errorResponses } from '../../errors.ts';
import { negotiate } from '../../negotiate.ts';
import { LOOP_ID_PATTERN, POSITIVE_INT_PATTERN } from '../../schemas.ts';
import { readStoredReport } from '../../stored-report.ts';

const cycleParams = {
  type: 'object',
  required: ['id', 'n'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', pattern: LOOP_ID_PATTERN, description: 'Loop id' },
    n: { type: 'string', pattern: POSITIVE_INT_PATTERN, description: 'Cycle number, from 1' },
  },
} as const;

const REPORT_TYPES = ['application/json', 'text/markdown', 'text/plain'] as const;

const cycleRoutes: FastifyPluginAsync = async (app) => {
  async function getCycleOr404(id: string, nText: string) {
    const n = Number(nText);
    const loop = await app.store.getLoop(id);
    if (!loop) throw apiError('LOOP_NOT_FOUND', { id });
    const cycle = await app.store.getCycle(id, n);
    if (!cycle) throw apiError('CYCLE_NOT_FOUND', { id, n });
    return { loop, cycle, n };
  }

  app.get<{ Params: { id: string; n: string } }>(
    '/:id/cycles/:n',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['loops'],
        summary: 'One cycle with every stage record and result',
        params: cycleParams,
        response: { 200: { $ref: 'Cycle#' }, ...errorResponses(400, 401, 403, 404, 429, 500, 503) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { cycle, n } = await getCycleOr404(id, request.params.n);
      return redactDeep({ ...cycle, hasReport: cycle.report !== undefined, links: { loop: `/v1/loops/${id}`, report: `/v1/loops/${id}/cycles/${n}/report` } });
    },
  );

  app.get<{ Params: { id: string; n: string } }>(
    '/:id/cycles/:n/report',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['loops'],
        summary: 'The cycle report: markdown (Accept: text/markdown) or JSON (default)',
        params: cycleParams,
        response: {
          200: {
            description: 'The report',
            content: {
              'application/json': { schema: { type: 'object', additionalProperties: true } },
              'text/markdown': { schema: { type: 'string' } },
            },
          },
          ...errorResponses(400, 401, 403, 404, 406, 429, 500, 503),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const type = negotiate(request.headers.accept, REPORT_TYPES);
      if (!type) throw apiError('NOT_ACCEPTABLE', { offered: ['application/json', 'text/markdown'] });
      const { cycle, n } = await getCycleOr404(id, request.params.n);
      const file = type === 'application/json' ? cycle.report?.json : cycle.report?.markdown;
      if (!file) throw apiError('REPORT_NOT_READY', { id, n });
      reply.header('vary', 'Accept');
      const stored = app.artifactStore.kind === 'local' ? undefined : await readStoredReport(app.artifactStore, id, file);
      if (app.artifactStore.kind !== 'local') {
        if (stored === undefined) throw apiError('REPORT_NOT_READY', { id, n });
        return type === 'application/json'
          ? reply.type('application/json; charset=utf-8').send(redactJson(stored))
          : reply.type('text/markdown; charset=utf-8').send(redact(stored));
      }
      // The worker writes these paths; still, only files under the loop's artifact directory are served.
      let real: string;
      let base: string;
      try {
        base = await realpath(loopArtifactDir(app.greenloopEnv.home, id));
        real = await realpath(file);
      } catch {
        throw apiError('REPORT_NOT_READY', { id, n });
      }
      if (!real.startsWith(base + sep)) {
        request.log.error({ loopId: id, cycle: n, file }, 'cycle report path is outside the loop artifact directory');
        throw apiError('REPORT_NOT_READY', { id, n });
      }
      // The worker wrote it redacted; the API redacts again with the secrets it knows (its own env).
      const text = await readFile(real, 'utf8');
      return type === 'application/json'
        ? reply.type('application/json; charset=utf-8').send(redactJson(text))
        : reply.type('text/markdown; charset=utf-8').send(redact(text));
    },
  );
};

export default cycleRoutes;
