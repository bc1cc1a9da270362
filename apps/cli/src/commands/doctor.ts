import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CONFIG_FILE,
  ConfigError,
  createLogger,
  type DeployedService,
  type EnvironmentConfig,
  type GreenloopConfig,
  GreenloopError,
  loadConfig,
  OPEN_REDIS_FIX,
  redactUrl,
  redisAuthState,
  renderArgv,
} from '@greenloop/core';
// doctor runs greenloop's own stages' parts in this process, on the working copy, without Redis or a loop.
import { createDeployProviders } from '../../../worker/src/adapters.ts';
import { parseJUnitFiles } from '../../../worker/src/analysis/junit-parser.ts';
import { countTestTraffic } from '../../../worker/src/analysis/test-traffic.ts';
import { deployInOrder } from '../../../worker/src/deploy/order.ts';
import { LocalLogSource } from '../../../worker/src/logs/local.ts';
import type { LogPull } from '../../../worker/src/logs/types.ts';
import { serviceUrlVar } from '../../../worker/src/paths.ts';
import { runCommand } from '../../../worker/src/process/run-command.ts';
import { readRecordedRequests } from '../../../worker/src/proxy/request-record.ts';
import { startServiceProxies } from '../../../worker/src/proxy/service-proxies.ts';
import { checkPullRequestAccess } from '../../../worker/src/publish/pull-request-check.ts';
import { withSuiteUrls } from '../../../worker/src/stages/suite-placeholders.ts';
import { findJunitFiles } from '../../../worker/src/stages/test.ts';
import { EXIT, type Io, UsageError } from '../io.ts';
import { findHealthPath } from './detect-stack.ts';

