// What reading a loop's greenloop.yaml at its base commit costs per step, next to the working-tree loader
// it replaces (one stat per call, a re-parse when the file changes): the demo's greenloop.yaml, a cold read
// (git cat-file + YAML + schema, a fresh loader each time) and a cached read (the same commit again).
// Run: node bench/config-at-commit-bench.ts [cold runs]   (goal: cached read ≤ 100 µs, cold read ≤ 50 ms)

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createConfigLoader } from '@greenloop/core';
import { createDemoRepo } from '../apps/cli/src/demo-repo.ts';
import { createCommitConfigLoader } from '../apps/worker/src/config-at-commit.ts';
import { figure } from './figure.ts';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function perCall(n: number, fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return (performance.now() - t) / n;
}

export async function main(coldRuns = 30): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'greenloop-config-bench-'));
  try {
    const repo = join(dir, 'repo');
    const commit = createDemoRepo(repo);
    const cold: number[] = [];
    for (let i = 0; i < coldRuns; i++) {
      const load = createCommitConfigLoader();
      const t = performance.now();
      await load(repo, commit);
      cold.push(performance.now() - t);
    }
    figure('config.commit.cold', median(cold), 'ms', '<=50');
    const cached = createCommitConfigLoader();
    await cached(repo, commit);
    figure('config.commit.cached', 1000 * (await perCall(10_000, () => cached(repo, commit))), 'µs', '<=100');
    const tree = createConfigLoader(repo);
    await tree();
    figure('config.worktree.cached', 1000 * (await perCall(10_000, tree)), 'µs', '(the stat-per-call loader it replaces for loops)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(Number(process.argv[2] ?? 30));
