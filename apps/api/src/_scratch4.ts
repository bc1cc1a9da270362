import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createQueues, LoopStore, readEnv, Redis, TokenStore } from '@greenloop/core';
import Fastify from 'fastify';
import { buildApp } from './app.ts';
import { createConfigLoader } from './config-loader.ts';

const autocannon = createRequire(import.meta.url)('autocannon') as (o: object, cb: (e: Error | null, r: { requests: { average: number; total: number }; non2xx: number }) => void) => void;
const run = (o: object) => new Promise<{ requests: { average: number; total: number }; non2xx: number }>((res, rej) => autocannon(o, (e, r) => (e ? rej(e) : res(r))));
const prefix = 'glscratch4';
if (!process.argv.includes('--serve')) {
  const redis = new Redis('redis://127.0.0.1:6379');
  const store = new LoopStore(redis, prefix);
  await store.clearAll();
  const { token } = await new TokenStore(redis, prefix).create({ name: 'b', role: 'admin', createdBy: 'x' });
  const now = new Date().toISOString();
  await store.createLoop({ id: 'loop-c2-0001', environment: 'staging', state: 'running', createdAt: now, startedBy: { kind: 'api', name: 'b' }, cycle: 2 });
  for (const n of [1, 2]) await store.saveCycle({ loopId: 'loop-c2-0001', n, commit: 'a', startedAt: now, stages: {} });
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const next = () => new Promise<string>((r) => lines.once('line', r));
  const urls = JSON.parse(await next()) as Record<string, string>;
  const auth = { authorization: `Bearer ${token}` };
  for (const [name, url, headers] of [['hello', urls.hello, {}], ['cached', `${urls.api}/v1/loops/loop-c2-0001`, auth], ['uncached', `${urls.raw}/v1/loops/loop-c2-0001`, auth], ['healthz', `${urls.api}/healthz`, {}], ['hello', urls.hello, {}]] as const) {
    await run({ url, headers, duration: 1 });
    child.stdin.write('start\n'); await next();
    const r = await run({ url, headers, connections: 50, duration: 4 });
    child.stdin.write('stop\n'); const cpu = Number(await next());
    console.log(name.padEnd(10), 'rps', Math.round(r.requests.average), 'server cpu µs/req', (cpu / r.requests.total).toFixed(1));
  }
  child.kill('SIGKILL');
  await store.clearAll();
  redis.disconnect();
} else {
  const repo = mkdtempSync(join(tmpdir(), 'scr-'));
  writeFileSync(join(repo, 'greenloop.yaml'), 'version: 1\nenvironments:\n  staging:\n    services:\n      - name: api\n        deploy: { provider: local, command: ["x"] }\n    tests: { command: ["x"] }\n');
  const redis = new Redis('redis://127.0.0.1:6379');
  const env = readEnv({ GREENLOOP_PREFIX: prefix, GREENLOOP_REPO: repo });
  const mk = (c: boolean) => buildApp({ env, store: new LoopStore(redis, prefix), queues: createQueues(redis, prefix), config: createConfigLoader(repo), rateLimit: { max: 1e9, timeWindowMs: 60000 }, ...(c ? {} : { loopViewCache: false as const }) });
  const hello = Fastify();
  hello.get('/', async () => ({ hello: 'world' }));
  const urls = { hello: await hello.listen({ port: 0 }), api: await mk(true).listen({ port: 0 }), raw: await mk(false).listen({ port: 0 }) };
  console.log(JSON.stringify(urls));
  let start = process.cpuUsage();
  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l === 'start') { start = process.cpuUsage(); console.log('ok'); }
    else { const u = process.cpuUsage(start); console.log(u.user + u.system); }
  });
}
