#!/usr/bin/env node
// Worker process entry point: parse the environment once, resolve Redis, run until SIGINT/SIGTERM.
import { createLogger, describeError, readEnv, resolveRedis } from '@greenloop/core';
import { startWorker } from './worker.ts';

const env = readEnv(process.env);
const log = createLogger('greenloop-worker', env.LOG_LEVEL);
try {
  const redis = await resolveRedis({ redisUrl: env.REDIS_URL, home: env.home, log, pathVar: process.env.PATH });
  const worker = await startWorker(env, log, redis.url, { ...process.env });
  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ sig }, 'shutting down: finishing running jobs');
    await worker.close();
    await redis.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
} catch (err) {
  log.fatal(describeError(err));
  process.exit(1);
}
