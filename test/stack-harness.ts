// Scenario harness for the foreign-stack examples (examples/<stack>/): one scratch git repository per
// example, one worker and one API in-process on real Redis, and one loop per scenario environment of the
// example's greenloop.yaml. What each loop did is read back from the store and the cycle reports, and
// checked against what the scenario expects.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startApi } from '@greenloop/api';
import { createLogger, type FixResult, type IntegrateResult, type LoopRecord, LoopStore, STAGES, TERMINAL_STATES } from '@greenloop/core';
import { startWorker } from '@greenloop/worker';
import { Redis } from 'ioredis';
import { isolatedEnv } from './demo-harness.ts';

export const EXAMPLES = join(import.meta.dirname, '..', 'examples');

/** The six scenarios every example's greenloop.yaml has an environment for (environment name = scenario). */
export const SCENARIOS = ['fixable', 'noop', 'flaky', 'crash', 'cheat', 'skip-all'] as const;
/**
 * Scenarios only some examples have an environment for (python-service): fixes that conflict at integration,
 * and a suite that passes without one request to the service.
 */
export const OWN_SCENARIOS = ['neighbours', 'no-traffic'] as const;
export type Scenario = (typeof SCENARIOS)[number] | (typeof OWN_SCENARIOS)[number];

/** What a scenario must end with, in the words of the table. */
export const EXPECTED: Record<Scenario, string> = {
  fixable: 'green',
  noop: 'no-progress',
  flaky: 'green, flaky labelled, not dispatched',
  crash: 'deploy-failed, no test run',
  cheat: 'fix rejected by gates, not green',
  'skip-all': 'not-real, not green',
  neighbours: 'green in 2 cycles, conflicting fix re-done in cycle 1, in both reports',
  'no-traffic': 'all tests pass, not-real, never green',
};

interface ReportCluster {
  fingerprint: string;
  title: string;
  triage: string;
  dispatch: boolean;
  tests: { id: string; name: string }[];
  flakyTests: string[];
  dossier: string;
  evidence: { service: string; message: string; match: string }[];
}

/** The slice of a cycle's report.json the scenarios look at. */
export interface ReportView {
  verdict: 'green' | 'failing' | 'not-real';
  summary: { total: number; passed: number; failed: number; skipped: number; flaky: number };
  flaky: { id: string; fingerprint: string }[];
  clusters: ReportCluster[];
  realness: { real: boolean; reasons: string[] };
}

/** One cycle as the scenarios see it. */
export interface CycleView {
  n: number;
  tested: boolean;
  report?: ReportView;
  /** The report.json file; cluster dossiers are relative to its directory. */
  reportFile?: string;
  fixes: FixResult[];
  planned: string[];
  integrate?: IntegrateResult;
  /** The cycle's report.md (read before the scratch directory goes). */
  markdown?: string;
  /** Seconds per stage ("deploy 1.2s test 3.4s …"), to see where a slow scenario spends its time. */
  timing: string;
}

export interface Observation {
  stack: string;
  scenario: Scenario;
  loop: LoopRecord;
  cycles: CycleView[];
  wallMs: number;
  /** Per server-error cluster of cycle 1: the service's stack trace is in its dossier (read before cleanup). */
  stacks: { title: string; found: boolean }[];
}

/** A worker and an API serving one example repository, running one loop per scenario. */
export interface ScenarioRunner {
  repo: string;
  run(scenario: Scenario, timeoutMs: number): Promise<Observation>;
  close(): Promise<void>;
}

