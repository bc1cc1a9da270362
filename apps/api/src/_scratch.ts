import { createRequire } from 'node:module';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createQueues, LoopStore, readEnv, Redis, TokenStore } from '@greenloop/core';
import Fastify from 'fastify';
import { buildApp } from './app.ts';
import { createConfigLoader } from './config-loader.ts';

const autocannon = createRequire(import.meta.url)('autocannon') as (o: object, cb: (e: Error | null, r: { requests: { average: number }; non2xx: number }) => void) => void;
const run = (o: object) => new Promise<{ requests: { average: number }; non2xx: number }>((res, rej) => autocannon(o, (e, r) => (e ? rej(e) : res(r))));

if (isMainThread) {
  const prefix = 'glscratch';
  const redis = new Redis('redis://127.0.0.1:6379');
  const store = new LoopStore(redis, prefix);
  await store.clearAll();
  const { token } = await new TokenStore(redis, prefix).create({ name: 'b', role: 'admin', createdBy: 'x' });
  const now = new Date().toISOString();
  await store.createLoop({ id: 'loop-c0-0001', environment: 'staging', state: 'running', createdAt: now, startedBy: { kind: 'api', name: 'b' }, cycle: 0 });
  await store.createLoop({ id: 'loop-c2-0001', environment: 'staging', state: 'running', createdAt: now, startedBy: { kind: 'api', name: 'b' }, cycle: 2 });
  for (const n of [1, 2]) await store.saveCycle({ loopId: 'loop-c2-0001', n, commit: 'a', startedAt: now, stages: {} });
  const w = new Worker(new URL(import.meta.url), { workerData: { prefix, variant: process.argv[2] } });
  const urls = await new Promise<{ hello: string; api: string }>((r) => w.once('message', r));
  const auth = { authorization: `Bearer ${token}` };
  const load = { connections: 50, duration: 5 };
  await run({ url: urls.hello, duration: 1 });
  const h = await run({ url: urls.hello, ...load });
  for (const [name, path, headers] of [['healthz', '/healthz', {}], ['404 public', '/nope', {}], ['loop c0', '/v1/loops/loop-c0-0001', auth], ['loop c2', '/v1/loops/loop-c2-0001', auth], ['loops list', '/v1/loops?limit=2', auth]] as const) {
    await run({ url: urls.api + path, headers, duration: 1 });
    const r = await run({ url: urls.api + path, headers, ...load });
    console.log(process.argv[2] ?? 'full', name.padEnd(12), Math.round(r.requests.average), (r.requests.average / h.requests.average).toFixed(2), r.non2xx ? `non2xx=${r.non2xx}` : '');
  }
  console.log('hello', Math.round(h.requests.average));
  await w.terminate();
  await store.clearAll();
  redis.disconnect();
} else {
  const { prefix, variant } = workerData as { prefix: string; variant?: string };
  const repo = mkdtempSync(join(tmpdir(), 'scr-'));
  writeFileSync(join(repo, 'greenloop.yaml'), 'version: 1\nenvironments:\n  staging:\n    services:\n      - name: api\n        deploy: { provider: local, command: ["x"] }\n    tests: { command: ["x"] }\n');
  const hello = Fastify();
  hello.get('/', async () => ({ hello: 'world' }));
  const helloUrl = await hello.listen({ port: 0 });
  const redis = new Redis('redis://127.0.0.1:6379');
  const env = readEnv({ GREENLOOP_PREFIX: prefix, GREENLOOP_REPO: repo });
  const app = buildApp({ env, store: new LoopStore(redis, prefix), queues: createQueues(redis, prefix), config: createConfigLoader(repo), rateLimit: variant === 'norl' ? false : { max: 1e9, timeWindowMs: 60000 }, docs: variant !== 'nodocs', adminQueues: variant !== 'nodocs' });
  const api = await app.listen({ port: 0 });
  parentPort?.postMessage({ hello: helloUrl, api });
}
