// What a project loop's mirror costs a worker, on the demo repository served from a local bare remote:
// the fetch when a loop of a project begins (cold: a worker's first loop of the project; warm: every later
// one, nothing new on the remote) and a job's look-up of the loop's repository (`Mirrors.open` with a commit
// it has: every stage and every loadEnvironment of a project loop pays it).
// Run: node bench/mirror-bench.ts [runs]   (goal: warm fetch ≤ 50 ms, open ≤ 1 ms)

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@greenloop/core';
import { createDemoRepo } from '../apps/cli/src/demo-repo.ts';
import { Mirrors } from '../apps/worker/src/git/mirror.ts';
import { figure } from './figure.ts';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

export async function main(runs = 15): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'greenloop-mirror-bench-'));
  try {
    const work = join(dir, 'work');
    createDemoRepo(work);
    const remote = join(dir, 'shop.git');
    execFileSync('git', ['clone', '-q', '--bare', work, remote]);
    const source = { project: 'shop', remote, baseBranch: 'main' };
    const mirrors = (home: string) => new Mirrors({ home, maxBytes: 1e9, processEnv: {}, log: createLogger('bench', 'silent'), isRunning: async () => true });

    const cold: number[] = [];
    for (let i = 0; i < runs; i++) {
      const m = mirrors(join(dir, `home-${i}`));
      const t = performance.now();
      await m.fetch(source, `cold-${i}`);
      cold.push(performance.now() - t);
    }
    figure('mirror.fetch.cold', median(cold), 'ms', '(first loop of a project on a worker; demo repository)');

    const m = mirrors(join(dir, 'home-0'));
    const warm: number[] = [];
    let base = '';
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      base = (await m.fetch(source, `warm-${i}`)).base;
      warm.push(performance.now() - t);
    }
    figure('mirror.fetch.warm', median(warm), 'ms', '<=50');

    const n = 200;
    const t = performance.now();
    for (let i = 0; i < n; i++) await m.open(source, 'warm-0', base);
    figure('mirror.open', (performance.now() - t) / n, 'ms', '<=1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(Number(process.argv[2] ?? 15));
