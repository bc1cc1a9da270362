import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Env, LoopRecord, Queues, Role } from '@greenloop/core';
import {
  closeQueues,
  createConfigLoader,
  createQueues,
  createRedis,
  LoopStore,
  NearCache,
  readEnv,
  resolveTokenSecret,
  TokenStore,
  waitReady,
} from '@greenloop/core';
import { testRedis } from '@greenloop/core/testing';
import type { FastifyInstance } from 'fastify';
import { type AppDeps, buildApp } from './app.ts';
import { type RunningApi, startApi } from './server.ts';

/** A greenloop.yaml with two environments, enough for every API route. */
export const TEST_CONFIG = `version: 1
environments:
  staging:
    services:
      - name: api
        deploy: { provider: local, command: ["node", "server.js"] }
    tests: { command: ["npm", "test"] }
    schedules:
      - { name: nightly, cron: "0 3 * * *", timezone: Europe/Berlin }
  production:
    services:
      - name: api
        deploy: { provider: local, command: ["node", "server.js"] }
    tests: { command: ["npm", "test"] }
`;

/** A loop's record for seeding the API's store: running in `staging`, at cycle 1, started through the API now. */
export function runningLoop(id: string, over: Partial<LoopRecord> = {}): LoopRecord {
  return { id, environment: 'staging', state: 'running', createdAt: new Date().toISOString(), startedBy: { kind: 'api', name: 'x' }, cycle: 1, ...over };
}

export interface TestApi {
  app: FastifyInstance;
  store: LoopStore;
  queues: Queues;
  env: Env;
  tokens: TokenStore;
  /** A live token per role, plus the bootstrap admin token. */
  token: Record<Role, string> & { bootstrap: string };
  repo: string;
  home: string;
  redisUrl: string;
  /** `Authorization` header for a role. */
  auth(role: Role | 'bootstrap'): { authorization: string };
  cleanup(): Promise<void>;
}

/**
 * Test helper: the API on real Redis under a fresh prefix, greenloop.yaml in a temp repo, a temp home,
 * one token per role. Call cleanup() after (closes the app, deletes every key under the prefix).
 */
export async function setupTestApi(opts: { config?: string; deps?: Partial<AppDeps> } = {}): Promise<TestApi> {
  const r = testRedis();
  const repo = mkdtempSync(join(tmpdir(), 'greenloop-api-repo-'));
  const home = mkdtempSync(join(tmpdir(), 'greenloop-api-home-'));
  writeFileSync(join(repo, 'greenloop.yaml'), opts.config ?? TEST_CONFIG);
  const bootstrap = `boot-${randomBytes(16).toString('hex')}`;
  const env = readEnv({ GREENLOOP_PREFIX: r.prefix, GREENLOOP_HOME: home, GREENLOOP_REPO: repo, GREENLOOP_API_TOKEN: bootstrap, REDIS_URL: r.url, PORT: '0' });
  const queues = createQueues(r.redis, r.prefix);
  // As in startApi: reads through a tracked connection, kept in a started near cache.
  const reads = createRedis(r.url, 'reader');
  await waitReady(reads, r.url);
  const store = new LoopStore(r.redis, r.prefix, { reads });
  const nearCache = new NearCache({ reads });
  await nearCache.start();
  const tokens = new TokenStore(r.redis, r.prefix, { reads, secret: resolveTokenSecret({ home }) });
  const app = buildApp({ env, store, queues, tokens, nearCache, config: createConfigLoader(repo), rateLimit: false, ...opts.deps });
  await app.ready();
  const token = {
    viewer: (await tokens.create({ name: 'test-viewer', role: 'viewer', createdBy: 'test' })).token,
    operator: (await tokens.create({ name: 'test-operator', role: 'operator', createdBy: 'test' })).token,
    admin: (await tokens.create({ name: 'test-admin', role: 'admin', createdBy: 'test' })).token,
    bootstrap,
  };
  const api: TestApi = {
    app,
    store,
    queues,
    env,
    tokens,
    token,
    repo,
    home,
    redisUrl: r.url,
    auth: (role) => ({ authorization: `Bearer ${token[role]}` }),
    cleanup: async () => {
      await app.close();
      await closeQueues(api.queues);
      await nearCache.stop();
      reads.disconnect();
      await r.cleanup();
      rmSync(repo, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
    },
  };
  return api;
}

/**
 * Test helper: `count` APIs exactly as startApi runs them (their own Redis connections and near caches),
 * sharing one Redis prefix, temp repo and home, like API processes of one installation.
 */
export async function startTestApis(
  count = 1,
): Promise<{ apis: RunningApi[]; redis: ReturnType<typeof testRedis>; tokens: TokenStore; home: string; cleanup(): Promise<void> }> {
  const redis = testRedis();
  const repo = mkdtempSync(join(tmpdir(), 'greenloop-api-repo-'));
  const home = mkdtempSync(join(tmpdir(), 'greenloop-api-home-'));
  writeFileSync(join(repo, 'greenloop.yaml'), TEST_CONFIG);
  const env = readEnv({ GREENLOOP_PREFIX: redis.prefix, GREENLOOP_HOME: home, GREENLOOP_REPO: repo, REDIS_URL: redis.url, HOST: '127.0.0.1', PORT: '0' });
  const apis: RunningApi[] = [];
  const cleanup = async () => {
    for (const api of apis) await api.close();
    await redis.cleanup();
    rmSync(repo, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < count; i++) apis.push(await startApi(env, undefined, redis.url));
  } catch (err) {
    await cleanup();
    throw err;
  }
  // Tokens made with the secret the APIs share (generated into their common home).
  const tokens = new TokenStore(redis.redis, redis.prefix, { secret: resolveTokenSecret({ home }) });
  return { apis, redis, tokens, home, cleanup };
}

/**
 * Test helper: the operations the API documents (its OpenAPI paths, HEAD aside) that none of `requests`
 * reaches, as "METHOD /path/{param}". Route lists in tests check themselves with it, so a route added
 * later without a row fails them instead of going unchecked.
 */
export async function undocumentedBy(app: FastifyInstance, requests: readonly { method: string; url: string }[]): Promise<string[]> {
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, Record<string, unknown>> };
  const sent = requests.map((r) => `${r.method.toUpperCase()} ${r.url.split('?')[0]}`);
  const missing: string[] = [];
  for (const [path, ops] of Object.entries(doc.paths))
    for (const method of Object.keys(ops).map((m) => m.toUpperCase())) {
      if (method === 'HEAD') continue;
      const re = new RegExp(`^${method} ${path.replace(/\/$/, '').replace(/\{[^}]+\}/g, '[^/]+')}/?$`);
      if (!sent.some((r) => re.test(r))) missing.push(`${method} ${path}`);
    }
  return missing;
}
