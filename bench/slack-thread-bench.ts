// Slack noise and cost per loop: thread mode (bot token, one parent per loop) vs incoming-webhook mode
// (one channel message per event). Drives the notifier for simulated loops through the real
// @slack/web-api client against the loopback fake of the Web API, with real Redis, and prints messages
// that land in the channel, thread replies, mentions, Web API calls and per-event latency.
// Spacing between posts (1/s per channel in production) is off here: it measures greenloop, not the wait.
//   REDIS_URL=redis://127.0.0.1:6379 node bench/slack-thread-bench.ts [loops=20] [cycles=5]
// (`npm run bench -- slack` runs it with the defaults.)
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, type LoopRecord, LoopStore, Redis } from '@greenloop/core';
import { ANALYZED } from '@greenloop/core/testing';
import { type NotificationsConfig, type NotifyKind, notify } from '../apps/worker/src/notify/notifier.ts';
import { startFakeSlack } from '../apps/worker/src/test-support/fake-slack.ts';
import { figure } from './figure.ts';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const TOKEN = 'xoxb-bench-0000-1111-benchbenchbench';
const CHANNEL = 'C0BENCH01';

export async function main(loops = 20, cycles = 5): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const store = new LoopStore(redis, `glslackbench-${Date.now().toString(36)}`);
  const log = createLogger('bench', 'silent');
  const fake = await startFakeSlack({ tokens: [TOKEN], channels: { [CHANNEL]: {} } });
  let hookPosts = 0;
  const hook = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hookPosts++;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/services/T0/B0/bench`;

  const modes: { name: string; config: NotificationsConfig; env: Record<string, string> }[] = [
    { name: 'thread (bot token)', config: { slack: { botTokenEnv: 'TOKEN', channel: CHANNEL, mention: ['U024BE7LH'] } }, env: { TOKEN } },
    { name: 'incoming webhook', config: { slack: { webhookUrlEnv: 'HOOK' } }, env: { HOOK: hookUrl } },
  ];

  try {
    for (const mode of modes) {
      const before = { calls: fake.calls.length, messages: fake.messages.length, hook: hookPosts };
      const latencies: number[] = [];
      for (let i = 0; i < loops; i++) {
        const loop: LoopRecord = {
          id: `bench${i}-${mode.name.length}${Date.now().toString(36)}`,
          environment: 'payments',
          state: 'running',
          createdAt: new Date().toISOString(),
          startedBy: { kind: 'schedule', name: 'nightly' },
          cycle: 0,
        };
        await store.createLoop(loop);
        const send = async (kind: NotifyKind, cycle?: number) => {
          const t = performance.now();
          const out = await notify(
            {
              store,
              env: mode.env,
              config: mode.config,
              baseUrl: 'http://greenloop.test',
              log,
              slackApiUrl: fake.apiUrl,
              slackMinIntervalMs: 0,
              policy: { maxAttempts: 1 },
            },
            { loopId: loop.id, kind, ...(cycle ? { cycle } : {}) },
          );
          latencies.push(performance.now() - t);
          if (out.channels[0]?.status !== 'sent') throw new Error(`${mode.name}: ${JSON.stringify(out.channels)}`);
        };
        await send('loop-started');
        for (let n = 1; n <= cycles; n++) {
          const passed = Math.min(10, 5 + n);
          const totals = { ...ANALYZED.totals, total: 10, passed, failed: 10 - passed };
          await store.saveCycle({ loopId: loop.id, n, commit: `c0ffee${n}`, startedAt: new Date().toISOString(), totals, stages: {} });
          await store.saveStage(loop.id, n, {
            stage: 'analyze',
            status: 'succeeded',
            startedAt: new Date().toISOString(),
            attempts: 1,
            result: { ...ANALYZED, totals },
          });
          await store.saveLoop({ ...loop, cycle: n });
          await send('cycle-finished', n);
        }
        await store.saveLoop({ ...loop, cycle: cycles, state: 'stopped', stop: { rule: 'max-cycles', message: `${cycles} cycles` } });
        await send('loop-finished');
      }
      const calls = fake.calls.slice(before.calls);
      const posted = fake.messages.slice(before.messages);
      const channelMessages = mode.name.startsWith('thread') ? posted.filter((m) => !m.threadTs).length : hookPosts - before.hook;
      const replies = posted.filter((m) => m.threadTs).length;
      const mentions = posted.filter((m) => m.text.includes('<@')).length;
      latencies.sort((a, b) => a - b);
      const q = (p: number) => (latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0).toFixed(1);
      console.log(
        `${mode.name}: ${loops} loops × ${cycles} cycles → per loop ${(channelMessages / loops).toFixed(1)} channel messages, ${(replies / loops).toFixed(1)} thread replies, ` +
          `${(mentions / loops).toFixed(1)} mentions, ${(calls.length / loops).toFixed(1)} Web API calls (${calls.filter((c) => c.method === 'chat.update').length / loops} updates); ` +
          `per event p50 ${q(0.5)} ms, p95 ${q(0.95)} ms`,
      );
      const key = mode.name.startsWith('thread') ? 'thread' : 'webhook';
      figure(`slack.${key}.channel-messages`, channelMessages / loops, 'per-loop');
      figure(`slack.${key}.web-api-calls`, calls.length / loops, 'per-loop');
      figure(`slack.${key}.event.p95`, Number(q(0.95)), 'ms');
    }
  } finally {
    await fake.close();
    hook.close();
    await store.clearAll();
    redis.disconnect();
  }
}

if (import.meta.main) await main(Number(process.argv[2] ?? 20), Number(process.argv[3] ?? 5));
