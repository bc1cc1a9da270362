import type { Env, Logger } from '@greenloop/core';
import { closeQueues, createConfigLoader, createQueues, createRedis, LoopStore, waitReady } from '@greenloop/core';
import { buildApp } from './app.ts';

/** A running API. */
export interface RunningApi {
  /** Base URL it listens on, e.g. http://127.0.0.1:7700. */
  url: string;
  /** Stops taking requests, ends event streams, closes queues and Redis. */
  close(): Promise<void>;
}

/**
 * Connects to Redis, builds the API and listens on env.HOST:env.PORT (PORT 0 picks a free port; `url`
 * tells which). Used by `greenloop up`, the demo and the API's own entry point.
 */
export async function startApi(env: Env, log: Logger, redisUrl: string): Promise<RunningApi> {
  const redis = createRedis(redisUrl, 'producer');
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  await waitReady(redis, redisUrl);
  const store = new LoopStore(redis, env.GREENLOOP_PREFIX);
  const queues = createQueues(redis, env.GREENLOOP_PREFIX);
  const app = buildApp({ env, store, queues, config: createConfigLoader(env.repo), log });
  let address: string;
  try {
    address = await app.listen({ host: env.HOST, port: env.PORT });
  } catch (err) {
    await app.close().catch(() => {});
    await closeQueues(queues).catch(() => {});
    redis.disconnect();
    throw err;
  }
  log.info({ url: address, auth: env.GREENLOOP_API_TOKEN ? 'bootstrap token set' : 'stored tokens only' }, 'api listening');
  let closing: Promise<void> | undefined;
  return {
    url: address,
    close: () => {
      closing ??= (async () => {
        await app.close();
        await closeQueues(queues);
        await redis.quit().catch(() => redis.disconnect());
      })();
      return closing;
    },
  };
}
