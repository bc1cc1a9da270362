import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { freePort, type ResolvedRedis, readEnv, resolveRedis } from '@greenloop/core';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningApi, startApi } from './server.ts';
import { TEST_CONFIG } from './testing.ts';

const TOKEN = 'outage-test-bootstrap-token';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the API under a Redis outage (real redis-server)', () => {
  const home = mkdtempSync(join(tmpdir(), 'gl-api-outage-'));
  const repo = mkdtempSync(join(tmpdir(), 'gl-api-outage-repo-'));
  writeFileSync(join(repo, 'greenloop.yaml'), TEST_CONFIG);
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  let server: ResolvedRedis | undefined;
  let api: RunningApi | undefined;
  afterAll(async () => {
    await api?.close();
    await server?.stop();
    rmSync(home, { recursive: true, force: true });
    rmSync(repo, { recursive: true, force: true });
  });

  it('logs one line when Redis goes away and one when it is back, and answers again', { timeout: 40_000 }, async () => {
    const port = await freePort();
    const start = () => resolveRedis({ home, log: pino({ level: 'silent' }), pathVar: process.env.PATH, port });
    server = await start();
    const env = readEnv({
      GREENLOOP_HOME: home,
      GREENLOOP_REPO: repo,
      GREENLOOP_PREFIX: 'gl-outage',
      GREENLOOP_API_TOKEN: TOKEN,
      REDIS_URL: server.url,
      PORT: '0',
    });
    api = await startApi(env, pino({ level: 'info' }, sink), server.url);
    expect((await fetch(`${api.url}/healthz`)).status).toBeLessThan(500);

    await server.stop();
    await sleep(3000); // every connection (producer, reader, near cache, queues) fails its reconnects
    server = await start();
    const deadline = Date.now() + 10_000;
    while (!lines.some((l) => l.redis === 'reconnected') && Date.now() < deadline) await sleep(100);

    const states = lines.filter((l) => l.redis !== undefined).map((l) => l.redis);
    expect(states).toEqual(['lost', 'reconnected']);
    expect(lines.find((l) => l.redis === 'reconnected')?.suppressed as number).toBeGreaterThan(3);
    // The old per-error line is gone.
    expect(lines.filter((l) => l.msg === 'redis connection error')).toHaveLength(0);
    const res = await fetch(`${api.url}/v1/loops`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
  });
});
