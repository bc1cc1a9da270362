import type { TestTotals } from '@greenloop/core';
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '../../errors.ts';
import { ENV_NAME_PATTERN, POSITIVE_INT_PATTERN } from '../../schemas.ts';
import { clusterHistories } from './clusters.ts';
import { flakyTests } from './flaky.ts';
import { readHistory } from './history.ts';
import { trends } from './trends.ts';

const MAX_LOOPS = 200;
const DEFAULT_LOOPS = 30;
/** With a trigger filter, at most this many pages of MAX_LOOPS loops are walked to find N matching ones. */
const MAX_TREND_PAGES = 10;

const windowQuery = {
  environment: { type: 'string', pattern: ENV_NAME_PATTERN, description: 'Only loops of this environment' },
  loops: { type: 'string', pattern: POSITIVE_INT_PATTERN, description: `The newest N loops, 1–${MAX_LOOPS} (default ${DEFAULT_LOOPS})` },
} as const;

interface WindowQuery {
  environment?: string;
  loops?: string;
}

function windowOf(q: WindowQuery): { environment?: string; loops: number } {
  return { loops: Math.min(MAX_LOOPS, Number(q.loops ?? DEFAULT_LOOPS)), ...(q.environment ? { environment: q.environment } : {}) };
}

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const num = { type: 'number' } as const;
const strings = { type: 'array', items: str } as const;
const sighting = { type: 'object', properties: { loopId: str, environment: str, cycle: int, at: str } } as const;
const windowFacts = {
  loopsRead: { ...int, description: 'Loops the answer is computed from' },
  unreadable: { ...strings, description: 'Loops whose records could not be read (left out)' },
} as const;

/**
 * GET /v1/insights/{clusters,flaky,trends}: what the loop records say across loops — each failure
 * fingerprint's history, the flaky tests, and pass rate and cycles to green per environment. Computed
 * on request from the newest N loops' records (no second copy to keep in step).
 */
const insightsPlugin: FastifyPluginAsync = async (app) => {
  app.get<{ Querystring: WindowQuery }>(
    '/clusters',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['insights'],
        summary: "Failure clusters across loops: each fingerprint's first and last sighting, cycles, fixes and regressions",
        querystring: { type: 'object', additionalProperties: false, properties: windowQuery },
        response: {
          200: {
            type: 'object',
            required: ['clusters', 'loopsRead'],
            properties: {
              ...windowFacts,
              clusters: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    fingerprint: str,
                    title: str,
                    triage: str,
                    environments: strings,
                    firstSeen: sighting,
                    lastSeen: sighting,
                    cycles: int,
                    loops: int,
                    fixes: {
                      type: 'array',
                      items: { type: 'object', properties: { ...sighting.properties, commit: str, fixCommit: { type: 'boolean' } } },
                    },
                    regressions: int,
                    open: { type: 'boolean' },
                    tests: strings,
                    testCount: int,
                  },
                },
              },
            },
          },
          ...errorResponses(400, 401, 403, 429, 500, 503),
        },
      },
    },
    async (request) => {
      const { loops, unreadable } = await readHistory(app.store, windowOf(request.query));
      return { clusters: clusterHistories(loops), loopsRead: loops.length, unreadable };
    },
  );

  app.get<{ Querystring: WindowQuery }>(
    '/flaky',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['insights'],
        summary: 'Flaky tests across loops: fail rate, last seen, whether quarantined (known flaky)',
        querystring: { type: 'object', additionalProperties: false, properties: windowQuery },
        response: {
          200: {
            type: 'object',
            required: ['tests', 'loopsRead'],
            properties: {
              ...windowFacts,
              tests: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    id: str,
                    environments: strings,
                    flakes: int,
                    failures: int,
                    cyclesObserved: int,
                    failRate: num,
                    lastSeen: { type: 'object', properties: { loopId: str, cycle: int, at: str } },
                    quarantined: { type: 'boolean' },
                  },
                },
              },
            },
          },
          ...errorResponses(400, 401, 403, 429, 500, 503),
        },
      },
    },
    async (request) => {
      const { loops, unreadable } = await readHistory(app.store, windowOf(request.query));
      return { tests: flakyTests(loops), loopsRead: loops.length, unreadable };
    },
  );

  app.get<{ Querystring: WindowQuery & { trigger?: 'api' | 'schedule' | 'cli' } }>(
    '/trends',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['insights'],
        summary: 'Pass rate and cycles to green per environment over the newest N finished loops (trigger=schedule: the nightly runs)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { ...windowQuery, trigger: { type: 'string', enum: ['api', 'schedule', 'cli'], description: 'Only loops started this way' } },
        },
        response: {
          200: {
            type: 'object',
            required: ['environments', 'loopsRead'],
            properties: {
              loopsRead: int,
              environments: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    environment: str,
                    greenRate: { type: ['number', 'null'] },
                    medianCyclesToGreen: { type: ['number', 'null'] },
                    points: {
                      type: 'array',
                      items: {
                        type: 'object',
                        properties: {
                          loopId: str,
                          startedAt: str,
                          trigger: str,
                          state: str,
                          cycles: int,
                          cyclesToGreen: { type: ['integer', 'null'] },
                          passRate: { type: ['number', 'null'] },
                          firstPassRate: { type: ['number', 'null'] },
                          spendUsd: num,
                        },
                      },
                    },
                  },
                },
              },
            },
          },
          ...errorResponses(400, 401, 403, 429, 500, 503),
        },
      },
    },
    async (request) => {
      const { loops: limit, environment } = windowOf(request.query);
      const { trigger } = request.query;
      // Filtered by trigger after reading: "the last N nightly loops" must not count the manual ones.
      const found: Awaited<ReturnType<typeof app.store.listLoops>>['loops'] = [];
      let cursor: number | undefined;
      for (let pages = 0; pages < MAX_TREND_PAGES; pages++) {
        const page = await app.store.listLoops({ limit: MAX_LOOPS, ...(environment ? { environment } : {}), ...(cursor !== undefined ? { cursor } : {}) });
        for (const l of page.loops) if (!trigger || l.startedBy.kind === trigger) found.push(l);
        if (found.length >= limit || page.nextCursor === undefined) break;
        cursor = page.nextCursor;
      }
      const loops = found.slice(0, limit);
      const firstTotals = new Map<string, TestTotals>();
      await Promise.all(
        loops.map(async (l) => {
          const totals = l.cycle > 0 ? (await app.store.getCycle(l.id, 1))?.totals : undefined;
          if (totals) firstTotals.set(l.id, totals);
        }),
      );
      return { environments: trends(loops, firstTotals), loopsRead: loops.length };
    },
  );
};

export default insightsPlugin;
