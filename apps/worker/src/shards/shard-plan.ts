import { relative } from 'node:path';

/**
 * How a sharded suite is split: each shard's files (for {{shardFiles}}), heaviest first into the lightest
 * shard (longest-processing-time greedy), weighed by the duration history; a file with no history weighs
 * the mean of those with one, so the first run splits by file count.
 */
export interface ShardPlan {
  /** The test stage's run id; shard i's is `<runId>-s<i>`. */
  runId: string;
  count: number;
  /** Per shard, its files in run order (previously failing first); absent for native sharding. */
  files?: string[][];
  /** Per shard, the files that run first as their own run (tests that failed or flaked last cycle). */
  first?: string[][];
  balancedBy: 'duration-history' | 'file-count' | 'native';
  /** Expected duration of each shard from the history (ms), when it had any. */
  expectedMs?: number[];
}

/** Splits `files` into `count` shards of near-equal expected duration; deterministic for the same input. */
export function balanceFiles(files: readonly string[], durations: ReadonlyMap<string, number>, count: number): { shards: string[][]; expectedMs: number[] } {
  const known = files.map((f) => durations.get(f)).filter((d): d is number => d !== undefined);
  const fallback = known.length ? known.reduce((a, b) => a + b, 0) / known.length : 1;
  const weighed = files.map((f) => ({ f, ms: durations.get(f) ?? fallback })).sort((a, b) => b.ms - a.ms || a.f.localeCompare(b.f));
  const shards = Array.from({ length: count }, () => ({ files: [] as string[], ms: 0 }));
  for (const w of weighed) {
    let best = shards[0] as (typeof shards)[number];
    for (const s of shards) if (s.ms < best.ms || (s.ms === best.ms && s.files.length < best.files.length)) best = s;
    best.files.push(w.f);
    best.ms += w.ms;
  }
  return { shards: shards.map((s) => s.files.sort()), expectedMs: shards.map((s) => Math.round(s.ms)) };
}

/** `files` with those in `failing` moved to the front (each group keeps its order). */
export function failingFirst(files: readonly string[], failing: ReadonlySet<string>): { first: string[]; rest: string[] } {
  return { first: files.filter((f) => failing.has(f)), rest: files.filter((f) => !failing.has(f)) };
}

/**
 * The suite file (one of `files`, relative to `cwd`) a JUnit testcase came from: its `file` attribute
 * (node --test, pytest xunit1), else its dotted classname naming the file's path (pytest `tests.test_api`,
 * `tests.test_api.TestUsers`). Undefined when neither matches.
 */
export function fileOfTest(t: { file?: string; classname: string }, files: readonly string[], cwd: string): string | undefined {
  if (t.file) {
    const rel = t.file.startsWith('/') ? relative(cwd, t.file) : t.file.replace(/^\.\//, '');
    const hit = files.find((f) => f === rel || rel.endsWith(`/${f}`));
    if (hit) return hit;
  }
  const dotted = t.classname.split('.');
  for (let n = dotted.length; n > 0; n--) {
    const path = dotted.slice(0, n).join('/');
    const hit = files.find((f) => f.replace(/\.[^./]+$/, '') === path || f.replace(/\.[^./]+$/, '').endsWith(`/${path}`));
    if (hit) return hit;
  }
  return undefined;
}
