import { addJob, LoopStore, recordFixerSpend, recordFixOutcome, recordStageDuration } from '@greenloop/core';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { runningLoop, setupTestApi, type TestApi } from '../../testing.ts';

let t: TestApi;

beforeEach(async () => {
  t = await setupTestApi();
});

afterEach(async () => {
  await t.cleanup();
});

test('/metrics shows loops by state, queue depths, stage duration histograms and fixer outcomes', async () => {
  await t.store.createLoop(runningLoop('metrics-1'));
  await t.store.createLoop(runningLoop('metrics-2', { environment: 'production', state: 'green' }));
  await addJob(t.queues, 'stage.deploy', { loopId: 'metrics-1', cycle: 1 });
  await recordStageDuration(t.store.redis, t.store.prefix, 'deploy', 700);
  await recordStageDuration(t.store.redis, t.store.prefix, 'deploy', 12_000);
  await recordStageDuration(t.store.redis, t.store.prefix, 'test', 2 * 3_600_000);
  await recordFixOutcome(t.store.redis, t.store.prefix, 'accepted');
  await recordFixOutcome(t.store.redis, t.store.prefix, 'accepted');
  await recordFixOutcome(t.store.redis, t.store.prefix, 'rejected');
  await recordFixerSpend(t.store.redis, t.store.prefix, 'staging', { usd: 0.1, inputTokens: 1000, outputTokens: 20 });
  await recordFixerSpend(t.store.redis, t.store.prefix, 'staging', { usd: 0.2, inputTokens: 500 });
  await recordFixerSpend(t.store.redis, t.store.prefix, 'production', { outputTokens: 7 });

  const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: t.auth('viewer') });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
  const lines = res.body.split('\n');
  expect(lines).toContain('greenloop_loops{state="running"} 1');
  expect(lines).toContain('greenloop_loops{state="green"} 1');
  expect(lines).toContain('greenloop_queue_jobs{queue="deploy",state="waiting"} 1');
  expect(lines).toContain('greenloop_queue_jobs{queue="schedules",state="waiting"} 0');
  expect(lines).toContain('# TYPE greenloop_stage_duration_seconds histogram');
  expect(lines).toContain('greenloop_stage_duration_seconds_bucket{stage="deploy",le="1"} 1');
  expect(lines).toContain('greenloop_stage_duration_seconds_bucket{stage="deploy",le="5"} 1');
  expect(lines).toContain('greenloop_stage_duration_seconds_bucket{stage="deploy",le="15"} 2');
  expect(lines).toContain('greenloop_stage_duration_seconds_bucket{stage="deploy",le="+Inf"} 2');
  expect(lines).toContain('greenloop_stage_duration_seconds_sum{stage="deploy"} 12.7');
  expect(lines).toContain('greenloop_stage_duration_seconds_count{stage="deploy"} 2');
  expect(lines).toContain('greenloop_stage_duration_seconds_bucket{stage="test",le="3600"} 0');
  expect(lines).toContain('greenloop_stage_duration_seconds_bucket{stage="test",le="+Inf"} 1');
  expect(lines).toContain('greenloop_fix_outcomes_total{outcome="accepted"} 2');
  expect(lines).toContain('greenloop_fix_outcomes_total{outcome="rejected"} 1');
  expect(lines).toContain('greenloop_fix_outcomes_total{outcome="timed-out"} 0');
  expect(lines).toContain('# TYPE greenloop_fixer_spend_usd_total counter');
  expect(lines).toContain('greenloop_fixer_spend_usd_total{environment="staging"} 0.3');
  expect(lines).toContain('greenloop_fixer_input_tokens_total{environment="staging"} 1500');
  expect(lines).toContain('greenloop_fixer_output_tokens_total{environment="staging"} 20');
  expect(lines).toContain('greenloop_fixer_spend_usd_total{environment="production"} 0');
  expect(lines).toContain('greenloop_fixer_output_tokens_total{environment="production"} 7');
});

test('/healthz answers without a token and says when Redis is gone', async () => {
  const ok = await t.app.inject({ method: 'GET', url: '/healthz' });
  expect(ok.json()).toEqual({ status: 'ok', redis: 'ok' });
  const conn = t.store.redis.duplicate();
  // A store whose connection is closed stands in for a Redis that went away.
  const dead = await setupTestApi({ deps: { store: new LoopStore(conn, t.store.prefix) } });
  conn.disconnect();
  const down = await dead.app.inject({ method: 'GET', url: '/healthz' });
  expect(down.statusCode).toBe(503);
  expect(down.json()).toEqual({ status: 'unavailable', redis: 'down' });
  const loops = await dead.app.inject({ method: 'GET', url: '/v1/loops/abcdef-1', headers: dead.auth('bootstrap') });
  expect(loops.statusCode).toBe(503);
  expect(loops.json().code).toBe('REDIS_UNAVAILABLE');
  await dead.cleanup();
});
