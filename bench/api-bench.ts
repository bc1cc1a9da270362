/**
 * API benchmark. Run: `node bench/api-bench.ts` (uses REDIS_URL, a Redis on 127.0.0.1:6379, or starts
 * an embedded redis-server).
 *
 * 1. Throughput of GET /v1/loops/:id — the API as startApi runs it: bearer auth on, rate limiter on (not
 *    binding), security headers, every answer read from Redis (no cache) — for a loop in its third
 *    cycle with the records a real one has (13 stage records, large analyze results), divided by a bare
 *    Fastify hello-world measured in the same run, same machine, same autocannon settings. Goal: ≥ 0.6.
 * 2. Latency of POST /v1/loops at a fixed 200 requests/s: every request names a different environment
 *    (the config declares 2,000), so each one really starts a loop: claim, record, BullMQ job, event,
 *    audit entry.
 *
 * Both servers run in one child process, so autocannon (this process) does not steal their event loop.
 * Everything lives under a fresh key prefix that is deleted at the end.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { LoopRecord } from '@greenloop/core';
import { createLogger, LoopStore, Redis, readEnv, resolveRedis, resolveTokenSecret, TokenStore } from '@greenloop/core';
import { figure } from './figure.ts';

/** The part of autocannon's API used here (it ships no types, and @types/autocannon is not installed). */
interface CannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (req: CannonRequest) => CannonRequest;
  onResponse?: (status: number, body: string) => void;
}
interface CannonOptions {
  url: string;
  connections?: number;
  pipelining?: number;
  duration?: number;
  amount?: number;
  overallRate?: number;
  headers?: Record<string, string>;
  requests?: CannonRequest[];
}
interface CannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number; max: number };
  non2xx: number;
}
type Autocannon = (opts: CannonOptions, done: (err: Error | null, result: CannonResult) => void) => unknown;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const ENVIRONMENTS = 2100;
const LOOP_ID = 'bench-loop-0001';

export interface ApiBenchResult {
  helloRps: number;
  getLoopRps: number;
  /** Median of the per-round ratios. */
  ratio: number;
  ratios: number[];
  getLoopP99Ms: number;
  /** The same route without the near cache: every answer read from Redis. */
  directRps: number;
  directRatio: number;
  /** How often the loop changed while it was being read (the cache must follow). */
  loopChanges: number;
  /** Size of the loop view answered. */
  viewBytes: number;
  post: { rate: number; answered: number; accepted: number; other: Record<string, number>; p50Ms: number; p99Ms: number; maxMs: number };
}

