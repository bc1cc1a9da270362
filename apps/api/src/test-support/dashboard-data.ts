import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AnalyzeStageResult, ClusterSummary, CycleRecord, LoopRecord, LoopStore, StageName, StageRecord } from '@greenloop/core';
import { loopArtifactDir } from '../artifacts.ts';

/**
 * Test data for the dashboard and the insights routes: three finished loops on two environments,
 * written through the real LoopStore (and report files into the real artifact directory), with hostile
 * test names wherever a test name can reach the page. Times are fixed so every figure can be computed
 * by hand; the expectations next to them are what the routes and the page must show.
 */

/** Markup that must only ever appear on the page as text. */
export const HOSTILE = {
  img: '<img src=x onerror="window.__xss=1">',
  script: '<script>window.__xss=2</script>',
  link: 'javascript:window.__xss=3',
} as const;

export const TEST_IDS = {
  broken: `api › users › rejects ${HOSTILE.img}`,
  route: 'api › agents › starts an agent',
  flaky: `ui › login ${HOSTILE.script} flakes`,
  sometimes: 'ui › search › suggests',
} as const;

export const FP = { route: 'aaaaaaaaaaa1', auth: 'bbbbbbbbbbb2', gone: 'ccccccccccc3' } as const;

const cluster = (fingerprint: string, title: string, status: ClusterSummary['status'], tests: string[]): ClusterSummary => ({
  fingerprint,
  title,
  triage: fingerprint === FP.route ? 'route-missing' : fingerprint === FP.auth ? 'auth-rejected' : 'server-error',
  status,
  tests,
  sampleMessage: 'expected 200, got 404',
  endpoints: [],
});

const ROUTE_TITLE = `Route missing: POST /api/agents/start → 404 ${HOSTILE.img}`;
const AUTH_TITLE = 'Auth rejected: GET /api/users → 401';
/** Fails in nightly-a #1 only, and is not listed fixed in #2: its test failed under another fingerprint. */
const GONE_TITLE = 'Server error: POST /api/agents/stop → 500';

interface CycleSpec {
  clusters: ClusterSummary[];
  fixed?: string[];
  flaky?: string[];
  failing?: string[];
  totals: { total: number; passed: number; failed: number; skipped: number };
  applied?: { fingerprint: string; commit: string }[];
  /** Seconds per stage, in order; a stage left out did not run. */
  seconds: Partial<Record<StageName, number>>;
  spend?: { usd: number; inputTokens: number; outputTokens: number };
}

interface LoopSpec {
  id: string;
  environment: string;
  startedAt: string;
  trigger: LoopRecord['startedBy'];
  state: LoopRecord['state'];
  stop: LoopRecord['stop'];
  cycles: CycleSpec[];
  spend?: { usd: number; inputTokens: number; outputTokens: number };
}

