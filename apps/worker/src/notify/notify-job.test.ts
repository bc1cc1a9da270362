// Notifications at least once: a real worker, its notify queue, and a loopback "Slack" that answers 429.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { addJob, closeQueues, createLogger, createQueues, type Queues } from '@greenloop/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDemoSettings, commitAll, demoHarness } from '../../../../test/demo-harness.ts';
import { type RunningWorker, startWorker } from '../worker.ts';
import { NOTIFY_MAX_RETRY_AFTER_MS } from './notify-job.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('notify job (real worker, loopback webhook)', () => {
  const h = demoHarness();
  let worker: RunningWorker;
  let queues: Queues;
  let server: Server;
  /** Answers queued per request; 200 "ok" when empty. */
  const answers: { status: number; retryAfter?: string }[] = [];
  const seen: number[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        seen.push(Date.now());
        const a = answers.shift() ?? { status: 200 };
        res.writeHead(a.status, { 'content-type': 'text/plain', ...(a.retryAfter ? { 'retry-after': a.retryAfter } : {}) });
        res.end(a.status === 200 ? 'ok' : 'rate_limited');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    addDemoSettings(join(h.repo, 'greenloop.yaml'), '    notifications: { slack: { webhookUrlEnv: GL_TEST_SLACK_URL } }\n');
    commitAll(h.repo, 'slack notifications');
    worker = await startWorker(h.env, createLogger('test', 'silent'), h.redisUrl, { PATH: process.env.PATH, GL_TEST_SLACK_URL: url });
    queues = createQueues(h.store.redis, h.env.GREENLOOP_PREFIX);
    await h.store.createLoop({
      id: 'mnotif-00000001',
      environment: 'demo',
      state: 'running',
      createdAt: new Date().toISOString(),
      startedBy: { kind: 'cli', name: 't' },
      cycle: 0,
    });
  });
  afterAll(async () => {
    await worker?.close();
    await closeQueues(queues);
    server?.close();
    await h.cleanup();
  });

  it('429 with Retry-After: 2, then 200 → delivered once, retried after the Retry-After, never posted twice', { timeout: 30_000 }, async () => {
    answers.push({ status: 429, retryAfter: '2' });
    const job = await addJob(queues, 'notify', { loopId: 'mnotif-00000001', kind: 'loop-started' }, { jobId: 'n1' });
    const deadline = Date.now() + 20_000;
    while ((await job.getState()) !== 'completed' && Date.now() < deadline) await sleep(100);
    expect(await job.getState()).toBe('completed');
    expect(seen).toHaveLength(2);
    const gap = (seen[1] as number) - (seen[0] as number);
    // Retry-After, not the 5 s default backoff.
    expect(gap).toBeGreaterThanOrEqual(2000);
    expect(gap).toBeLessThan(4500);
    // The same notification again (a replayed or duplicated job): already sent, nothing posted.
    const again = await addJob(queues, 'notify', { loopId: 'mnotif-00000001', kind: 'loop-started' }, { jobId: 'n1-again' });
    while ((await again.getState()) !== 'completed' && Date.now() < deadline + 5000) await sleep(100);
    expect(seen).toHaveLength(2);
  });

  it('a notification that fails for good leaves a notice on the loop (onFinalFailure)', async () => {
    seen.length = 0;
    answers.push({ status: 503 });
    await addJob(queues, 'notify', { loopId: 'mnotif-00000001', kind: 'loop-finished' }, { jobId: 'n3', attempts: 1 });
    const deadline = Date.now() + 10_000;
    let notices: string[] = [];
    while (Date.now() < deadline) {
      notices = (await h.store.getLoop('mnotif-00000001'))?.notices ?? [];
      if (notices.some((n) => n.includes('loop-finished notification was not delivered'))) break;
      await sleep(100);
    }
    expect(seen).toHaveLength(1);
    expect(notices.find((n) => n.includes('not delivered'))).toMatch(
      /^the loop-finished notification was not delivered after 1 attempt\(s\): notification not delivered to slack/,
    );
  });

  it('a long Retry-After (10 min) delays the job that long instead of dropping the notification', async () => {
    seen.length = 0;
    answers.push({ status: 429, retryAfter: '600' });
    const before = Date.now();
    const job = await addJob(queues, 'notify', { loopId: 'mnotif-00000001', kind: 'loop-finished' }, { jobId: 'n2' });
    const deadline = Date.now() + 10_000;
    while ((await job.getState()) !== 'delayed' && Date.now() < deadline) await sleep(100);
    expect(await job.getState()).toBe('delayed');
    expect(seen).toHaveLength(1);
    // BullMQ scores delayed jobs as timestamp * 4096 + counter.
    const score = Number(await h.store.redis.zscore(`${h.env.GREENLOOP_PREFIX}:notify:delayed`, 'n2'));
    const at = Math.floor(score / 4096);
    expect(at - before).toBeGreaterThanOrEqual(600_000);
    expect(at - before).toBeLessThan(610_000);
  });

  it('a Retry-After beyond the cap (a day) delays the job by the cap, not a day', async () => {
    seen.length = 0;
    answers.push({ status: 429, retryAfter: String(24 * 3600) });
    const before = Date.now();
    const job = await addJob(queues, 'notify', { loopId: 'mnotif-00000001', kind: 'loop-finished' }, { jobId: 'n4' });
    const deadline = Date.now() + 10_000;
    while ((await job.getState()) !== 'delayed' && Date.now() < deadline) await sleep(100);
    expect(await job.getState()).toBe('delayed');
    expect(seen).toHaveLength(1);
    const at = Math.floor(Number(await h.store.redis.zscore(`${h.env.GREENLOOP_PREFIX}:notify:delayed`, 'n4')) / 4096);
    expect(NOTIFY_MAX_RETRY_AFTER_MS).toBe(3_600_000);
    expect(at - before).toBeGreaterThanOrEqual(NOTIFY_MAX_RETRY_AFTER_MS);
    expect(at - before).toBeLessThan(NOTIFY_MAX_RETRY_AFTER_MS + 10_000);
  });
});
