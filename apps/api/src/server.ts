import type { Env, Logger } from '@greenloop/core';
import {
  addKnownSecrets,
  checkRedisAuth,
  closeQueues,
  createArtifactStore,
  createConfigLoader,
  createQueues,
  createRedis,
  LoopStore,
  NearCache,
  RedisConnectionLog,
  resolveTokenSecret,
  secretValuesOf,
  TokenStore,
  upgradeStore,
  waitReady,
} from '@greenloop/core';
import { type AppDeps, buildApp } from './app.ts';

/** A running API. */
export interface RunningApi {
  /** Base URL it listens on, e.g. http://127.0.0.1:7700. */
  url: string;
  /** Stops taking requests, ends event streams, closes queues and Redis. */
  close(): Promise<void>;
}

/** Settings of buildApp a caller may change (the benchmark); the clients are startApi's. */
export type ApiOptions = Partial<Pick<AppDeps, 'rateLimit' | 'sse' | 'docs' | 'adminQueues'>> & {
  /** Keep loop views and token records in memory, coherent through Redis client tracking (default true); false reads Redis every time. */
  nearCache?: boolean;
};

/**
 * Connects to Redis, builds the API and listens on env.HOST:env.PORT (PORT 0 picks a free port; `url`
 * tells which). Used by `greenloop up`, the demo, the benchmark and the API's own entry point.
 */
export async function startApi(env: Env, log: Logger | undefined, redisUrl: string, options: ApiOptions = {}): Promise<RunningApi> {
  const tokenSecret = resolveTokenSecret({ secret: env.GREENLOOP_TOKEN_SECRET, home: env.home });
  // Views, errors and logs of this process never show greenloop's own secrets.
  addKnownSecrets([...secretValuesOf(env, [], redisUrl), tokenSecret]);
  // Every connection of this process (duplicates included: near cache, event streams) reports
  // reachability through one logger: a line per state change, not one per failed reconnect.
  const redisLog = log ? new RedisConnectionLog(log) : undefined;
  const watch = (conn: ReturnType<typeof createRedis>, source: string) => (redisLog ? redisLog.watch(conn, source) : conn.on('error', () => {}));
  const redis = watch(createRedis(redisUrl, 'producer'), 'api');
  const reads = watch(createRedis(redisUrl, 'reader'), 'api-reads');
  await Promise.all([waitReady(redis, redisUrl), waitReady(reads, redisUrl)]);
  await checkRedisAuth(redisUrl, log, env.GREENLOOP_REDIS_AUTH).catch((err: unknown) => {
    redis.disconnect();
    reads.disconnect();
    throw err;
  });
  const store = new LoopStore(redis, env.GREENLOOP_PREFIX, { reads, claimLeaseMs: env.GREENLOOP_CLAIM_LEASE });
  await upgradeStore(store, log);
  const queues = createQueues(redis, env.GREENLOOP_PREFIX);
  // Without a listener BullMQ prints each connection error's stack.
  for (const q of Object.values(queues)) q.on('error', (err) => redisLog?.error('queue', err));
  const { nearCache = true, ...settings } = options;
  const cache = new NearCache({ reads, ...(log ? { log } : {}) });
  // Not started, it never switches tracking on, so it keeps nothing (what the benchmark compares with).
  if (nearCache) await cache.start();
  const artifacts = await createArtifactStore(env);
  const app = buildApp({
    artifacts,
    ...settings,
    env,
    store,
    queues,
    nearCache: cache,
    tokens: new TokenStore(redis, env.GREENLOOP_PREFIX, { reads, secret: tokenSecret }),
    config: createConfigLoader(env.repo),
    ...(log ? { log } : {}),
  });
  let address: string;
  try {
    address = await app.listen({ host: env.HOST, port: env.PORT });
  } catch (err) {
    await app.close().catch(() => {});
    await closeQueues(queues).catch(() => {});
    await cache.stop();
    redis.disconnect();
    reads.disconnect();
    throw err;
  }
  log?.info({ url: address, auth: env.GREENLOOP_API_TOKEN ? 'bootstrap token set' : 'stored tokens only', artifacts: artifacts.location }, 'api listening');
  let closing: Promise<void> | undefined;
  return {
    url: address,
    close: () => {
      closing ??= (async () => {
        await app.close();
        await closeQueues(queues);
        await cache.stop();
        await artifacts.close();
        await redis.quit().catch(() => redis.disconnect());
        await reads.quit().catch(() => reads.disconnect());
      })();
      return closing;
    },
  };
}