/** One thing doctor checked: wired (true), not wired (false) or not checkable here (null), with the fix. */
export interface DoctorCheck {
  id: 'redis' | 'config' | 'deploy' | 'suite' | 'junit' | 'logs' | 'log-times' | 'traffic' | 'request-lines' | 'pull-request';
  ok: boolean | null;
  message: string;
  fix?: string;
  detail?: string;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

function pickEnvironment(config: GreenloopConfig, name: string | undefined): [string, EnvironmentConfig] {
  const names = Object.keys(config.environments);
  const chosen = name ?? (names.length === 1 ? names[0] : undefined);
  if (!chosen) throw new UsageError(`name the environment to check: ${names.join(', ')}`);
  const env = config.environments[chosen];
  if (!env) throw new UsageError(`unknown environment "${chosen}"; ${CONFIG_FILE} has: ${names.join(', ')}`);
  return [chosen, env];
}

async function deployChecks(cwd: string, env: EnvironmentConfig, cycleDir: string, log: ReturnType<typeof createLogger>, checks: DoctorCheck[]) {
  const providers = createDeployProviders({ processEnv: process.env, log });
  const started = Date.now();
  const out = await deployInOrder<DeployedService>(env.services, (service, ready) =>
    providers.forService(service).deploy({
      loopId: 'doctor',
      cycle: 1,
      commit: '0000000000000000000000000000000000000000',
      service,
      worktree: cwd,
      cycleDir,
      urls: Object.fromEntries([...ready].map(([n, r]) => [n, r.url])),
      signal: AbortSignal.timeout(10 * 60_000),
      log,
      progress: () => {},
    }),
  );
  const deployed = out.deployed.map((d) => d.value);
  for (const d of out.deployed)
    checks.push({
      id: 'deploy',
      ok: true,
      message: `${d.service.name} started (${d.value.provider}) at ${d.value.url} and answered ${d.service.healthPath} with 2xx`,
    });
  if (out.failure) {
    const { service, error } = out.failure;
    const err = error instanceof GreenloopError ? error : undefined;
    const tail = typeof err?.details?.logTail === 'string' ? err.details.logTail.trim().split('\n').slice(-8).join('\n') : undefined;
    const found = await findHealthPath(cwd);
    const notAnswering = /did not answer/.test(err?.message ?? '');
    checks.push({
      id: 'deploy',
      ok: false,
      message: `${service.name} did not become ready: ${err?.message ?? String(error)}`,
      fix: notAnswering
        ? `make ${service.healthPath} answer 200, or set healthPath of service ${service.name} to a path that does${found && found !== service.healthPath ? ` (your code has ${found})` : ''}; the service must listen on $PORT`
        : `check deploy.command of service ${service.name}: it must start the service in the foreground and listen on $PORT`,
      ...(tail ? { detail: `its last output:\n${tail}` } : {}),
    });
  }
  return { deployed, failed: out.failure !== undefined, stop: (d: DeployedService) => providers.stop(d), ms: Date.now() - started };
}

async function suiteChecks(cwd: string, env: EnvironmentConfig, services: DeployedService[], dir: string, checks: DoctorCheck[]) {
  const tests = env.tests;
  const runId = `doctor-${Date.now().toString(36)}`;
  const values = { artifacts: dir, commit: '', shortCommit: '', runId, cycle: '1', loop: 'doctor' };
  const childEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    ...tests.env,
    GREENLOOP_RUN_ID: runId,
    GREENLOOP_ARTIFACTS: dir,
  };
  await using proxies = tests.proxy ? await startServiceProxies(services, join(dir, 'requests.jsonl'), runId) : undefined;
  for (const s of services) childEnv[serviceUrlVar(s.service)] = proxies?.urls[s.service] ?? s.url;
  const suiteValues = withSuiteUrls(tests.env, services, childEnv, values);
  const argv = renderArgv(tests.command, suiteValues);
  const startedAt = new Date().toISOString();
  const result = await runCommand({
    argv,
    cwd,
    env: childEnv,
    timeoutMs: tests.timeout,
    stdoutFile: join(dir, 'stdout.log'),
    stderrFile: join(dir, 'stderr.log'),
  });
  const finishedAt = new Date().toISOString();
  const how = result.timedOut ? `timed out after ${seconds(result.durationMs)}` : `exit code ${result.exitCode}, ${seconds(result.durationMs)}`;
  checks.push({ id: 'suite', ok: !result.timedOut && result.exitCode !== null, message: `ran ${argv.join(' ')} (${how}); output in ${dir}` });
  const globs = tests.junit.map((g) => renderArgv([g], suiteValues)[0] as string);
  const files = await findJunitFiles(globs, cwd);
  if (files.length === 0) {
    checks.push({
      id: 'junit',
      ok: false,
      message: `no JUnit XML matched ${globs.join(', ')}`,
      fix: 'make the runner write JUnit XML into {{artifacts}} (pytest --junitxml={{artifacts}}/junit.xml, node --test --test-reporter=junit --test-reporter-destination={{artifacts}}/junit.xml, gotestsum --junitfile, jest-junit) and point tests.junit at it',
    });
  } else {
    const parsed = await parseJUnitFiles(files).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
    if (parsed instanceof Error) checks.push({ id: 'junit', ok: false, message: `JUnit XML unreadable: ${parsed.message}` });
    else {
      const t = parsed.tests;
      const count = (s: string) => t.filter((x) => x.status === s).length;
      const failed = count('failed') + count('error');
      checks.push({
        id: 'junit',
        ok: t.length > 0 && count('skipped') < t.length,
        message: `${t.length} tests in ${files.length} JUnit file(s): ${count('passed')} passed, ${failed} failed, ${count('skipped')} skipped`,
        ...(t.length === 0 ? { fix: 'the suite collected no tests: check the test path in tests.command' } : {}),
        ...(t.length > 0 && count('skipped') === t.length
          ? { fix: 'every test was skipped: a missing variable or marker? greenloop never calls such a run green' }
          : {}),
      });
    }
  }
  return { runId, startedAt, finishedAt, requestsFile: join(dir, 'requests.jsonl') };
}

