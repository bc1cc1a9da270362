import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type DeployedService,
  describeError,
  type EnvironmentConfig,
  type Logger,
  type ProcessRecorder,
  renderString,
  type ServiceConfig,
} from '@greenloop/core';
import { parseJUnitFiles } from '../analysis/junit-parser.ts';
import { deployInOrder } from '../deploy/order.ts';
import type { DeployProvider } from '../deploy/types.ts';
import { addDetachedWorktree, removeWorktree } from '../git/repo.ts';
import { runCommand } from '../process/run-command.ts';
import type { SandboxSettings } from '../process/sandbox.ts';
import { listSuiteFiles } from '../shards/suite-files.ts';
import { buildRerunArgv, rerunPlan } from '../stages/rerun.ts';
import { renderSuiteArgv } from '../stages/shard-argv.ts';
import { suiteEnvironment } from '../stages/suite-run.ts';
import { findJunitFiles } from '../stages/test.ts';
import type { GateRecord } from './gates.ts';
import { type ClusterTest, judgeProof, PROVE_GATE, type ProofVerdict } from './prove-verdict.ts';

/**
 * fixer.proveOnDeploy: an accepted fix is deployed as its own candidate, beside the cycle's deploy (local:
 * its own processes; Cloud Run: a 0%-traffic revision under its own tag, whose URL the tests call; command:
 * the cycle's deploy is used, the provider cannot deploy a second copy), and only its cluster's tests run
 * against it. Everything it deployed is stopped or withdrawn before it returns; the evidence (deploy logs,
 * test output, JUnit, prove.json) stays under the fix attempt's artifacts.
 */

export interface ProveRequest {
  repo: string;
  loopId: string;
  cycle: number;
  fingerprint: string;
  attempt: number;
  /** The fix's commit (on its fix branch). */
  commit: string;
  environment: EnvironmentConfig;
  /** Its name in greenloop.yaml (for errors that name a field). */
  environmentName: string;
  /** clusters/<fingerprint>.json of the cycle's analysis: the tests to run and how they failed. */
  clusterFile: string;
  /** What the cycle deployed: command-provider services are used as they are. */
  cycleServices: readonly DeployedService[];
  /** Evidence directory of this proof (under the fix attempt's artifacts). */
  dir: string;
  /** Where the candidate's checkout goes (removed afterwards). */
  worktree: string;
  provider: (service: ServiceConfig) => DeployProvider;
  stop: (deployed: DeployedService) => Promise<void>;
  processEnv: Readonly<Record<string, string | undefined>>;
  sandbox: SandboxSettings;
  processes?: ProcessRecorder;
  signal: AbortSignal;
  log: Logger;
  /** For people watching the loop: the proof's steps. */
  progress?: (message: string) => void;
}

/** What prove.json records. */
export interface ProofRecord {
  commit: string;
  attempt: number;
  services: { service: string; provider: string; revision: string; url: string; tag?: string; reused?: boolean }[];
  argv: string[];
  exitCode: number | null;
  verdict: ProofVerdict;
  durationMs: number;
}

/** A Cloud Run tag of at most 20 characters: `gl-f<cycle>-<fingerprint prefix>-<attempt>`. */
export function fixCandidateTag(cycle: number, fingerprint: string, attempt: number): string {
  return `gl-f${cycle}-${fingerprint
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .slice(0, 8)}-${attempt}`;
}

// One rollout at a time per Cloud Run service in this worker: the API refuses a second one while one runs.
const serviceLocks = new Map<string, Promise<unknown>>();
async function oneAtATime<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const before = serviceLocks.get(key) ?? Promise.resolve();
  const run = before.catch(() => undefined).then(fn);
  serviceLocks.set(key, run);
  try {
    return await run;
  } finally {
    if (serviceLocks.get(key) === run) serviceLocks.delete(key);
  }
}
const lockKey = (s: ServiceConfig) => (s.deploy.provider === 'cloud-run' ? `${s.deploy.project}/${s.deploy.region}/${s.deploy.service}` : undefined);

