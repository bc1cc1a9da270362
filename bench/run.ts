// `npm run bench`: every benchmark, one after another, printing figures (never a pass/fail test), then
// every figure again as one machine-readable summary line each (`figure <name> <value> <unit> <goal>`).
//   npm run bench                        all sections
//   npm run bench -- junit api           only the named sections
//   npm run bench -- --json out.json     also write the figures to out.json
// Sections whose file is not in this tree (written on other branches) print "not available" instead of
// failing, so the branches can merge in any order. A section that throws is reported and the rest still
// run; the exit code is then 1.
import { existsSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { figureLine, recordedFigures } from './figure.ts';

interface Section {
  name: string;
  title: string;
  /** File next to this one that exports `main()`; run with no arguments. */
  file: string;
}

const SECTIONS: Section[] = [
  { name: 'overhead', title: 'orchestration overhead and cycle floor: demo cycle vs plain shell script', file: 'overhead.ts' },
  { name: 'scale', title: 'scale out: 1, 10, 50 loops over 2 projects on 3 workers sharing no disk; one killed', file: 'scale-bench.ts' },
  { name: 'junit', title: 'JUnit ingest + cluster', file: 'junit-bench.ts' },
  { name: 'api', title: 'API throughput and latency', file: 'api-bench.ts' },
  { name: 'proxy', title: 'recording proxy cost', file: 'proxy-bench.ts' },
  { name: 'shards', title: 'sharded test stage', file: 'shard-bench.ts' },
  { name: 'prove', title: 'cycles to green with proveOnDeploy', file: 'prove-bench.ts' },
  { name: 'insights', title: 'insights: cluster and flaky histories over 30 and 200 loops', file: 'insights-bench.ts' },
  { name: 'slack', title: 'Slack per loop: thread mode vs incoming webhook', file: 'slack-thread-bench.ts' },
  { name: 'spend', title: 'fixer usage parsing and budget checks', file: 'spend-bench.ts' },
  { name: 'config', title: 'greenloop.yaml read at a commit (cold and cached) vs the working-tree loader', file: 'config-at-commit-bench.ts' },
  { name: 'artifacts', title: 'artifact store: 64 MiB to Cloud Storage and back (fake JSON API on loopback)', file: 'artifact-store-bench.ts' },
  { name: 'mirrors', title: "project mirrors: a loop's fetch (cold and warm) and a job's look-up", file: 'mirror-bench.ts' },
  { name: 'projects', title: 'projects: the project look-up and upgrade guard of a project loop start, and the delete check', file: 'projects-bench.ts' },
];

function parseArgs(argv: string[]): { only: string[]; json?: string } {
  const only: string[] = [];
  let json: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--json') {
      json = argv[++i];
      if (!json) throw new Error('--json needs a file name: npm run bench -- --json figures.json');
    } else if (a.startsWith('--json=')) json = a.slice('--json='.length);
    else if (SECTIONS.some((s) => s.name === a)) only.push(a);
    else throw new Error(`unknown bench section or option ${JSON.stringify(a)}; sections: ${SECTIONS.map((s) => s.name).join(', ')}; option: --json <file>`);
  }
  return { only, ...(json ? { json } : {}) };
}

function hasMain(mod: unknown): mod is { main: () => Promise<unknown> } {
  return typeof mod === 'object' && mod !== null && typeof (mod as { main?: unknown }).main === 'function';
}

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

const args = parseArgs(process.argv.slice(2));
const failed: string[] = [];
const started = new Date();
const loadAtStart = loadavg();
console.log(`greenloop bench, ${started.toISOString()}; load average ${load()} (figures taken under load are pessimistic)`);
for (const section of SECTIONS) {
  if (args.only.length && !args.only.includes(section.name)) continue;
  console.log(`\n== ${section.title} ==`);
  const url = new URL(`./${section.file}`, import.meta.url);
  if (!existsSync(fileURLToPath(url))) {
    console.log(`not available: bench/${section.file} is not in this tree`);
    continue;
  }
  try {
    const mod: unknown = await import(url.href);
    if (!hasMain(mod)) throw new Error(`bench/${section.file} does not export main()`);
    await mod.main();
  } catch (err) {
    failed.push(section.name);
    console.log(`section ${section.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
}

const figures = recordedFigures();
console.log(`\n== figures (${figures.length}; load average now ${load()}) ==`);
for (const f of figures) console.log(figureLine(f));
if (args.json) {
  writeFileSync(
    args.json,
    `${JSON.stringify({ startedAt: started.toISOString(), loadAverage: { start: loadAtStart, end: loadavg() }, failedSections: failed, figures }, null, 2)}\n`,
  );
  console.log(`figures written to ${args.json}`);
}
if (failed.length) {
  console.log(`failed sections: ${failed.join(', ')} (their figures are missing above)`);
  process.exitCode = 1;
}