function logChecks(logs: LogPull, checks: DoctorCheck[]) {
  const s = logs.stats;
  if (!s || s.lines === 0) {
    checks.push({
      id: 'logs',
      ok: false,
      message: 'the services wrote no log lines during the run',
      fix: 'log each request (method, path, status) and errors to stdout or stderr; greenloop reads JSON lines, logfmt and plain text',
    });
    return;
  }
  checks.push({ id: 'logs', ok: true, message: `read ${s.lines} lines into ${s.entries} entries; ${logs.entries.length} in the test window` });
  const readable = s.timeRead / Math.max(1, s.entries);
  checks.push({
    id: 'log-times',
    ok: readable >= 0.5,
    message: `${s.timeRead} of ${s.entries} entries have a readable time${s.timeUnknown ? `; ${s.timeUnknown} without one are kept in order with the previous entry's time` : ''}${s.zoneAssumed ? `; ${s.zoneAssumed} named no zone and were read as UTC` : ''}`,
    ...(readable < 0.5
      ? {
          fix: 'start each line with a timestamp (ISO 8601 like 2026-12-02T13:49:42.326Z, or epoch) or put one in a "time"/"timestamp" field, so lines can be tied to the test that caused them',
        }
      : {}),
  });
}

function trafficChecks(
  logs: LogPull,
  services: DeployedService[],
  run: { runId: string; startedAt: string; finishedAt: string },
  requests: Awaited<ReturnType<typeof readRecordedRequests>>,
  checks: DoctorCheck[],
) {
  const traffic = countTestTraffic({ run, services, entries: logs.entries, requests });
  const names = services.map((s) => s.service);
  const missing = names.filter((n) => !traffic.servicesSeen.includes(n));
  checks.push({
    id: 'traffic',
    ok: traffic.requests + traffic.runEntries > 0 && missing.length === 0,
    message:
      traffic.requests + traffic.runEntries > 0
        ? `the suite's requests reached ${traffic.servicesSeen.join(', ')} (${traffic.requests} ${traffic.source === 'proxy' ? "through greenloop's recording proxy" : 'request lines in the logs'}; greenloop's own probes not counted: ${traffic.excluded.probes})${missing.length ? `; none reached ${missing.join(', ')}` : ''}`
        : `no request from the suite reached ${names.join(', ')} (greenloop's own probes not counted: ${traffic.excluded.probes})`,
    ...(traffic.requests + traffic.runEntries === 0 || missing.length
      ? {
          fix: `the suite must call the URL greenloop gives it: ${names.map((n) => serviceUrlVar(n)).join(', ')}, or map it to your variable in tests.env (e.g. BASE_URL: "{{url.${names[0]}}}"). A run that never reaches the deployed service is never green.`,
        }
      : {}),
  });
  const lines = logs.entries.filter((e) => e.httpRequest?.path && e.httpRequest.status !== undefined && !e.probe).length;
  checks.push({
    id: 'request-lines',
    ok: lines > 0 ? true : null,
    message:
      lines > 0
        ? `${lines} request lines with method, path and status in the logs: failures are tied to server lines by route and time`
        : "no request lines (method, path, status) in the services' logs; failures get their server evidence from greenloop's proxy and from error lines by time",
    ...(lines > 0 ? {} : { fix: 'optional: log one line per request with method, path and status (e.g. "GET /x 500" or {"method","path","status"})' }),
  });
}

/**
 * `greenloop doctor [environment]`: loads greenloop.yaml (an invalid one names each field), deploys the
 * services once from the working copy with the configured providers, runs the suite once, reads the logs
 * back and says in plain words what is wired and what is not, with the fix for each. Exit 0 when all is wired.
 */
/**
 * The Redis greenloop would use (REDIS_URL, else the one on 127.0.0.1:6379, else its own embedded one
 * with a generated password): a problem when it runs commands without a password, since the loop's
 * test suites and services share the host network with it.
 */
async function redisCheck(processEnv: Readonly<Record<string, string | undefined>>): Promise<DoctorCheck> {
  const url = processEnv.REDIS_URL || 'redis://127.0.0.1:6379';
  const shown = redactUrl(url);
  const state = await redisAuthState(url);
  if (state === 'open')
    return {
      id: 'redis',
      ok: false,
      message: `Redis at ${shown} runs commands without a password: the loop's test suites and local services (host network) could rewrite greenloop's loops and queue jobs`,
      fix: OPEN_REDIS_FIX,
    };
  if (state === 'protected') return { id: 'redis', ok: true, message: `Redis at ${shown} requires a password` };
  return processEnv.REDIS_URL
    ? { id: 'redis', ok: false, message: `Redis at ${shown} (REDIS_URL) does not answer`, fix: 'start it, or unset REDIS_URL to let greenloop start its own' }
    : { id: 'redis', ok: true, message: 'no Redis on 127.0.0.1:6379: greenloop starts its own, with a generated password' };
}

