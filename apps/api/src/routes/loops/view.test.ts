import type { CycleRecord, LoopRecord, StageRecord } from '@greenloop/core';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ErrorBody } from '../../errors.ts';
import { SHARED_SCHEMAS } from '../../schemas.ts';
import type { RunningApi } from '../../server.ts';
import { startTestApis } from '../../testing.ts';
import { loopLinks } from './index.ts';

const ID = 'view-loop-0001';
const now = '2026-11-24T10:00:00.000Z';

/** A loop with every optional field set, so the view's string assembly is checked against all of them. */
const LOOP: LoopRecord = {
  id: ID,
  environment: 'staging',
  state: 'stopped',
  createdAt: now,
  startedAt: now,
  finishedAt: now,
  startedBy: { kind: 'schedule', name: 'staging.nightly' },
  branch: `greenloop/${ID}`,
  baseCommit: 'b'.repeat(40),
  commit: 'c'.repeat(40),
  cycle: 2,
  stage: 'analyze',
  stop: { rule: 'no-progress', message: 'same 2 clusters twice', clusters: ['f00d', 'beef'] },
  latest: { total: 10, passed: 8, failed: 2, skipped: 0, durationMs: 1234.5 },
  spend: { usd: 1.25, inputTokens: 120_000, outputTokens: 4_000 },
  teardown: 'done',
};
const CYCLE: CycleRecord = {
  loopId: ID,
  n: 1,
  commit: 'c'.repeat(40),
  startedAt: now,
  finishedAt: now,
  totals: { total: 10, passed: 8, failed: 2, skipped: 0, durationMs: 1234.5 },
  green: false,
  failingTests: ['suite > "quoted" test', 'suite > ünïcode\ttab'],
  failingFingerprints: ['f00d', 'beef'],
  report: { markdown: '/home/x/report.md', json: '/home/x/report.json' },
  spend: { usd: 0.75, inputTokens: 70_000, outputTokens: 2_500 },
  stages: {},
};
const STAGE: StageRecord = {
  stage: 'deploy',
  status: 'failed',
  startedAt: now,
  finishedAt: now,
  attempts: 2,
  error: { code: 'DEPLOY_NOT_READY', message: 'revision "x" never became ready\nsee logs', hint: 'check the port' },
  summary: 'api: never ready',
  result: { services: [{ service: 'api', url: 'http://127.0.0.1:1', secretish: 'not in the view' }] },
};

let api: RunningApi;
let t: Awaited<ReturnType<typeof startTestApis>>['redis'];
let cleanup: () => Promise<void>;
let auth: { authorization: string };

beforeAll(async () => {
  const started = await startTestApis();
  [api] = started.apis as [RunningApi];
  t = started.redis;
  cleanup = started.cleanup;
  const { token } = await started.tokens.create({ name: 'viewer', role: 'operator', createdBy: 'test' });
  auth = { authorization: `Bearer ${token}` };
  await t.store.createLoop(LOOP);
  await t.store.saveCycle(CYCLE);
  await t.store.saveStage(ID, 1, STAGE);
  await t.store.saveStage(ID, 1, { stage: 'test', status: 'succeeded', startedAt: now, attempts: 1, result: { big: 'x'.repeat(10_000) } });
  await t.store.saveCycle({ loopId: ID, n: 2, commit: 'd'.repeat(40), startedAt: now, stages: {} });
  await t.store.addNotice(ID, 'Slack webhook "team" disabled: channel_not_found');
});

afterAll(async () => {
  await cleanup?.();
});

const getView = async (id = ID) => {
  const res = await fetch(`${api.url}/v1/loops/${id}`, { headers: auth });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('GET /v1/loops/:id', () => {
  test('answers what the LoopDetail schema makes of the parsed records: every field, nothing more', async () => {
    // The reference: the records parsed and serialized by the route's response schema.
    const ref = Fastify();
    for (const s of [ErrorBody, ...SHARED_SCHEMAS]) ref.addSchema(s);
    const { failingTests: _f, stages: _s, ...cycle1 } = CYCLE;
    const { result: _r, ...deploy } = STAGE;
    const expected = {
      ...LOOP,
      notices: ['Slack webhook "team" disabled: channel_not_found'],
      links: loopLinks(ID),
      cycles: [
        { ...cycle1, hasReport: true, stages: { deploy, test: { stage: 'test', status: 'succeeded', startedAt: now, attempts: 1 } } },
        { loopId: ID, n: 2, commit: 'd'.repeat(40), startedAt: now, hasReport: false, stages: {} },
      ],
    };
    ref.get('/', { schema: { response: { 200: { $ref: 'LoopDetail#' } } } }, async () => expected);
    const serialized = (await ref.inject({ method: 'GET', url: '/' })).json();
    await ref.close();

    const { status, body } = await getView();
    expect(status).toBe(200);
    expect(body).toEqual(serialized);
    expect(JSON.stringify(body)).not.toContain('not in the view');
    expect(JSON.stringify(body)).not.toContain('quoted');
  });

  test('a change a worker writes shows on the next request, though answers are kept in memory', async () => {
    await getView();
    await t.store.saveStage(ID, 2, { stage: 'deploy', status: 'running', startedAt: now, attempts: 1, summary: 'deploying api' });
    const deadline = Date.now() + 1000;
    let cycles: { stages: Record<string, { summary?: string }> }[] = [];
    while (Date.now() < deadline) {
      cycles = (await getView()).body.cycles as typeof cycles;
      if (cycles[1]?.stages.deploy) break;
    }
    expect(cycles[1]?.stages.deploy?.summary).toBe('deploying api');
  });

  test('an unknown loop is a 404, and becomes visible as soon as it is created', async () => {
    expect((await getView('view-loop-0003')).status).toBe(404);
    await t.store.createLoop({ ...LOOP, id: 'view-loop-0003' });
    const deadline = Date.now() + 1000;
    let status = 404;
    while (status === 404 && Date.now() < deadline) status = (await getView('view-loop-0003')).status;
    expect(status).toBe(200);
  });
});
