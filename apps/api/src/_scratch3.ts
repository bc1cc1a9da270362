import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createQueues, LoopStore, readEnv, Redis, TokenStore } from '@greenloop/core';
import { buildApp } from './app.ts';
import { createConfigLoader } from './config-loader.ts';

const autocannon = createRequire(import.meta.url)('autocannon') as (o: object, cb: (e: Error | null, r: { requests: { average: number }; non2xx: number }) => void) => void;
const run = (o: object) => new Promise<{ requests: { average: number }; non2xx: number }>((res, rej) => autocannon(o, (e, r) => (e ? rej(e) : res(r))));
const prefix = 'glscratch3';
if (!process.argv.includes('--serve')) {
  const redis = new Redis('redis://127.0.0.1:6379');
  const store = new LoopStore(redis, prefix);
  await store.clearAll();
  const { token } = await new TokenStore(redis, prefix).create({ name: 'b', role: 'admin', createdBy: 'x' });
  const now = new Date().toISOString();
  await store.createLoop({ id: 'loop-c2-0001', environment: 'staging', state: 'running', createdAt: now, startedBy: { kind: 'api', name: 'b' }, cycle: 2 });
  for (const n of [1, 2]) await store.saveCycle({ loopId: 'loop-c2-0001', n, commit: 'a', startedAt: now, stages: {} });
  const child = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir=/tmp/prof', fileURLToPath(import.meta.url), '--serve'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((r) => createInterface({ input: child.stdout }).once('line', r));
  const r = await run({ url: `${url}/v1/loops/loop-c2-0001`, headers: { authorization: `Bearer ${token}` }, connections: 50, duration: 10 });
  console.log(Math.round(r.requests.average), r.non2xx);
  child.kill('SIGINT');
  await new Promise((r) => child.once('exit', r));
  await store.clearAll();
  redis.disconnect();
} else {
  const repo = mkdtempSync(join(tmpdir(), 'scr-'));
  writeFileSync(join(repo, 'greenloop.yaml'), 'version: 1\nenvironments:\n  staging:\n    services:\n      - name: api\n        deploy: { provider: local, command: ["x"] }\n    tests: { command: ["x"] }\n');
  const redis = new Redis('redis://127.0.0.1:6379', { enableAutoPipelining: process.env.AP === '1' });
  const env = readEnv({ GREENLOOP_PREFIX: prefix, GREENLOOP_REPO: repo });
  const app = buildApp({ env, store: new LoopStore(redis, prefix), queues: createQueues(redis, prefix), config: createConfigLoader(repo), rateLimit: { max: 1e9, timeWindowMs: 60000 }, loopViewCache: false });
  const api = await app.listen({ port: 0 });
  process.on('SIGINT', () => process.exit(0));
  console.log(api);
}