/** Whether a command runs and exits 0 (a toolchain probe). */
const works = (argv: string[]) => {
  try {
    execFileSync(argv[0] as string, argv.slice(1), { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
};

/**
 * What an example needs that this machine lacks, in words with the package to install, or undefined when it
 * can run here. The stand-in fixer is Python for every example; Playwright's CLI is on PATH when run through
 * npm (node_modules/.bin).
 */
export function missingToolchain(example: string): string | undefined {
  const python = works(['python3', '-c', 'import pytest']);
  switch (example) {
    case 'python-service':
    case 'two-service':
      return python ? undefined : 'python3 with pytest (apt: python3-pytest)';
    case 'node-playwright-service':
      return python && works(['playwright', '--version'])
        ? undefined
        : 'python3 with pytest, and playwright on PATH (npm ci at the root installs @playwright/test)';
    case 'go-service':
      return python && works(['go', 'version']) && works(['gotestsum', '--version'])
        ? undefined
        : 'python3 with pytest, go and gotestsum (apt: golang-go gotestsum)';
    default:
      return undefined;
  }
}

/** Copies an example into a fresh git repository (one commit on main), so the loops never touch this repo. */
export function createExampleRepo(example: string, dir: string): void {
  const source = join(EXAMPLES, example);
  if (!existsSync(source)) throw new Error(`example missing at ${source}`);
  cpSync(source, dir, { recursive: true, filter: (src) => !/node_modules|__pycache__|\.pytest_cache/.test(src) });
  // The stand-in fixer is one script for every example (tools/fixer.py there, its patches in tools/fixes.json).
  cpSync(join(EXAMPLES, 'shared'), dir, { recursive: true, filter: (src) => !/__pycache__/.test(src) });
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=greenloop e2e', '-c', 'user.email=e2e@greenloop.local', ...args], { cwd: dir, stdio: 'pipe' });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', `${example} with seeded bugs`);
}

/**
 * Starts a worker and an API for one example; `run` starts the scenario's loop over HTTP and waits for its
 * end. At most `maxLoops` loops run at once: a 2-core machine compiling Go or starting Playwright five
 * times over is slower in total than three at a time.
 */
export async function startScenarioRunner(
  example: string,
  maxLoops = 3,
  processEnv: Record<string, string | undefined> = process.env,
): Promise<ScenarioRunner> {
  const dir = mkdtempSync(join(tmpdir(), `greenloop-${example}-`));
  const repo = join(dir, 'repo');
  createExampleRepo(example, repo);
  const { env, redisUrl, token, prefix } = isolatedEnv(dir, repo);
  const log = createLogger(`e2e-${example}`, 'warn');
  const worker = await startWorker(env, log, redisUrl, { ...processEnv });
  const api = await startApi(env, log, redisUrl);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const store = new LoopStore(redis, prefix);
  const auth = { authorization: `Bearer ${token}` };
  let running = 0;
  const waiting: (() => void)[] = [];

  async function waitForEnd(loopId: string, timeoutMs: number): Promise<LoopRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const loop = await store.getLoop(loopId);
      if (loop && TERMINAL_STATES.includes(loop.state) && (await store.activeLoop(loop.environment)) !== loopId) return loop;
      if (Date.now() > deadline) throw new Error(`loop ${loopId} did not finish within ${timeoutMs}ms: ${JSON.stringify(loop)}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  async function cyclesOf(loop: LoopRecord): Promise<CycleView[]> {
    const out: CycleView[] = [];
    for (let n = 1; n <= loop.cycle; n++) {
      const cycle = await store.getCycle(loop.id, n);
      if (!cycle) continue;
      const reportFile = cycle.report?.json;
      const fix = (await store.getStage(loop.id, n, 'fix'))?.result;
      const integrate = (await store.getStage(loop.id, n, 'integrate'))?.result;
      const markdown = cycle.report?.markdown;
      const timing: string[] = [];
      for (const stage of STAGES) {
        const rec = await store.getStage(loop.id, n, stage);
        if (rec?.finishedAt) timing.push(`${stage} ${((Date.parse(rec.finishedAt) - Date.parse(rec.startedAt)) / 1000).toFixed(1)}s`);
      }
      out.push({
        n,
        tested: (await store.getStage(loop.id, n, 'test')) !== undefined,
        ...(reportFile && existsSync(reportFile) ? { report: JSON.parse(readFileSync(reportFile, 'utf8')) as ReportView, reportFile } : {}),
        fixes: fix?.results ?? [],
        planned: fix?.planned ?? [],
        ...(integrate ? { integrate } : {}),
        ...(markdown && existsSync(markdown) ? { markdown: readFileSync(markdown, 'utf8') } : {}),
        timing: timing.join(' '),
      });
    }
    return out;
  }

  return {
    repo,
    async run(scenario, timeoutMs) {
      while (running >= maxLoops) await new Promise<void>((r) => waiting.push(r));
      running++;
      try {
        return await runLoop(scenario, timeoutMs);
      } finally {
        running--;
        waiting.shift()?.();
      }
    },
    async close() {
      await api.close();
      await worker.close();
      await store.clearAll();
      redis.disconnect();
      // E2E_KEEP=1 keeps the scratch repository and greenloop's home (reports, dossiers, logs) to read.
      if (process.env.E2E_KEEP) console.log(`e2e-stacks: kept ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };

  async function runLoop(scenario: Scenario, timeoutMs: number): Promise<Observation> {
    const started = Date.now();
    const res = await fetch(`${api.url}/v1/loops`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ environment: scenario }),
    });
    if (res.status !== 202) throw new Error(`POST /v1/loops for ${example}/${scenario}: ${res.status} ${await res.text()}`);
    const { id } = (await res.json()) as { id: string };
    const loop = await waitForEnd(id, timeoutMs).catch(async (err: unknown) => {
      // Over time: cancel it and wait for its teardown, so no service it started outlives the test.
      await fetch(`${api.url}/v1/loops/${id}/cancel`, { method: 'POST', headers: auth });
      await waitForEnd(id, 60_000).catch(() => undefined);
      throw err;
    });
    const cycles = await cyclesOf(loop);
    return { stack: example, scenario, loop, cycles, wallMs: Date.now() - started, stacks: stacksInDossiers(cycles) };
  }
}