export async function doctorCommand(
  io: Io,
  args: string[],
  opts: { cwd: string; json: boolean; processEnv: Readonly<Record<string, string | undefined>> },
): Promise<number> {
  if (args.length > 1) throw new UsageError('doctor takes at most one argument: the environment');
  const checks: DoctorCheck[] = [];
  const p = io.paint;
  const print = () => {
    if (opts.json) {
      io.out(JSON.stringify({ checks }, null, 2));
      return;
    }
    for (const c of checks) {
      const mark = c.ok === true ? p.green('✓') : c.ok === false ? p.red('✗') : p.yellow('–');
      io.out(`${mark} ${c.id}: ${c.message}`);
      if (c.fix) io.out(`    ${p.bold('fix:')} ${c.fix}`);
      if (c.detail) io.out(p.dim(c.detail.replace(/^/gm, '    ')));
    }
    const bad = checks.filter((c) => c.ok === false).length;
    io.out(
      bad === 0
        ? p.green('everything greenloop needs is wired: `greenloop start <environment>` runs the loop')
        : p.red(`${bad} thing(s) to fix before a loop can go green`),
    );
  };

  checks.push(await redisCheck(opts.processEnv));
  let config: GreenloopConfig;
  if (!existsSync(join(opts.cwd, CONFIG_FILE))) {
    checks.push({ id: 'config', ok: false, message: `no ${CONFIG_FILE} in ${opts.cwd}`, fix: '`greenloop init` writes one for the stack it finds here' });
    print();
    return EXIT.error;
  }
  try {
    config = await loadConfig(join(opts.cwd, CONFIG_FILE));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    checks.push({
      id: 'config',
      ok: false,
      message: err.message.split('\n')[0] ?? err.message,
      ...(err.issues.length ? { detail: err.issues.join('\n') } : {}),
      fix: err.hint ?? 'fix the fields listed (`greenloop init` writes a starting point)',
    });
    print();
    return EXIT.error;
  }
  const [name, env] = pickEnvironment(config, args[0]);
  checks.push({
    id: 'config',
    ok: true,
    message: `${CONFIG_FILE} is valid; environment ${name}: ${env.services.map((s) => `${s.name} (${s.deploy.provider})`).join(', ')}`,
  });

  const log = createLogger('doctor', 'silent');
  const root = await mkdtemp(join(tmpdir(), 'greenloop-doctor-'));
  await mkdir(join(root, 'deploy'), { recursive: true });
  await mkdir(join(root, 'test'), { recursive: true });
  const deploy = await deployChecks(opts.cwd, env, root, log, checks);
  try {
    if (!deploy.failed) {
      const run = await suiteChecks(opts.cwd, env, deploy.deployed, join(root, 'test'), checks);
      if (env.logs.provider !== 'local') {
        checks.push({
          id: 'logs',
          ok: null,
          message: `logs come from ${env.logs.provider}: doctor reads local logs only; the first loop's report shows what it read`,
        });
      } else {
        // A moment for the services' last lines to reach their files.
        await new Promise((r) => setTimeout(r, 200));
        const logs = await new LocalLogSource().pull({ services: deploy.deployed, from: run.startedAt, to: run.finishedAt, runId: run.runId });
        logChecks(logs, checks);
        trafficChecks(logs, deploy.deployed, run, await readRecordedRequests(run.requestsFile), checks);
      }
    }
  } finally {
    for (const d of [...deploy.deployed].reverse()) await deploy.stop(d).catch(() => undefined);
  }
  if (env.pullRequest) {
    const access = await checkPullRequestAccess(env.pullRequest, process.env, { log, ...(env.loop.push ? { pushRemote: env.loop.push.remote } : {}) });
    checks.push({ id: 'pull-request', ...access });
  }
  print();
  if (!opts.json) io.out(p.dim(`evidence kept in ${root}`));
  else await rm(root, { recursive: true, force: true }).catch(() => undefined);
  return checks.some((c) => c.ok === false) ? EXIT.error : EXIT.ok;
}
