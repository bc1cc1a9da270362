import { type Env, readEnv } from './env.ts';
import { describeError } from './errors.ts';
import { createLogger, type Logger } from './logger.ts';
import { resolveRedis } from './redis.ts';

/**
 * The entry point of a greenloop process (API, worker): parse the environment once, resolve Redis (the
 * embedded default included), start, and on SIGINT/SIGTERM stop taking work, finish what is running,
 * close Redis and exit. A start-up failure prints its reason and exits 1.
 */
export async function runService(
  name: string,
  processEnv: NodeJS.ProcessEnv,
  start: (env: Env, log: Logger, redisUrl: string) => Promise<{ close(): Promise<void> }>,
): Promise<void> {
  const env = readEnv(processEnv);
  const log = createLogger(name, env.LOG_LEVEL);
  try {
    const redis = await resolveRedis({ redisUrl: env.REDIS_URL, home: env.home, log, pathVar: processEnv.PATH });
    const service = await start(env, log, redis.url);
    let stopping = false;
    const stop = async (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ sig }, 'shutting down: finishing running work');
      await service.close();
      await redis.stop();
      process.exit(0);
    };
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGTERM', () => void stop('SIGTERM'));
  } catch (err) {
    log.fatal(describeError(err));
    process.exit(1);
  }
}
