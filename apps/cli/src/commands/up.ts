import { once } from 'node:events';
import { createLogger, readEnv, resolveRedis } from '@greenloop/core';
import { EXIT, type Io } from '../io.ts';

/**
 * `greenloop up`: Redis (REDIS_URL, a local one, or an embedded redis-server), the worker and the API in
 * this process, until SIGINT/SIGTERM; then the API stops taking requests, the worker finishes or hands
 * back its jobs, and an embedded Redis is stopped. Server settings come from the usual GREENLOOP_* vars.
 */
export async function upCommand(io: Io): Promise<number> {
  const env = readEnv(io.processEnv);
  const log = createLogger('greenloop', env.LOG_LEVEL);
  // Loaded here, not at the top: the worker pulls in the cloud client libraries, which other commands never need.
  const [{ startApi }, { startWorker }] = await Promise.all([import('@greenloop/api'), import('@greenloop/worker')]);
  const redis = await resolveRedis({ ...(env.REDIS_URL ? { redisUrl: env.REDIS_URL } : {}), home: env.home, log, pathVar: io.processEnv.PATH });
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  let api: Awaited<ReturnType<typeof startApi>> | undefined;
  try {
    worker = await startWorker(env, log, redis.url, io.processEnv);
    api = await startApi(env, log, redis.url);
  } catch (err) {
    await worker?.close().catch(() => undefined);
    await redis.stop();
    throw err;
  }
  const p = io.paint;
  io.out(`${p.bold('greenloop up')}  api ${api.url}  ·  docs ${api.url}/docs  ·  redis ${redis.source}  ·  repo ${env.repo}`);
  if (!env.GREENLOOP_API_TOKEN) io.out(p.yellow('  GREENLOOP_API_TOKEN is not set: only stored tokens work; set it (16+ characters) to administer tokens'));
  io.out(p.dim('  Ctrl-C to stop'));

  // main() aborts io.signal on SIGINT/SIGTERM.
  if (!io.signal.aborted) await once(io.signal, 'abort');
  io.out('stopping…');
  await api.close().catch((err: unknown) => log.error({ err }, 'api close failed'));
  await worker.close().catch((err: unknown) => log.error({ err }, 'worker close failed'));
  await redis.stop();
  return EXIT.ok;
}
