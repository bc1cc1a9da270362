#!/usr/bin/env node
// API process entry point: parse the environment once, resolve Redis, serve until SIGINT/SIGTERM.
import { createLogger, describeError, readEnv, resolveRedis } from '@greenloop/core';
import { startApi } from './server.ts';

const env = readEnv(process.env);
const log = createLogger('greenloop-api', env.LOG_LEVEL);
try {
  if (!env.GREENLOOP_API_TOKEN) log.warn('GREENLOOP_API_TOKEN is not set: only tokens already stored in Redis can call the API');
  const redis = await resolveRedis({ redisUrl: env.REDIS_URL, home: env.home, log, pathVar: process.env.PATH });
  const api = await startApi(env, log, redis.url);
  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ sig }, 'shutting down');
    await api.close();
    await redis.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
} catch (err) {
  log.fatal(describeError(err));
  process.exit(1);
}