export const LOOPS: LoopSpec[] = [
  {
    id: 'nightly-a-0001',
    environment: 'staging',
    startedAt: '2026-11-28T02:00:00.000Z',
    trigger: { kind: 'schedule', name: 'nightly' },
    state: 'green',
    stop: { rule: 'green', message: 'every test passed in cycle 3' },
    spend: { usd: 1.84, inputTokens: 120_000, outputTokens: 9_500 },
    cycles: [
      {
        clusters: [
          cluster(FP.route, ROUTE_TITLE, 'new', [TEST_IDS.route, TEST_IDS.broken]),
          cluster(FP.auth, AUTH_TITLE, 'new', [TEST_IDS.broken]),
          cluster(FP.gone, GONE_TITLE, 'new', [TEST_IDS.sometimes]),
        ],
        flaky: [TEST_IDS.flaky],
        failing: [TEST_IDS.route, TEST_IDS.broken, TEST_IDS.sometimes],
        totals: { total: 10, passed: 7, failed: 3, skipped: 0 },
        applied: [{ fingerprint: FP.route, commit: 'f1f1f1f1f1f1f1f1' }],
        seconds: { deploy: 20, test: 60, analyze: 5, fix: 90, integrate: 10 },
        spend: { usd: 1.1, inputTokens: 70_000, outputTokens: 5_000 },
      },
      {
        clusters: [cluster(FP.auth, AUTH_TITLE, 'persisting', [TEST_IDS.broken])],
        fixed: [FP.route],
        flaky: [TEST_IDS.flaky],
        failing: [TEST_IDS.broken],
        totals: { total: 10, passed: 9, failed: 1, skipped: 0 },
        applied: [{ fingerprint: FP.auth, commit: 'f2f2f2f2f2f2f2f2' }],
        seconds: { deploy: 18, test: 55, analyze: 4, fix: 70, integrate: 8 },
        spend: { usd: 0.74, inputTokens: 50_000, outputTokens: 4_500 },
      },
      { clusters: [], fixed: [FP.auth], totals: { total: 10, passed: 10, failed: 0, skipped: 0 }, seconds: { deploy: 19, test: 52, analyze: 3 } },
    ],
  },
  {
    id: 'nightly-b-0002',
    environment: 'staging',
    startedAt: '2026-11-29T02:00:00.000Z',
    trigger: { kind: 'schedule', name: 'nightly' },
    state: 'stopped',
    stop: { rule: 'max-cycles', message: `2 cycles without green; still failing: ${ROUTE_TITLE}`, clusters: [FP.route] },
    cycles: [
      {
        clusters: [cluster(FP.route, ROUTE_TITLE, 'new', [TEST_IDS.route])],
        flaky: [TEST_IDS.flaky],
        failing: [TEST_IDS.route],
        totals: { total: 10, passed: 9, failed: 1, skipped: 0 },
        seconds: { deploy: 21, test: 58, analyze: 5, fix: 40, integrate: 6 },
      },
      {
        clusters: [cluster(FP.route, ROUTE_TITLE, 'persisting', [TEST_IDS.route])],
        flaky: [TEST_IDS.sometimes],
        failing: [TEST_IDS.route],
        totals: { total: 10, passed: 8, failed: 2, skipped: 0 },
        seconds: { deploy: 20, test: 57, analyze: 5 },
      },
    ],
  },
  {
    id: 'manual-c-0003',
    environment: 'production',
    startedAt: '2026-11-29T09:30:00.000Z',
    trigger: { kind: 'api', name: 'release-manager' },
    state: 'green',
    stop: { rule: 'green', message: 'every test passed in cycle 1' },
    cycles: [{ clusters: [], totals: { total: 5, passed: 5, failed: 0, skipped: 0 }, seconds: { deploy: 30, test: 25, analyze: 2 } }],
  },
];

/** The cycle report markdown of nightly-a cycle 1: hostile names in text, code, a table, raw HTML and a link. */
export function reportMarkdown(): string {
  return [
    '# Cycle 1 of nightly-a-0001 on staging',
    '',
    '**Verdict: failing** — 7 of 10 passed; 2 clusters (2 new); 1 flaky.',
    '',
    '| Cluster | Tests | Status |',
    '| --- | --- | --- |',
    `| ${ROUTE_TITLE} | 2 | new |`,
    `| ${AUTH_TITLE} | 1 | new |`,
    '',
    '## Failing tests',
    '',
    `- \`${TEST_IDS.broken}\``,
    `- ${TEST_IDS.broken}`,
    `- ${TEST_IDS.flaky} (flaky)`,
    '',
    HOSTILE.script,
    '',
    `[open the evidence](${HOSTILE.link}) · [the docs](https://example.invalid/docs)`,
    '',
    '```',
    `AssertionError: expected 200, got 404 ${HOSTILE.img}`,
    '```',
    '',
  ].join('\n');
}

export const STDOUT_TEXT = `ok 1 - starts an agent\nnot ok 2 - rejects ${HOSTILE.img}\n`;

function at(base: string, seconds: number): string {
  return new Date(Date.parse(base) + seconds * 1000).toISOString();
}

