import type { LoopRecord } from '@greenloop/core';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { sseConnectionName } from '../../sse.ts';
import { setupTestApi, type TestApi } from '../../testing.ts';

let t: TestApi;

beforeEach(async () => {
  t = await setupTestApi({ deps: { sse: { heartbeatMs: 200, maxClients: 3 } } });
});

afterEach(async () => {
  await t.cleanup();
});

interface Frame {
  id?: string;
  event?: string;
  data?: string;
}

function parseFrames(text: string): Frame[] {
  return text
    .split('\n\n')
    .filter((block) => block.split('\n').some((l) => l.startsWith('data:')))
    .map((block) => {
      const f: Frame = {};
      for (const line of block.split('\n')) {
        const m = /^(id|event|data): ?(.*)$/.exec(line);
        if (m) f[m[1] as keyof Frame] = m[2];
      }
      return f;
    });
}

async function seedLoop(id: string, state: LoopRecord['state']): Promise<void> {
  await t.store.createLoop({ id, environment: 'staging', state, createdAt: new Date().toISOString(), startedBy: { kind: 'api', name: 'seed' }, cycle: 0 });
}

/** Reads an SSE response body until `until` holds or the time runs out. */
async function readUntil(res: Response, until: (text: string) => boolean, ms = 5000): Promise<string> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + ms;
  while (!until(text) && Date.now() < deadline) {
    const chunk = await Promise.race([reader.read(), new Promise<undefined>((r) => setTimeout(() => r(undefined), deadline - Date.now()))]);
    if (!chunk || chunk.done) break;
    text += decoder.decode(chunk.value, { stream: true });
  }
  reader.releaseLock();
  return text;
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('GET /v1/loops/:id/events', () => {
  test('replays a finished loop and ends after loop.finished; resumes after Last-Event-ID', async () => {
    await seedLoop('loop-sse-1', 'green');
    const ids = [
      await t.store.emit({ type: 'loop.started', loopId: 'loop-sse-1', message: 'started' }),
      await t.store.emit({ type: 'stage.started', loopId: 'loop-sse-1', cycle: 1, stage: 'deploy', message: 'deploying' }),
      await t.store.emit({ type: 'loop.finished', loopId: 'loop-sse-1', message: 'green' }),
    ];
    await t.store.emit({ type: 'notice', loopId: 'other-loop', message: 'not mine' });

    const all = await t.app.inject({ method: 'GET', url: '/v1/loops/loop-sse-1/events', headers: t.auth('viewer') });
    expect(all.statusCode).toBe(200);
    expect(all.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const frames = parseFrames(all.body);
    expect(frames.map((f) => f.event)).toEqual(['loop.started', 'stage.started', 'loop.finished']);
    expect(frames.map((f) => f.id)).toEqual(ids);
    expect(JSON.parse(frames[1]?.data ?? '{}')).toMatchObject({ type: 'stage.started', stage: 'deploy', cycle: 1, id: ids[1] });

    const resumed = await t.app.inject({
      method: 'GET',
      url: '/v1/loops/loop-sse-1/events',
      headers: { ...t.auth('viewer'), 'last-event-id': ids[0] as string },
    });
    expect(parseFrames(resumed.body).map((f) => f.id)).toEqual(ids.slice(1));
    const byQuery = await t.app.inject({ method: 'GET', url: `/v1/loops/loop-sse-1/events?lastEventId=${ids[1]}`, headers: t.auth('viewer') });
    expect(parseFrames(byQuery.body).map((f) => f.event)).toEqual(['loop.finished']);
    // Resuming after the last event of a finished loop ends at once instead of hanging.
    const afterEnd = await t.app.inject({
      method: 'GET',
      url: '/v1/loops/loop-sse-1/events',
      headers: { ...t.auth('viewer'), 'last-event-id': ids[2] as string },
    });
    expect(afterEnd.statusCode).toBe(200);
    expect(parseFrames(afterEnd.body)).toEqual([]);
    expect(t.app.eventStreams.slots.open).toBe(0);
  });

  test('rejects a malformed Last-Event-ID and unknown loops before streaming', async () => {
    await seedLoop('loop-sse-2', 'running');
    const bad = await t.app.inject({ method: 'GET', url: '/v1/loops/loop-sse-2/events', headers: { ...t.auth('viewer'), 'last-event-id': '$; FLUSHALL' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('VALIDATION');
    const unknown = await t.app.inject({ method: 'GET', url: '/v1/loops/loop-nope-1/events', headers: t.auth('viewer') });
    expect(unknown.statusCode).toBe(404);
  });

  test('live: delivers new events, sends heartbeats, and lets go of Redis when the client leaves', async () => {
    await seedLoop('loop-live-1', 'running');
    const first = await t.store.emit({ type: 'loop.started', loopId: 'loop-live-1', message: 'started' });
    const url = await t.app.listen({ port: 0, host: '127.0.0.1' });
    // This app's event-stream connections by their client name: the Redis is shared with other test files.
    const streamConnections = async () =>
      String(await t.store.redis.call('CLIENT', 'LIST'))
        .split('\n')
        .filter((l) => l.includes(` name=${sseConnectionName(t.store.prefix)} `)).length;
    const abort = new AbortController();
    const res = await fetch(`${url}/v1/loops/loop-live-1/events`, { headers: { ...t.auth('viewer'), 'last-event-id': first }, signal: abort.signal });
    expect(res.status).toBe(200);
    await waitFor(() => t.app.eventStreams.slots.open === 1);
    expect(await streamConnections()).toBe(1);
    setTimeout(() => void t.store.emit({ type: 'cycle.started', loopId: 'loop-live-1', cycle: 1, message: 'cycle 1' }), 300);
    const text = await readUntil(res, (s) => s.includes('event: cycle.started') && s.includes(': keep-alive'));
    expect(text).toContain(': keep-alive');
    expect(parseFrames(text).map((f) => f.event)).toEqual(['cycle.started']);
    abort.abort();
    await waitFor(() => t.app.eventStreams.slots.open === 0);
    await waitFor(async () => (await streamConnections()) === 0);
  });

  test('live: the stream ends by itself after loop.finished', async () => {
    await seedLoop('loop-live-2', 'running');
    const url = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const res = await fetch(`${url}/v1/loops/loop-live-2/events`, { headers: t.auth('viewer') });
    setTimeout(() => void t.store.emit({ type: 'loop.finished', loopId: 'loop-live-2', message: 'done' }), 200);
    const text = await res.text();
    expect(parseFrames(text).map((f) => f.event)).toEqual(['loop.finished']);
  });

  test('open streams are capped per process', async () => {
    await seedLoop('loop-live-3', 'running');
    const url = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const abort = new AbortController();
    const open = await Promise.all([1, 2, 3].map(() => fetch(`${url}/v1/loops/loop-live-3/events`, { headers: t.auth('viewer'), signal: abort.signal })));
    expect(open.map((r) => r.status)).toEqual([200, 200, 200]);
    const fourth = await fetch(`${url}/v1/loops/loop-live-3/events`, { headers: t.auth('viewer') });
    expect(fourth.status).toBe(503);
    expect(((await fourth.json()) as { code: string }).code).toBe('TOO_MANY_STREAMS');
    abort.abort();
    await waitFor(() => t.app.eventStreams.slots.open === 0);
  });
});

test('closing the app ends open streams instead of waiting for the clients', async () => {
  await seedLoop('loop-live-4', 'running');
  const url = await t.app.listen({ port: 0, host: '127.0.0.1' });
  const res = await fetch(`${url}/v1/events`, { headers: t.auth('viewer') });
  await waitFor(() => t.app.eventStreams.slots.open === 1);
  const started = Date.now();
  await t.app.close();
  expect(Date.now() - started).toBeLessThan(2000);
  await res.text();
  await waitFor(() => t.app.eventStreams.slots.open === 0);
});

describe('GET /v1/events', () => {
  test('tails every loop from now, or resumes after Last-Event-ID', async () => {
    await t.store.emit({ type: 'loop.queued', loopId: 'loop-old-1', message: 'old' });
    const url = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const abort = new AbortController();
    const res = await fetch(`${url}/v1/events`, { headers: t.auth('viewer'), signal: abort.signal });
    await waitFor(() => t.app.eventStreams.slots.open === 1);
    // The stream starts at the newest entry only once it is connected; give it a moment.
    await new Promise((r) => setTimeout(r, 100));
    await t.store.emit({ type: 'loop.queued', loopId: 'loop-new-1', message: 'new' });
    await t.store.emit({ type: 'loop.queued', loopId: 'loop-new-2', message: 'new' });
    const text = await readUntil(res, (s) => s.includes('loop-new-2'));
    const frames = parseFrames(text);
    expect(frames.map((f) => JSON.parse(f.data ?? '{}').loopId)).toEqual(['loop-new-1', 'loop-new-2']);
    abort.abort();

    const abort2 = new AbortController();
    const resumed = await fetch(`${url}/v1/events`, { headers: { ...t.auth('viewer'), 'last-event-id': frames[0]?.id as string }, signal: abort2.signal });
    const text2 = await readUntil(resumed, (s) => s.includes('loop-new-2'));
    expect(parseFrames(text2).map((f) => JSON.parse(f.data ?? '{}').loopId)).toEqual(['loop-new-2']);
    abort2.abort();
    await waitFor(() => t.app.eventStreams.slots.open === 0);
  });
});
