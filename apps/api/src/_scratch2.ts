import { createRequire } from 'node:module';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import Fastify from 'fastify';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';

const autocannon = createRequire(import.meta.url)('autocannon') as (o: object, cb: (e: Error | null, r: { requests: { average: number }; non2xx: number }) => void) => void;
const run = (o: object) => new Promise<{ requests: { average: number }; non2xx: number }>((res, rej) => autocannon(o, (e, r) => (e ? rej(e) : res(r))));
const STATIC = { 'content-security-policy': "default-src 'none';frame-ancestors 'none'", 'cross-origin-opener-policy': 'same-origin', 'cross-origin-resource-policy': 'same-origin', 'origin-agent-cluster': '?1', 'referrer-policy': 'no-referrer', 'strict-transport-security': 'max-age=31536000; includeSubDomains', 'x-content-type-options': 'nosniff', 'x-dns-prefetch-control': 'off', 'x-download-options': 'noopen', 'x-frame-options': 'SAMEORIGIN', 'x-permitted-cross-domain-policies': 'none', 'x-xss-protection': '0' };
if (isMainThread) {
  const res: Record<string, number[]> = {};
  const variants = (process.argv[2] ?? 'hello,helmet,static,rl,rlnoh').split(',');
  for (let round = 0; round < 2; round++) for (const variant of variants) {
    const w = new Worker(new URL(import.meta.url), { workerData: { variant } });
    const url = await new Promise<string>((r) => w.once('message', r));
    await run({ url, duration: 1 });
    const r = await run({ url, connections: 50, duration: 4 });
    (res[variant] ??= []).push(Math.round(r.requests.average));
    await w.terminate();
  }
  console.log(res);
} else {
  const { variant } = workerData as { variant: string };
  const app = Fastify();
  if (variant === 'helmet') await app.register(helmet, { global: true });
  if (variant === 'static') app.addHook('onRequest', async (_req, reply) => { reply.headers(STATIC); });
  if (variant === 'rl') await app.register(rateLimit, { max: 1e9, timeWindow: 60000, hook: 'preHandler' });
  if (variant === 'rlnoh') await app.register(rateLimit, { max: 1e9, timeWindow: 60000, hook: 'preHandler', addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false } });
  app.get('/', async () => ({ hello: 'world' }));
  parentPort?.postMessage(await app.listen({ port: 0 }));
}