/**
 * Proves one accepted fix. The gate passes when the cluster's failure is gone from the candidate (its
 * tests pass, or get past it and fail differently), or when nothing could be proven (every service is
 * deployed by command, or none of the tests ran: said in the reason). It fails when a test still fails as
 * before, or the candidate does not deploy.
 */
export async function proveFix(req: ProveRequest): Promise<GateRecord> {
  const services = req.environment.services;
  if (services.every((s) => s.deploy.provider === 'command')) {
    return { name: PROVE_GATE, passed: true, reason: 'not proven: every service is deployed by command, which cannot deploy a candidate beside the cycle' };
  }
  await mkdir(join(req.dir, 'deploy'), { recursive: true });
  const started = Date.now();
  const cluster = await clusterTests(req.clusterFile);
  const deployed: { service: ServiceConfig; d: DeployedService; ours: boolean }[] = [];
  const progress = (m: string) => req.log.debug({ fingerprint: req.fingerprint }, m);
  try {
    await addDetachedWorktree(req.repo, req.worktree, req.commit);
    const tag = fixCandidateTag(req.cycle, req.fingerprint, req.attempt);
    req.progress?.(`proving the fix for ${req.fingerprint} (attempt ${req.attempt}): deploying ${req.commit.slice(0, 7)} as its own candidate`);
    const outcome = await deployInOrder<DeployedService>(services, async (service, ready) => {
      if (service.deploy.provider === 'command') {
        const d = req.cycleServices.find((c) => c.service === service.name);
        if (!d) throw new Error(`service ${service.name} has no deploy in this cycle to prove against`);
        deployed.push({ service, d, ours: false });
        return d;
      }
      const deploy = () =>
        req.provider(service).deploy({
          loopId: req.loopId,
          cycle: req.cycle,
          commit: req.commit,
          service,
          worktree: req.worktree,
          cycleDir: req.dir,
          urls: Object.fromEntries([...ready].map(([name, d]) => [name, d.url])),
          sandbox: req.sandbox,
          ...(req.processes ? { processes: req.processes } : {}),
          candidateTag: tag,
          signal: req.signal,
          log: req.log.child({ service: service.name, candidate: tag }),
          progress,
        });
      const key = lockKey(service);
      const d = key ? await oneAtATime(key, deploy) : await deploy();
      deployed.push({ service, d, ours: true });
      return d;
    });
    if (outcome.failure) {
      const reason = `the fix's candidate did not deploy: ${outcome.failure.service.name}: ${describeError(outcome.failure.error)}`;
      await writeFile(join(req.dir, 'prove.json'), `${JSON.stringify({ commit: req.commit, attempt: req.attempt, error: reason }, null, 2)}\n`);
      return { name: PROVE_GATE, passed: false, reason: `${reason} (evidence: ${req.dir})` };
    }
    req.progress?.(`proving the fix for ${req.fingerprint}: running its cluster's ${cluster.length} test(s) against the candidate`);
    const run = await runClusterTests(
      req,
      cluster,
      deployed.map((x) => x.d),
    );
    if (req.signal.aborted) return { name: PROVE_GATE, passed: false, reason: 'cancelled while the fix was being proven' };
    const record: ProofRecord = {
      commit: req.commit,
      attempt: req.attempt,
      services: deployed.map(({ d, ours }) => ({
        service: d.service,
        provider: d.provider,
        revision: d.revision,
        url: d.url,
        ...(typeof d.details?.tag === 'string' ? { tag: d.details.tag } : {}),
        ...(ours ? {} : { reused: true }),
      })),
      argv: run.argv,
      exitCode: run.exitCode,
      verdict: run.verdict,
      durationMs: Date.now() - started,
    };
    await writeFile(join(req.dir, 'prove.json'), `${JSON.stringify(record, null, 2)}\n`);
    const where = deployed.map(({ d, ours }) => `${d.service} ${ours ? d.revision : `${d.revision} (the cycle's)`}`).join(', ');
    return {
      name: PROVE_GATE,
      passed: run.verdict.proven,
      reason: `${run.verdict.inconclusive ? 'not proven' : run.verdict.proven ? 'proven' : 'rejected on deploy'} (evidence ${join(req.dir, 'prove.json')}; candidate ${where}): ${run.verdict.summary}`,
    };
  } finally {
    await teardownCandidate(req, deployed);
  }
}

/** Stops the candidate's local processes and withdraws its Cloud Run revisions, dependants first; never throws. */
async function teardownCandidate(req: ProveRequest, deployed: readonly { service: ServiceConfig; d: DeployedService; ours: boolean }[]): Promise<void> {
  for (const { service, d, ours } of [...deployed].reverse()) {
    if (!ours) continue;
    try {
      const provider = req.provider(service);
      if (d.provider === 'local') await req.stop(d);
      else if (provider.withdraw) {
        const key = lockKey(service);
        const withdraw = async () => await provider.withdraw?.(d, { signal: AbortSignal.timeout(300_000) });
        await (key ? oneAtATime(key, withdraw) : withdraw());
      }
    } catch (err) {
      req.log.warn({ service: d.service, revision: d.revision, err: describeError(err) }, 'could not remove a fix candidate');
    }
  }
  await removeWorktree(req.repo, req.worktree).catch(() => undefined);
}

async function clusterTests(file: string): Promise<ClusterTest[]> {
  const doc = JSON.parse(await readFile(file, 'utf8')) as { tests?: Partial<ClusterTest>[] };
  return (doc.tests ?? []).map((t) => ({
    classname: t.classname ?? '',
    name: t.name ?? '',
    ...(t.file ? { file: t.file } : {}),
    message: t.message ?? '',
  }));
}

/**
 * Runs only the cluster's tests against the candidate: with tests.rerun, its selection (the runner's own
 * filter); without it the whole suite, judged on the cluster's tests alone.
 */
async function runClusterTests(
  req: ProveRequest,
  cluster: readonly ClusterTest[],
  services: readonly DeployedService[],
): Promise<{ argv: string[]; exitCode: number | null; verdict: ProofVerdict }> {
  const tests = req.environment.tests;
  const dir = join(req.dir, 'test');
  await mkdir(join(dir, 'junit'), { recursive: true });
  const runId = `${req.loopId}-c${req.cycle}-prove-${req.fingerprint}-a${req.attempt}`;
  const values = { commit: req.commit, shortCommit: req.commit.slice(0, 7), cycle: String(req.cycle), loop: req.loopId };
  // The whole suite (when it runs whole) is shard 1 of 1: a sharded command's placeholders resolve.
  const { env, values: suiteValues } = suiteEnvironment(
    { processEnv: req.processEnv, tests, procs: req.processes, services, dir, runId, values, shard: { index: 1, count: 1 } },
    undefined,
  );
  const plan = rerunPlan(tests);
  // Without a rerun preset the whole suite runs as one shard: every file of tests.files when the command
  // takes {{shardFiles}}, shard 1 of 1 when it uses the runner's own sharding.
  const suiteFiles = tests.files ? await listSuiteFiles(tests.files, req.worktree, req.environmentName) : undefined;
  const argv = plan ? buildRerunArgv(plan, cluster, suiteValues, req.worktree) : renderSuiteArgv(tests.command, suiteValues, suiteFiles);
  const tracked = req.processes?.track('test');
  const res = await runCommand({
    argv,
    cwd: req.worktree,
    env,
    timeoutMs: tests.timeout,
    stdoutFile: join(dir, 'stdout.txt'),
    stderrFile: join(dir, 'stderr.txt'),
    outputLimit: tests.outputLimit,
    signal: req.signal,
    ...(tracked ? { onSpawn: tracked.onSpawn } : {}),
    sandbox: { settings: req.sandbox, kind: 'test', network: 'host', writable: [req.worktree, dir] },
  });
  await tracked?.release();
  const files = await findJunitFiles(
    tests.junit.map((g) => renderString(g, suiteValues)),
    req.worktree,
  );
  const parsed = files.length ? (await parseJUnitFiles(files)).tests : [];
  return { argv, exitCode: res.exitCode, verdict: judgeProof(cluster, parsed) };
}
