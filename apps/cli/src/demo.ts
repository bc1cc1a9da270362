import { randomBytes } from 'node:crypto';
import { join, relative, resolve } from 'node:path';
import { startApi } from '@greenloop/api';
import { createLogger, describeError, type LoopEvent, type LoopRecord, readEnv, resolveRedis } from '@greenloop/core';
import { startWorker } from '@greenloop/worker';
import { createDemoRepo } from './demo-repo.ts';
import { followEvents } from './sse.ts';

const paint = (code: number) => (s: string) => (process.stdout.isTTY ? `\x1b[${code}m${s}\x1b[0m` : s);
const green = paint(32);
const red = paint(31);
const dim = paint(2);
const bold = paint(1);

/** One progress line per event worth a person's attention. */
export function renderEvent(e: LoopEvent, startedAt: number): string | undefined {
  const t = dim(`[${String(Math.round((Date.parse(e.time) - startedAt) / 100) / 10).padStart(5)}s]`);
  const where = e.cycle ? `cycle ${e.cycle}${e.stage ? ` · ${e.stage.padEnd(9)}` : ''}` : '';
  switch (e.type) {
    case 'stage.started':
      return undefined;
    case 'cycle.started':
      return `${t} ${bold(e.message)}`;
    case 'cycle.finished': {
      const d = e.data as { green?: boolean } | undefined;
      return `${t} ${d?.green ? green(bold(e.message)) : bold(e.message)}`;
    }
    case 'loop.finished': {
      const state = (e.data as { state?: string } | undefined)?.state;
      return `${t} ${state === 'green' ? green(bold(e.message)) : red(bold(e.message))}`;
    }
    default:
      return `${t} ${where ? `${where} ` : ''}${e.message}`;
  }
}

/**
 * `greenloop demo`: the whole product on a laptop. Copies the bundled demo service into a scratch git
 * repository, starts Redis (embedded if needed), the worker and the API in this process, triggers a loop
 * over HTTP like a release manager would, follows its events over SSE, and exits 0 when it ends green.
 * `--keep` leaves everything running afterwards to look at the dashboard.
 */
export async function runDemo(args: string[], processEnv: Readonly<Record<string, string | undefined>>): Promise<number> {
  const home = resolve(processEnv.GREENLOOP_HOME ?? '.greenloop');
  const repo = join(home, 'demo', 'repo');
  const token = `gl-demo-${randomBytes(18).toString('hex')}`;
  const env = readEnv({
    ...processEnv,
    GREENLOOP_HOME: home,
    GREENLOOP_REPO: repo,
    GREENLOOP_API_TOKEN: token,
    GREENLOOP_PREFIX: processEnv.GREENLOOP_PREFIX ?? 'greenloop-demo',
    PORT: '0',
    LOG_LEVEL: processEnv.LOG_LEVEL ?? 'warn',
  });
  const log = createLogger('greenloop', env.LOG_LEVEL);
  console.log(bold('greenloop demo'), dim('— deploy → test → analyze → fix until green'));
  createDemoRepo(repo);
  console.log(`  scratch repository  ${relative(process.cwd(), repo)} (a copy of examples/demo-service with seeded bugs)`);

  const redis = await resolveRedis({ redisUrl: env.REDIS_URL, home, log, pathVar: processEnv.PATH });
  console.log(
    `  redis               ${redis.source === 'embedded' ? 'embedded redis-server (stopped on exit)' : redis.source === 'env' ? 'REDIS_URL' : '127.0.0.1:6379'}`,
  );
  const worker = await startWorker(env, log, redis.url, processEnv);
  const api = await startApi({ ...env, GREENLOOP_URL: env.GREENLOOP_URL }, log, redis.url);
  console.log(`  api                 ${api.url}`);
  const shutdown = async () => {
    await api.close().catch(() => undefined);
    await worker.close().catch(() => undefined);
    await redis.stop();
  };
  const onSignal = () => {
    console.log('\ninterrupted: stopping');
    void shutdown().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);

  try {
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const res = await fetch(`${api.url}/v1/loops`, { method: 'POST', headers, body: JSON.stringify({ environment: 'demo' }) });
    const body = (await res.json()) as { id?: string; message?: string };
    if (res.status !== 202 || !body.id) throw new Error(`POST /v1/loops answered ${res.status}: ${body.message ?? JSON.stringify(body)}`);
    console.log(`  loop                ${body.id} (POST /v1/loops → 202)\n`);
    const started = Date.now();
    for await (const e of followEvents(`${api.url}/v1/loops/${body.id}/events`, token)) {
      const line = renderEvent(e, started);
      if (line) console.log(line);
      if (e.type === 'loop.finished') break;
    }
    const loop = (await (await fetch(`${api.url}/v1/loops/${body.id}`, { headers })).json()) as LoopRecord & {
      cycles?: { n: number; report?: { markdown: string } }[];
    };
    console.log('');
    console.log(
      `  ${loop.state === 'green' ? green(bold(`green after ${loop.cycle} cycles`)) : red(bold(`${loop.state}: ${loop.stop?.message}`))} in ${Math.round((Date.now() - started) / 100) / 10}s`,
    );
    console.log(`  loop branch         ${loop.branch} in ${relative(process.cwd(), repo)}`);
    console.log('  cycle reports:');
    for (const c of loop.cycles ?? []) if (c.report) console.log(`    cycle ${c.n}  ${relative(process.cwd(), c.report.markdown)}`);
    console.log(`  over HTTP: GET ${api.url}/v1/loops/${loop.id}/cycles/<n>/report (stopped when this demo exits)`);
    if (args.includes('--keep')) {
      // Shown once, on the person's own terminal, so they can log in to the dashboard: a throwaway token
      // of this demo process, which dies with it.
      console.log(`\n  dashboard           ${api.url}/dashboard   token: ${token}`);
      console.log(dim('  the API, worker and Redis keep running; Ctrl-C to stop'));
      process.off('SIGINT', onSignal);
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    }
    return loop.state === 'green' ? 0 : 2;
  } catch (err) {
    console.error(red(`demo failed: ${describeError(err)}`));
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    await shutdown();
  }
}
