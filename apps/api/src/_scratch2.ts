import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import Fastify from 'fastify';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import { Redis } from '@greenloop/core';
import { API_SECURITY_HEADERS } from './plugins/security.ts';

const autocannon = createRequire(import.meta.url)('autocannon') as (o: object, cb: (e: Error | null, r: { requests: { average: number }; non2xx: number }) => void) => void;
const run = (o: object) => new Promise<{ requests: { average: number }; non2xx: number }>((res, rej) => autocannon(o, (e, r) => (e ? rej(e) : res(r))));
if (isMainThread) {
  const variants = (process.argv[2] ?? 'static,helmetoff,rl,authhook,redis1,redis3,schema').split(',');
  const out: Record<string, number[]> = {};
  const start = async (variant: string) => { const w = new Worker(new URL(import.meta.url), { workerData: { variant } }); const url = await new Promise<string>((r) => w.once('message', r)); return { w, url }; };
  const hello = await start('hello');
  for (let round = 0; round < 3; round++) for (const v of variants) {
    const s = await start(v);
    await run({ url: s.url, duration: 1 });
    const h = await run({ url: hello.url, connections: 50, duration: 3 });
    const r = await run({ url: s.url, connections: 50, duration: 3 });
    (out[v] ??= []).push(Math.round((r.requests.average / h.requests.average) * 100) / 100);
    await s.w.terminate();
  }
  await hello.w.terminate();
  console.log(out);
} else {
  const { variant } = workerData as { variant: string };
  const app = Fastify();
  const redis = new Redis('redis://127.0.0.1:6379');
  if (variant === 'static') app.addHook('onRequest', async (_req, reply) => { reply.headers(API_SECURITY_HEADERS); });
  if (variant === 'helmetoff') await app.register(helmet, { global: false });
  if (variant === 'rl') await app.register(rateLimit, { max: 1e9, timeWindow: 60000, hook: 'preHandler', addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false } });
  const cache = new Map<string, number>();
  if (variant === 'authhook') app.addHook('onRequest', async (req) => { const h = createHash('sha256').update(String(req.headers['user-agent'] ?? 'x')).digest('hex'); cache.set(h, 1); });
  await redis.set('scratch:k', JSON.stringify({ id: 'x', state: 'running', environment: 'staging', cycle: 2, createdAt: new Date().toISOString() }));
  if (variant === 'redis1') app.get('/', async () => JSON.parse((await redis.get('scratch:k')) as string));
  else if (variant === 'redis3') app.get('/', async () => { const l = JSON.parse((await redis.get('scratch:k')) as string); await Promise.all([redis.mget('scratch:k', 'a', 'b', 'c', 'd', 'e'), redis.mget('scratch:k', 'a', 'b', 'c', 'd', 'e')]); return l; });
  else if (variant === 'schema') app.get('/', { schema: { response: { 200: { type: 'object', properties: { hello: { type: 'string' } } } } } }, async () => ({ hello: 'world' }));
  else app.get('/', async () => ({ hello: 'world' }));
  parentPort?.postMessage(await app.listen({ port: 0 }));
}
