// End-to-end: the demo loop with Slack bot mode, run by two workers (BullMQ, real Redis, git, child
// processes), posting through @slack/web-api to a loopback fake of the Web API. Whichever worker takes a
// notify job, the loop has one parent message, updated in place, and one reply per cycle plus the ending.
import { join } from 'node:path';
import { closeQueues, createLogger, createQueues, startLoop } from '@greenloop/core';
import { startWorker } from '@greenloop/worker';
import { afterAll, describe, expect, it } from 'vitest';
import { type FakeSlack, type FakeSlackMessage, startFakeSlack } from '../apps/worker/src/test-support/fake-slack.ts';
import { addDemoSettings, commitAll, demoHarness, type Harness } from './demo-harness.ts';

const TOKEN = `xoxb-e2e-${Math.random().toString(36).slice(2)}-thread`;
const CHANNEL = 'C0E2ETHREAD';

describe('e2e: Slack, one thread per loop', () => {
  let fake: FakeSlack | undefined;
  let h: Harness | undefined;
  afterAll(async () => {
    await fake?.close();
    await h?.cleanup();
  });

  it('the demo loop (two workers) leaves one parent, updated to green, and a reply per cycle plus the ending', { timeout: 180_000 }, async () => {
    fake = await startFakeSlack({ tokens: [TOKEN], channels: { [CHANNEL]: {} }, minPostIntervalMs: 900 });
    const harness = demoHarness({ GREENLOOP_SLACK_API_URL: fake.apiUrl });
    h = harness;
    addDemoSettings(
      join(harness.repo, 'greenloop.yaml'),
      `    notifications: { slack: { botTokenEnv: GL_E2E_SLACK_TOKEN, channel: ${CHANNEL}, mention: [U024BE7LH] } }\n`,
    );
    commitAll(harness.repo, 'slack notifications');
    const processEnv = { ...process.env, GL_E2E_SLACK_TOKEN: TOKEN };
    const workers = [
      await startWorker(harness.env, createLogger('e2e-a', 'silent'), harness.redisUrl, processEnv),
      await startWorker(harness.env, createLogger('e2e-b', 'silent'), harness.redisUrl, processEnv),
    ];
    const queues = createQueues(harness.store.redis, harness.env.GREENLOOP_PREFIX);
    try {
      const out = await startLoop({ store: harness.store, queues }, { environment: 'demo', actor: { kind: 'cli', name: 'slack-e2e' } });
      if (out.kind !== 'created') throw new Error(out.kind);
      const loop = await harness.waitForEnd(out.loop.id, 170_000);
      expect(loop.state).toBe('green');
      const f = fake;
      // The ending is the last notification; wait for its reply.
      const ending = () => f.messages.find((m) => m.threadTs && m.text.includes('is green after'));
      for (const deadline = Date.now() + 20_000; !ending() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));

      const parents = f.parents(CHANNEL);
      expect(parents, JSON.stringify(f.calls.map((c) => `${c.method}:${c.answer}`))).toHaveLength(1);
      const parent = parents[0] as FakeSlackMessage;
      expect(parent.text).toBe(`greenloop demo: green · cycle ${loop.cycle} · 100% passing`);
      const replies = f.replies(CHANNEL, parent.ts).map((m) => m.text);
      // In order, whichever worker took which job: cycle 1 … N, then the ending.
      const order = replies.map((t) => /^demo cycle (\d+) /.exec(t)?.[1] ?? (t.includes('is green after') ? 'end' : t.slice(0, 40)));
      expect(order).toEqual([...Array.from({ length: loop.cycle }, (_, i) => String(i + 1)), 'end']);
      // Green: nobody was pinged; the parent was edited once per later event.
      expect(f.messages.some((m) => m.text.includes('<@'))).toBe(false);
      expect(parent.edits).toBeGreaterThanOrEqual(loop.cycle);
      expect(f.calls.every((c) => c.authorization === `Bearer ${TOKEN}`)).toBe(true);
    } finally {
      await closeQueues(queues);
      for (const w of workers) await w.close();
    }
  });
});