/** Writes LOOPS through the store, and nightly-a cycle 1's report and evidence into the artifact directory. */
export async function writeDashboardData(store: LoopStore, home: string): Promise<void> {
  for (const spec of LOOPS) {
    let clock = 0;
    const cycles: { cycle: CycleRecord; stages: StageRecord[] }[] = [];
    for (const [i, c] of spec.cycles.entries()) {
      const n = i + 1;
      const cycleStart = clock;
      const dir = join(loopArtifactDir(home, spec.id), `cycle-${n}`, 'analyze');
      const report = { markdown: join(dir, 'report.md'), json: join(dir, 'report.json') };
      const stages: StageRecord[] = [];
      for (const stage of ['deploy', 'test', 'analyze', 'fix', 'integrate'] as const) {
        const s = c.seconds[stage];
        if (s === undefined) continue;
        const record: StageRecord = {
          stage,
          status: 'succeeded',
          startedAt: at(spec.startedAt, clock),
          finishedAt: at(spec.startedAt, clock + s),
          attempts: 1,
        };
        clock += s;
        if (stage === 'analyze') {
          const result: AnalyzeStageResult = {
            green: c.clusters.length === 0,
            totals: { ...c.totals, durationMs: 1000 },
            realness: { real: true, reasons: [] },
            clusters: c.clusters,
            fixed: c.fixed ?? [],
            flaky: c.flaky ?? [],
            failingTests: c.failing ?? [],
            report,
            clusterFiles: {},
            testStatusesFile: join(dir, 'test-statuses.json'),
          };
          record.result = result;
        }
        if (stage === 'integrate') record.result = { commit: `i${n}`.padEnd(16, '0'), applied: c.applied ?? [], dropped: [] };
        if (stage === 'fix') record.result = { planned: c.clusters.map((x) => x.fingerprint), skipped: [], results: [] };
        stages.push(record);
      }
      const cycle: CycleRecord = {
        loopId: spec.id,
        n,
        commit: `c${n}`.padEnd(16, '0'),
        startedAt: at(spec.startedAt, cycleStart),
        finishedAt: at(spec.startedAt, clock),
        totals: { ...c.totals, durationMs: 1000 },
        green: c.clusters.length === 0,
        failingTests: c.failing ?? [],
        failingFingerprints: c.clusters.map((x) => x.fingerprint),
        stages: {},
        ...(spec.id === REPORTED.loopId && n === REPORTED.cycle ? { report } : {}),
        ...(c.spend ? { spend: c.spend } : {}),
      };
      cycles.push({ cycle, stages });
      clock += 2;
    }
    const last = spec.cycles.at(-1);
    const loop: LoopRecord = {
      id: spec.id,
      environment: spec.environment,
      state: spec.state,
      createdAt: spec.startedAt,
      startedAt: spec.startedAt,
      finishedAt: at(spec.startedAt, clock),
      startedBy: spec.trigger,
      branch: `greenloop/${spec.id}`,
      baseCommit: 'c1'.padEnd(16, '0'),
      cycle: spec.cycles.length,
      ...(spec.stop ? { stop: spec.stop } : {}),
      ...(last ? { latest: { ...last.totals, durationMs: 1000 } } : {}),
      ...(spec.spend ? { spend: spec.spend } : {}),
    };
    await store.createLoop(loop);
    for (const { cycle, stages } of cycles) {
      await store.saveCycle(cycle);
      for (const stage of stages) await store.saveStage(spec.id, cycle.n, stage);
    }
    // An event and a notice quoting a test name, as the worker's progress messages and Slack notices do.
    await store.emit({ type: 'stage.progress', loopId: spec.id, cycle: 1, stage: 'analyze', message: `failing: ${TEST_IDS.broken}` });
    await store.addNotice(spec.id, `Slack: could not post about ${TEST_IDS.flaky}`);
  }
  writeReport(home);
}

/** The one cycle with a report on disk. */
export const REPORTED = { loopId: 'nightly-a-0001', cycle: 1 } as const;

function writeReport(home: string): void {
  const cycleDir = join(loopArtifactDir(home, REPORTED.loopId), `cycle-${REPORTED.cycle}`);
  const dir = join(cycleDir, 'analyze');
  mkdirSync(join(dir, 'clusters'), { recursive: true });
  mkdirSync(join(cycleDir, 'test'), { recursive: true });
  writeFileSync(join(dir, 'report.md'), reportMarkdown());
  writeFileSync(join(cycleDir, 'test', 'stdout.txt'), STDOUT_TEXT);
  writeFileSync(join(cycleDir, 'test', 'stderr.txt'), '');
  writeFileSync(join(cycleDir, 'test', 'junit.xml'), '<testsuites/>');
  writeFileSync(join(dir, 'clusters', `${FP.route}.md`), `# ${ROUTE_TITLE}\n`);
  const report = {
    schemaVersion: 1,
    loopId: REPORTED.loopId,
    cycle: REPORTED.cycle,
    evidenceFiles: { stdout: join(cycleDir, 'test', 'stdout.txt'), stderr: join(cycleDir, 'test', 'stderr.txt'), junit: [join(cycleDir, 'test', 'junit.xml')] },
    // One path outside the loop's directory: the evidence route must leave it out.
    clusters: [
      { fingerprint: FP.route, title: ROUTE_TITLE, dossier: `clusters/${FP.route}.md` },
      { fingerprint: FP.auth, title: AUTH_TITLE, dossier: '/etc/passwd' },
    ],
  };
  writeFileSync(join(dir, 'report.json'), JSON.stringify(report, null, 2));
}