function configYaml(): string {
  const lines = ['version: 1', 'environments:'];
  for (let i = 0; i < ENVIRONMENTS; i++) {
    lines.push(
      `  env-${i}:`,
      '    services:',
      '      - name: api',
      '        deploy: { provider: local, command: ["node", "server.js"] }',
      '    tests: { command: ["npm", "test"] }',
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Child mode: a bare Fastify hello-world and the API as `greenloop up` runs it (startApi: its Redis
 * connections, auth, rate limiter, security headers, logger), on free ports; prints their URLs as one
 * JSON line.
 */
async function serve(): Promise<void> {
  const [{ default: Fastify }, { startApi }] = await Promise.all([import('fastify'), import('@greenloop/api')]);
  const env = readEnv(process.env);
  const hello = Fastify({ logger: false });
  hello.get('/', async () => ({ hello: 'world' }));
  const helloUrl = await hello.listen({ port: 0, host: '127.0.0.1' });
  // The rate limiter is on, so its cost is measured, with a budget far above what the benchmark sends.
  const rateLimit = { max: 100_000_000, timeWindowMs: 60_000 };
  const api = await startApi(env, createLogger('api', 'warn'), env.REDIS_URL as string, { rateLimit });
  // The same without the near cache: every answer read from Redis (one HGETALL).
  const direct = await startApi(env, createLogger('api', 'warn'), env.REDIS_URL as string, { rateLimit, nearCache: false });
  process.stdout.write(`${JSON.stringify({ helloUrl, apiUrl: api.url, directUrl: direct.url })}\n`);
  process.on('SIGTERM', () => {
    void Promise.all([api.close(), direct.close(), hello.close()]).then(() => process.exit(0));
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function run(opts: CannonOptions): Promise<CannonResult> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

export interface ApiBenchOptions {
  /** Redis to use; unset: one on 127.0.0.1:6379, else an embedded redis-server. */
  redisUrl?: string;
  /** API rounds (default 10) of `seconds` each (default 2), each between two hello-world rounds. */
  rounds?: number;
  seconds?: number;
  pathVar?: string;
}

export async function main(opts: ApiBenchOptions = {}): Promise<ApiBenchResult> {
  const log = createLogger('bench', 'warn');
  const home = mkdtempSync(join(tmpdir(), 'greenloop-bench-home-'));
  const repo = mkdtempSync(join(tmpdir(), 'greenloop-bench-repo-'));
  writeFileSync(join(repo, 'greenloop.yaml'), configYaml());
  const redisInfo = await resolveRedis({
    ...(opts.redisUrl ? { redisUrl: opts.redisUrl } : {}),
    home,
    log,
    ...(opts.pathVar ? { pathVar: opts.pathVar } : {}),
  });
  const prefix = `glbench-${randomBytes(4).toString('hex')}`;
  const redis = new Redis(redisInfo.url, { maxRetriesPerRequest: null });
  const store = new LoopStore(redis, prefix);
  let child: ChildProcess | undefined;
  try {
    // The token secret file in `home` is the one the API started below (same GREENLOOP_HOME) reads.
    const tokens = new TokenStore(redis, prefix, { secret: resolveTokenSecret({ home }) });
    const { token } = await tokens.create({ name: 'bench', role: 'operator', createdBy: 'bench' });
    // A loop in its third cycle, recorded the way a worker records one: cycles 1 and 2 went through
    // every stage (their analyze results are large, as real ones are, and must not be read), cycle 3
    // is testing.
    const now = new Date().toISOString();
    const loop: LoopRecord = {
      id: LOOP_ID,
      environment: 'env-0',
      state: 'running',
      createdAt: now,
      startedAt: now,
      startedBy: { kind: 'api', name: 'bench' },
      cycle: 3,
      stage: 'test',
      branch: `greenloop/${LOOP_ID}`,
      baseCommit: 'b'.repeat(40),
      commit: 'a'.repeat(40),
      latest: { total: 120, passed: 117, failed: 3, skipped: 0, durationMs: 58_000 },
    };
    await store.createLoop(loop);
    for (const n of [1, 2, 3]) {
      await store.saveCycle({
        loopId: LOOP_ID,
        n,
        commit: 'a'.repeat(40),
        startedAt: now,
        ...(n < 3 ? { finishedAt: now, totals: { total: 120, passed: 100 + 8 * n, failed: 20 - 8 * n, skipped: 0, durationMs: 61_000 }, green: false } : {}),
        ...(n < 3
          ? { failingTests: Array.from({ length: 20 }, (_, i) => `suite ${i} > test ${i}`), failingFingerprints: ['a1b2c3d4e5f6', 'f6e5d4c3b2a1'] }
          : {}),
        ...(n < 3
          ? {
              report: {
                markdown: `/var/greenloop/artifacts/${LOOP_ID}/cycle-${n}/analyze/report.md`,
                json: `/var/greenloop/artifacts/${LOOP_ID}/cycle-${n}/analyze/report.json`,
              },
            }
          : {}),
        stages: {},
      });
      const stages = n < 3 ? (['deploy', 'test', 'analyze', 'fix', 'integrate'] as const) : (['deploy', 'test'] as const);
      for (const stage of stages) {
        const running = n === 3 && stage === 'test';
        await store.saveStage(LOOP_ID, n, {
          stage,
          status: running ? 'running' : 'succeeded',
          startedAt: now,
          ...(running ? {} : { finishedAt: now }),
          attempts: 1,
          summary: `${stage}: 3 services, 120 tests, 2 clusters, 2 fixes accepted`,
          ...(running ? {} : { result: { note: 'x'.repeat(stage === 'analyze' ? 200_000 : 2_000) } }),
        });
      }
    }

    child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve'], {
      env: { ...process.env, REDIS_URL: redisInfo.url, GREENLOOP_PREFIX: prefix, GREENLOOP_HOME: home, GREENLOOP_REPO: repo, HOST: '127.0.0.1', PORT: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const first = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child?.stdout as NodeJS.ReadableStream });
      rl.once('line', resolve);
      child?.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
    });
    const { helloUrl, apiUrl, directUrl } = JSON.parse(first) as { helloUrl: string; apiUrl: string; directUrl: string };
    const auth = { authorization: `Bearer ${token}` };
    const view = await fetch(`${apiUrl}/v1/loops/${LOOP_ID}`, { headers: auth });
    if (view.status !== 200) throw new Error(`GET /v1/loops/:id answered ${view.status}: ${await view.text()}`);
    const viewBytes = (await view.text()).length;

    // Hello-world and the API alternate in short rounds, hello first and last, and each API round is
    // divided by the mean of the hello rounds on either side of it: other work on the machine (shared
    // CI runners, other test suites, a noisy neighbour VM) shifts absolute numbers by half within
    // seconds, a ratio of neighbouring rounds much less.
    const rounds = opts.rounds ?? 10;
    const load = { connections: 50, pipelining: 1, duration: opts.seconds ?? 2 };
    await run({ url: helloUrl, connections: 10, duration: 1 });
    await run({ url: `${apiUrl}/v1/loops/${LOOP_ID}`, headers: auth, connections: 10, duration: 1 });
    // Meanwhile a "worker" keeps changing the loop, 20 times a second (a real loop changes a few times a
    // minute), so answers kept in memory are dropped and read again all through the measurement.
    let ticks = 0;
    const tick = () =>
      store.saveStage(LOOP_ID, 3, { stage: 'test', status: 'running', startedAt: new Date().toISOString(), attempts: 1, summary: `tick ${++ticks}` });
    const writer = setInterval(() => void tick(), 50);
    const get = async (url: string) => {
      const res = await run({ url: `${url}/v1/loops/${LOOP_ID}`, headers: auth, ...load });
      if (res.non2xx) throw new Error(`GET /v1/loops/:id answered ${res.non2xx} non-2xx responses`);
      return res;
    };
    const helloRps: number[] = [(await run({ url: helloUrl, ...load })).requests.average];
    const getRps: number[] = [];
    const getP99: number[] = [];
    const directRps: number[] = [];
    try {
      for (let i = 0; i < rounds; i++) {
        const res = await get(apiUrl);
        getRps.push(res.requests.average);
        getP99.push(res.latency.p99);
        helloRps.push((await run({ url: helloUrl, ...load })).requests.average);
      }
      // Fewer rounds for the figure without the near cache: it is context, not the goal.
      for (let i = 0; i < Math.ceil(rounds / 2); i++) {
        directRps.push((await get(directUrl)).requests.average);
        helloRps.push((await run({ url: helloUrl, ...load })).requests.average);
      }
    } finally {
      clearInterval(writer);
    }
    const around = (i: number) => ((helloRps[i] as number) + (helloRps[i + 1] as number)) / 2;
    const ratios = getRps.map((g, i) => g / around(i));
    const directRatios = directRps.map((g, i) => g / around(rounds + i));
    // Freshness: the last change is what the API answers.
    await tick();
    const after = (await (await fetch(`${apiUrl}/v1/loops/${LOOP_ID}`, { headers: auth })).json()) as { cycles: { stages: { test?: { summary?: string } } }[] };
    const seen = after.cycles[2]?.stages.test?.summary;
    if (seen !== `tick ${ticks}`) throw new Error(`GET /v1/loops/:id answered a stale view: "${seen}" after "tick ${ticks}" was written`);

    // Warm the config cache with one accepted request, then 200 requests/s for 10 s, one environment each.
    await fetch(`${apiUrl}/v1/loops`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ environment: `env-${ENVIRONMENTS - 1}` }),
    });
    let next = 0;
    const statuses: Record<string, number> = {};
    const rate = 200;
    const amount = 2000;
    const post = await run({
      url: apiUrl,
      connections: 20,
      overallRate: rate,
      amount,
      requests: [
        {
          method: 'POST',
          path: '/v1/loops',
          headers: { ...auth, 'content-type': 'application/json' },
          setupRequest: (req) => ({ ...req, body: JSON.stringify({ environment: `env-${next++}` }) }),
          onResponse: (status) => {
            statuses[status] = (statuses[status] ?? 0) + 1;
          },
        },
      ],
    });
    const { 202: accepted = 0, ...other } = statuses;

    const result: ApiBenchResult = {
      helloRps: Math.round(median(helloRps)),
      directRps: Math.round(median(directRps)),
      directRatio: Math.round(median(directRatios) * 100) / 100,
      loopChanges: ticks,
      getLoopRps: Math.round(median(getRps)),
      ratio: Math.round(median(ratios) * 100) / 100,
      ratios: ratios.map((r) => Math.round(r * 100) / 100),
      getLoopP99Ms: median(getP99),
      viewBytes,
      post: {
        rate,
        answered: Object.values(statuses).reduce((a, b) => a + b, 0),
        accepted,
        other,
        p50Ms: post.latency.p50,
        p99Ms: post.latency.p99,
        maxMs: post.latency.max,
      },
    };
    console.log('greenloop API benchmark');
    console.log(`  hello-world Fastify              ${result.helloRps} req/s`);
    console.log(
      `  GET /v1/loops/:id (auth, Redis)  ${result.getLoopRps} req/s  (p99 ${result.getLoopP99Ms} ms, ${result.viewBytes} bytes, the loop changed ${result.loopChanges} times meanwhile)`,
    );
    console.log(
      `  ratio (median of ${rounds} rounds)       ${result.ratio}  (goal ≥ 0.6) ${result.ratio >= 0.6 ? 'ok' : 'BELOW GOAL'}; rounds: ${result.ratios.join(', ')}`,
    );
    console.log(`  same, without the near cache     ${result.directRps} req/s, ratio ${result.directRatio} (one HGETALL per request)`);
    console.log(
      `  POST /v1/loops at ${rate}/s        p50 ${result.post.p50Ms} ms, p99 ${result.post.p99Ms} ms, max ${result.post.maxMs} ms; ${accepted}/${result.post.answered} accepted (202)${Object.keys(other).length ? `, other: ${JSON.stringify(other)}` : ''}`,
    );
    figure('api.getLoop.ratio', result.ratio, 'ratio', '>=0.6');
    figure('api.postLoop.p99', result.post.p99Ms, 'ms');
    return result;
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    await store.clearAll();
    redis.disconnect();
    await redisInfo.stop();
    rmSync(home, { recursive: true, force: true });
    rmSync(repo, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  if (process.argv.includes('--serve')) await serve();
  else {
    const { REDIS_URL, BENCH_ROUNDS, BENCH_SECONDS, PATH } = process.env;
    await main({
      ...(REDIS_URL ? { redisUrl: REDIS_URL } : {}),
      ...(BENCH_ROUNDS ? { rounds: Number(BENCH_ROUNDS) } : {}),
      ...(BENCH_SECONDS ? { seconds: Number(BENCH_SECONDS) } : {}),
      ...(PATH ? { pathVar: PATH } : {}),
    });
  }
}