const rule = (o: Observation) => o.loop.stop?.rule ?? o.loop.state;

/** A stack trace as Python, Node or Go print one. */
const STACK = /Traceback \(most recent call last\)|\n\s+at .+:\d+:\d+\)?|goroutine \d+ \[running\]/;

/** Whether each server-error cluster of cycle 1 has the service's stack trace in its dossier. */
function stacksInDossiers(cycles: readonly CycleView[]): { title: string; found: boolean }[] {
  const c = cycles[0];
  if (!c?.reportFile) return [];
  return (c.report?.clusters ?? [])
    .filter((cl) => cl.triage === 'server-error')
    .map((cl) => {
      const file = join(dirname(c.reportFile as string), cl.dossier);
      return { title: cl.title, found: existsSync(file) && STACK.test(readFileSync(file, 'utf8')) };
    });
}

/** What the loop ended with, in the words of the table. */
export function observed(o: Observation): string {
  const parts: string[] = [rule(o)];
  const fixes = o.cycles.flatMap((c) => c.fixes);
  if (o.scenario === 'flaky') {
    const flaky = o.cycles.flatMap((c) => c.report?.flaky ?? []);
    parts.push(flaky.length > 0 ? `${new Set(flaky.map((f) => f.id)).size} flaky labelled` : 'no flaky label');
  }
  if (o.scenario === 'fixable') {
    const clusters = o.cycles[0]?.report?.clusters ?? [];
    parts.push(`evidence on ${clusters.filter((c) => c.evidence.length > 0).length}/${clusters.length} clusters`);
    if (o.stacks.length > 0) parts.push(`500 stack in dossier: ${o.stacks.every((x) => x.found) ? 'yes' : 'NO'}`);
  }
  if (o.scenario === 'crash') parts.push(o.cycles.some((c) => c.tested) ? 'tests ran' : 'no test run');
  if (o.scenario === 'cheat' || o.scenario === 'noop') {
    const outcomes = [...new Set(fixes.map((f) => f.outcome))];
    const gates = [...new Set(fixes.flatMap((f) => (f.gates ?? []).filter((g) => !g.passed).map((g) => g.name)))];
    parts.push(`fixes: ${outcomes.join('/') || 'none'}${gates.length ? ` (gates: ${gates.join(', ')})` : ''}`);
  }
  if (o.scenario === 'neighbours') {
    const redone = o.cycles.flatMap((c) => c.integrate?.redone ?? []);
    parts.push(`${redone.length} fix(es) re-done after a conflict, ${o.cycles.flatMap((c) => c.integrate?.dropped ?? []).length} dropped`);
  }
  if (o.scenario === 'no-traffic') {
    const first = o.cycles[0]?.report;
    parts.push(`${first?.summary.passed ?? 0}/${first?.summary.total ?? 0} passed, verdicts: ${o.cycles.map((c) => c.report?.verdict ?? '—').join(',')}`);
  }
  if (o.scenario === 'skip-all') parts.push(`verdicts: ${o.cycles.map((c) => c.report?.verdict ?? '—').join(',')}`);
  return parts.join(', ');
}

