// JUnit ingest + clustering at scale: a 100,000-test JUnit file with 10,000 failures (50 root causes, each
// with varying ids, ports and timestamps), parsed and clustered by greenloop, against junit2json parsing the
// same file alone. Each side runs in its own child process so wall time and peak RSS are clean; sides
// alternate and the median of the runs is reported.
// Run: node bench/junit-bench.ts [runs]   (goals: ingest+cluster ≤ 2 s, peak RSS ≤ 300 MB, ratio ≤ 1.0)

import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { figure } from './figure.ts';
import { WORKER_NODE_FLAGS } from './worker-node-flags.ts';

const SELF = fileURLToPath(import.meta.url);

/** One side's measurement, as printed by the child. */
interface Sample {
  ms: number;
  /** CPU time (user + system) of the same work: steadier than wall time when the machine is shared. */
  cpuMs: number;
  maxRssMb: number;
  /** Peak RSS after loading the side's modules, before reading the file. */
  baseRssMb: number;
  tests: number;
  failures: number;
  clusters: number;
}

/** The figures the benchmark reports. */
export interface JUnitBenchResult {
  tests: number;
  failures: number;
  fileMb: number;
  clusters: number;
  greenloopMs: number;
  greenloopCpuMs: number;
  greenloopRssMb: number;
  /** RSS of node with greenloop's analysis modules loaded, before any work. */
  greenloopBaseRssMb: number;
  junit2jsonMs: number;
  junit2jsonRssMb: number;
  junit2jsonBaseRssMb: number;
  /** greenloop ingest+cluster time ÷ junit2json parse time. */
  ratio: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const esc = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

// Root causes in the shapes real suites print; {id}, {port}, {ts}, {n} vary per failure.
const CAUSES: ((i: number, v: Record<string, string>) => { message: string; type: string; body: string })[] = [
  (i, _v) => ({
    message: `POST /api/r${i}/start → 404`,
    type: 'AssertionError',
    body: `AssertionError [ERR_ASSERTION]: POST /api/r${i}/start → 404\n\n404 !== 200\n`,
  }),
  (i, v) => ({
    message: `expected 200 got 403 for GET /api/r${i}/${v.id}/items`,
    type: 'Error',
    body: `Error: expected 200 got 403 for GET /api/r${i}/${v.id}/items\n`,
  }),
  (i, v) => ({
    message: `expected 200 got 500 for PUT /api/r${i}/${v.id} at ${v.ts}`,
    type: 'Error',
    body: `Error: expected 200 got 500 for PUT /api/r${i}/${v.id} at ${v.ts}\n`,
  }),
  (i, v) => ({
    message: `connect ECONNREFUSED 10.0.${v.n}.4:${5400 + i} (via 127.0.0.1:${v.port})`,
    type: 'Error',
    body: `Error: connect ECONNREFUSED 10.0.${v.n}.4:${5400 + i}\n`,
  }),
  (i, v) => ({
    message: `received 1011 (internal error) in handler r${i} for session ${v.id}`,
    type: 'Error',
    body: `Error: received 1011 (internal error) in handler r${i} for session ${v.id}\n`,
  }),
  (i, v) => ({
    message: `Expected values to be strictly equal:\n\n${v.n} !== ${Number(v.n) + 1}`,
    type: 'AssertionError',
    body: `AssertionError [ERR_ASSERTION]: values differ\n    at Module${i}.compute (/srv/app/src/module${i}.js:${10 + i}:7)\n`,
  }),
];

function failureXml(cause: number, k: number, suite: number): string {
  const v = {
    id: `${(k * 2654435761) % 4294967296}`.padStart(10, '7'),
    port: String(30000 + (k % 30000)),
    ts: new Date(1_757_000_000_000 + k * 1000).toISOString(),
    n: String(k % 97),
  };
  const shape = CAUSES[cause % CAUSES.length] as (typeof CAUSES)[number];
  const f = shape(Math.floor(cause / CAUSES.length), v);
  const stack = [
    f.body.trimEnd(),
    `    at TestContext.<anonymous> (file:///home/runner/work/app/e2e/suite-${suite}.test.js:${20 + (cause % 40)}:11)`,
    '    at Test.runInAsyncScope (node:async_hooks:214:14)',
    '    at Test.run (node:internal/test_runner/test:1047:25)',
    '    at Suite.processPendingSubtests (node:internal/test_runner/test:744:18)',
    '    at Test.postRun (node:internal/test_runner/test:1173:19)',
    '    at Test.run (node:internal/test_runner/test:1101:12)',
    '    at async Suite.run (node:internal/test_runner/test:1449:7)',
  ].join('\n');
  return `<failure type="testCodeFailure" message="${esc(f.message)}">\n${esc(stack)}\n</failure>`;
}

/** Writes the benchmark JUnit file: `tests` testcases in suites of 100, every `tests/failures`-th failing. */
export async function generateJUnit(file: string, tests = 100_000, failures = 10_000): Promise<void> {
  const out = createWriteStream(file);
  const write = (s: string) => (out.write(s) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  await write('<?xml version="1.0" encoding="utf-8"?>\n<testsuites>\n');
  const every = Math.max(1, Math.floor(tests / failures));
  let failed = 0;
  for (let s = 0; s * 100 < tests; s++) {
    let chunk = `\t<testsuite name="suite ${s}" tests="100" timestamp="2025-09-08T21:04:27.000Z" time="1.5">\n`;
    for (let t = s * 100; t < Math.min(tests, (s + 1) * 100); t++) {
      const fail = t % every === every - 1 && failed < failures;
      const attrs = `name="test ${t} does thing ${t % 13}" classname="suite ${s}" time="0.0${(t % 90) + 10}" file="/home/runner/work/app/e2e/suite-${s}.test.js"`;
      if (fail) {
        chunk += `\t\t<testcase ${attrs}>\n\t\t\t${failureXml(failed % 50, failed, s)}\n\t\t</testcase>\n`;
        failed++;
      } else if (t % 500 === 7) {
        chunk += `\t\t<testcase ${attrs}>\n\t\t\t<system-out>log line ${t}\nrequest ok in 12ms\n</system-out>\n\t\t</testcase>\n`;
      } else chunk += `\t\t<testcase ${attrs}/>\n`;
    }
    chunk += '\t</testsuite>\n';
    await write(chunk);
  }
  await write('</testsuites>\n');
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

async function childGreenloop(file: string): Promise<Sample> {
  // Loaded here, not at the top, so the junit2json child does not carry greenloop's modules.
  const { analyzeFailure, buildClusters } = await import('../apps/worker/src/analysis/cluster.ts');
  const { buildLogIndex } = await import('../apps/worker/src/analysis/correlate.ts');
  const { parseJUnitFiles } = await import('../apps/worker/src/analysis/junit-parser.ts');
  const baseRssMb = process.resourceUsage().maxRSS / 1024;
  const cpu = process.cpuUsage();
  const t = performance.now();
  const parsed = await parseJUnitFiles([file]);
  const index = buildLogIndex([], { runId: 'bench', from: '2025-09-08T21:04:27.000Z', to: '2025-09-08T21:34:27.000Z' });
  const failures = parsed.tests.filter((x) => x.status === 'failed' || x.status === 'error').map((x) => analyzeFailure(x, index));
  const clusters = buildClusters(failures, { previous: [], cycle: 1 });
  const ms = performance.now() - t;
  const used = process.cpuUsage(cpu);
  return {
    ms,
    cpuMs: (used.user + used.system) / 1000,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    baseRssMb,
    tests: parsed.tests.length,
    failures: failures.length,
    clusters: clusters.length,
  };
}

async function childJunit2json(file: string): Promise<Sample> {
  const { parse } = await import('junit2json');
  const baseRssMb = process.resourceUsage().maxRSS / 1024;
  const cpu = process.cpuUsage();
  const t = performance.now();
  const xml = await readFile(file, 'utf8');
  const out = await parse(xml);
  const ms = performance.now() - t;
  const used = process.cpuUsage(cpu);
  let tests = 0;
  let failures = 0;
  const suites = out && 'testsuite' in out ? (out.testsuite ?? []) : [];
  for (const s of suites)
    for (const c of s.testcase ?? []) {
      tests++;
      if (c.failure) failures++;
    }
  return { ms, cpuMs: (used.user + used.system) / 1000, maxRssMb: process.resourceUsage().maxRSS / 1024, baseRssMb, tests, failures, clusters: 0 };
}

function runChild(side: 'greenloop' | 'junit2json', file: string, flags: readonly string[] = []): Sample {
  const out = execFileSync(process.execPath, [...flags, SELF, `--child=${side}`, file], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').at(-1) as string) as Sample;
}

/** Generates the file, measures both sides `runs` times (alternating) and prints the medians. */
export async function main(runs = 3, tests = 100_000, failures = 10_000): Promise<JUnitBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'greenloop-junit-bench-'));
  try {
    const file = join(dir, 'junit.xml');
    await generateJUnit(file, tests, failures);
    const fileMb = (await stat(file)).size / 1024 / 1024;
    const gl: Sample[] = [];
    const j2j: Sample[] = [];
    const glFlags: Sample[] = [];
    for (let i = 0; i < runs; i++) {
      gl.push(runChild('greenloop', file));
      glFlags.push(runChild('greenloop', file, WORKER_NODE_FLAGS));
      j2j.push(runChild('junit2json', file));
    }
    const g = gl[0] as Sample;
    const result: JUnitBenchResult = {
      tests: g.tests,
      failures: g.failures,
      fileMb,
      clusters: g.clusters,
      greenloopMs: median(gl.map((s) => s.ms)),
      greenloopCpuMs: median(gl.map((s) => s.cpuMs)),
      greenloopRssMb: Math.max(...gl.map((s) => s.maxRssMb)),
      greenloopBaseRssMb: median(gl.map((s) => s.baseRssMb)),
      junit2jsonMs: median(j2j.map((s) => s.ms)),
      junit2jsonRssMb: Math.max(...j2j.map((s) => s.maxRssMb)),
      junit2jsonBaseRssMb: median(j2j.map((s) => s.baseRssMb)),
      ratio: 0,
    };
    result.ratio = result.greenloopMs / result.junit2jsonMs;
    const j = j2j[0] as Sample;
    if (j.tests !== g.tests || j.failures !== g.failures)
      throw new Error(`sides disagree: greenloop ${g.tests}/${g.failures}, junit2json ${j.tests}/${j.failures}`);
    console.log(
      `junit file: ${result.tests} tests, ${result.failures} failures, ${result.fileMb.toFixed(1)} MB; ${result.clusters} clusters (${runs} runs, medians)`,
    );
    console.log(
      `greenloop ingest+cluster: ${result.greenloopMs.toFixed(0)} ms (CPU ${result.greenloopCpuMs.toFixed(0)} ms), peak RSS ${result.greenloopRssMb.toFixed(0)} MB (node + modules before work: ${result.greenloopBaseRssMb.toFixed(0)} MB)   goals: ≤ 2000 ms, ≤ 300 MB`,
    );
    console.log(
      `junit2json parse only:    ${result.junit2jsonMs.toFixed(0)} ms, peak RSS ${result.junit2jsonRssMb.toFixed(0)} MB (node + modules before work: ${result.junit2jsonBaseRssMb.toFixed(0)} MB)`,
    );
    const flagsMs = median(glFlags.map((x) => x.ms));
    const flagsRssMb = Math.max(...glFlags.map((x) => x.maxRssMb));
    console.log(
      `greenloop with the worker's node flags (${WORKER_NODE_FLAGS.join(' ')}): ${flagsMs.toFixed(0)} ms (CPU ${median(glFlags.map((x) => x.cpuMs)).toFixed(0)} ms), peak RSS ${flagsRssMb.toFixed(0)} MB`,
    );
    console.log(`ratio greenloop / junit2json: ${result.ratio.toFixed(2)}   goal ≤ 1.0`);
    figure('junit.100k.ms', result.greenloopMs, 'ms', '<=2000');
    figure('junit.100k.cpu', result.greenloopCpuMs, 'ms');
    figure('junit.100k.rss', result.greenloopRssMb, 'MB', '<=300');
    figure('junit.100k.vsJunit2json', result.ratio, 'ratio', '<=1.0');
    figure('junit.100k.workerFlags.ms', flagsMs, 'ms', '<=2000');
    figure('junit.100k.workerFlags.rss', flagsRssMb, 'MB', '<=300');
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const childArg = process.argv.find((a) => a.startsWith('--child='));
if (childArg) {
  const side = childArg.slice('--child='.length);
  const file = process.argv[process.argv.indexOf(childArg) + 1] as string;
  const sample = side === 'junit2json' ? await childJunit2json(file) : await childGreenloop(file);
  console.log(JSON.stringify(sample));
} else if (process.argv[1] === SELF) {
  await main(Number(process.argv[2] ?? 3));
}