/** Every way the observation falls short of the scenario; empty when it is what the scenario expects. */
export function problems(o: Observation): string[] {
  const out: string[] = [];
  const expect = (ok: boolean, what: string) => {
    if (!ok) out.push(what);
  };
  const fixes = o.cycles.flatMap((c) => c.fixes);
  const first = o.cycles[0]?.report;
  switch (o.scenario) {
    case 'fixable':
      expect(o.loop.state === 'green' && rule(o) === 'green', `ended ${rule(o)}: ${o.loop.stop?.message}`);
      expect((first?.summary.failed ?? 0) > 0, 'cycle 1 had no failures: the seeded bugs did not show');
      expect(o.cycles.length >= 2, 'went green without a fix cycle');
      expect(
        fixes.some((f) => f.outcome === 'accepted'),
        'no fix was accepted',
      );
      // The suites send no greenloop headers and the services log in their own formats: every failure
      // cluster must still get server-side evidence (request lines, errors, stack traces).
      for (const c of first?.clusters ?? []) expect(c.evidence.length > 0, `cluster "${c.title}" has no server-side evidence`);
      // Every example seeds an exception → 500: without a server-error cluster the next line checks nothing.
      expect(o.stacks.length > 0, 'no server-error cluster in cycle 1: the seeded 500 did not show');
      for (const x of o.stacks) expect(x.found, `the service's stack trace is not in the dossier of "${x.title}"`);
      break;
    case 'noop':
      expect(rule(o) === 'no-progress', `ended ${rule(o)}: ${o.loop.stop?.message}`);
      expect(fixes.length > 0 && fixes.every((f) => f.outcome === 'no-change'), `fix outcomes ${fixes.map((f) => f.outcome).join(',')}`);
      break;
    case 'flaky': {
      const flaky = o.cycles.flatMap((c) => c.report?.flaky ?? []);
      expect(flaky.length > 0, 'no test was labelled flaky');
      const flakyIds = new Set(flaky.map((f) => f.id));
      for (const c of o.cycles) {
        for (const cl of c.report?.clusters ?? []) {
          const onlyFlaky = cl.tests.length === 0 || cl.flakyTests.length === cl.tests.length;
          if (onlyFlaky) {
            expect(!cl.dispatch, `cycle ${c.n}: flaky cluster ${cl.fingerprint} marked for dispatch`);
            expect(!c.planned.includes(cl.fingerprint), `cycle ${c.n}: flaky cluster ${cl.fingerprint} sent to the fixer`);
          }
        }
        for (const f of c.fixes) {
          const cl = c.report?.clusters.find((x) => x.fingerprint === f.fingerprint);
          expect(!cl?.tests.some((t) => flakyIds.has(t.id)), `cycle ${c.n}: fixer ran for a flaky test`);
        }
      }
      expect(rule(o) === 'green', `ended ${rule(o)}: ${o.loop.stop?.message}`);
      break;
    }
    case 'crash':
      expect(rule(o) === 'deploy-failed', `ended ${rule(o)}: ${o.loop.stop?.message}`);
      expect(!o.cycles.some((c) => c.tested), 'a test stage ran after the deploy failed');
      break;
    case 'cheat':
      expect(o.loop.state !== 'green', 'went green with the tests deleted');
      expect(fixes.length > 0 && fixes.every((f) => f.outcome === 'rejected'), `fix outcomes ${fixes.map((f) => `${f.outcome}`).join(',')}`);
      expect(
        fixes.every((f) => (f.gates ?? []).some((g) => !g.passed)),
        'a rejected fix names no failed gate',
      );
      break;
    case 'neighbours': {
      expect(o.loop.state === 'green' && rule(o) === 'green', `ended ${rule(o)}: ${o.loop.stop?.message}`);
      // Every fix of cycle 1 landed in cycle 1: no cycle was spent on a fix dropped for a conflict.
      expect(o.cycles.length === 2, `took ${o.cycles.length} cycles`);
      const integrate = o.cycles[0]?.integrate;
      expect((integrate?.dropped ?? []).length === 0, `dropped at integration: ${JSON.stringify(integrate?.dropped)}`);
      const redone = integrate?.redone ?? [];
      expect(redone.length > 0 && redone.every((r) => r.outcome === 'accepted' && r.attempts >= 1), `re-done: ${JSON.stringify(redone)}`);
      // The conflict and the fix it really conflicted with, in cycle 1's report and in cycle 2's.
      for (const c of o.cycles) {
        const section = c.markdown?.split('Fixes of cycle 1')[1] ?? '';
        for (const r of redone) {
          expect(
            section.includes('re-done after a conflict') && section.includes(r.conflict),
            `cycle ${c.n}'s report does not say ${r.fingerprint} was re-done (${r.conflict})`,
          );
        }
      }
      break;
    }
    case 'no-traffic': {
      const first = o.cycles[0]?.report;
      expect((first?.summary.total ?? 0) > 0 && first?.summary.passed === first?.summary.total, 'the offline suite did not pass: nothing proven');
      expect(o.loop.state !== 'green' && rule(o) === 'not-real', `ended ${rule(o)}: ${o.loop.stop?.message}`);
      expect(
        o.cycles.every((c) => c.report?.verdict === 'not-real'),
        `verdicts ${o.cycles.map((c) => c.report?.verdict).join(',')}`,
      );
      // greenloop's readiness probe hit the service just before the run (its log line well inside the old 5 s
      // skew allowance): the suite itself reached nothing, and that is the reason given.
      const reasons = first?.realness.reasons.join(' ') ?? '';
      expect(/services seen: none/.test(reasons), `realness reasons: ${reasons}`);
      break;
    }
    case 'skip-all':
      expect(o.loop.state !== 'green', 'went green with every test skipped');
      expect(rule(o) === 'not-real', `ended ${rule(o)}: ${o.loop.stop?.message}`);
      expect(
        o.cycles.every((c) => c.report?.verdict !== 'green'),
        'a cycle was reported green',
      );
      break;
  }
  return out;
}

/** A markdown table of the rows: stack | scenario | expected | observed | cycles | wall time. */
export function scenarioTable(rows: readonly Observation[]): string {
  const lines = ['| stack | scenario | expected | observed | cycles | wall time |', '|---|---|---|---|---|---|'];
  for (const o of rows) {
    const bad = problems(o);
    lines.push(
      `| ${o.stack} | ${o.scenario} | ${EXPECTED[o.scenario]} | ${observed(o)}${bad.length ? ` ❌ ${bad.join('; ')}` : ' ✅'} | ${o.loop.cycle} | ${(o.wallMs / 1000).toFixed(1)} s |`,
    );
  }
  return lines.join('\n');
}
