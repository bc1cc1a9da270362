// "Fewer cycles": cycles to green with and without fixer.proveOnDeploy, on the demo and on each
// foreign-stack example this machine can run (real worker, Redis, git, services and suites).
//   REDIS_URL=redis://127.0.0.1:6379 node bench/prove-bench.ts [project,…]
// Projects: demo (environments demo and demo-prove: the demo's fixer, right on its first try) and
// demo-hurried (hurried, hurried-prove: the demo fixer's --hurried mode, wrong on its first try at the
// missing route); python-service, go-service, node-playwright-service, two-service (their `fixable`
// environment, and `fixable-prove` with proveOnDeploy); python-service-hurried, go-service-hurried, node-playwright-service-hurried (the
// shared stand-in fixer's `hurried` mode, wrong on its first try at a missing route). Both modes of a
// project run with fixer.attemptsPerCycle 2 (the shipped `demo` environment: 1), so the difference is
// proving. Prints per project and mode: cycles to green, wall time, proofs run and fixes rejected on deploy.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoopRecord, LoopStore } from '@greenloop/core';
import { parse, stringify } from 'yaml';
import { createDemoRepo } from '../apps/cli/src/demo-repo.ts';
import { createExampleRepo, missingToolchain } from '../test/stack-harness.ts';
import { startBenchWorker } from './bench-worker.ts';
import { figure } from './figure.ts';

interface Project {
  name: string;
  /** Environments without and with proveOnDeploy. */
  envs: [string, string];
  /** Why it cannot run here, or undefined. */
  missing?: () => string | undefined;
  create(dir: string): void;
}

/**
 * An example's `fixable` environment with 2 attempts per cycle as `<name>`, and as `<name>-prove` with
 * proveOnDeploy; `hurried`: with the stand-in fixer's hurried mode.
 */
function withProveEnvironment(repo: string, name: string, hurried: boolean): void {
  const file = join(repo, 'greenloop.yaml');
  const config = parse(readFileSync(file, 'utf8')) as { environments: Record<string, { fixer: Record<string, unknown> }> };
  const fixable = config.environments.fixable;
  if (!fixable) throw new Error(`${file} has no fixable environment`);
  const fixer = {
    ...fixable.fixer,
    attemptsPerCycle: 2,
    ...(hurried ? { command: ['python3', 'tools/fixer.py', 'hurried', '{{clusterFile}}', '{{attempt}}'] } : {}),
  };
  config.environments[name] = { ...fixable, fixer };
  config.environments[`${name}-prove`] = { ...fixable, fixer: { ...fixer, proveOnDeploy: true } };
  writeFileSync(file, stringify(config, { aliasDuplicateObjects: false }));
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@greenloop.local', ...args], { cwd: repo, stdio: 'pipe' });
  git('commit', '-qam', 'bench: fixable-prove environment');
}

const example = (name: string, hurried = false): Project => ({
  name: hurried ? `${name}-hurried` : name,
  envs: hurried ? ['hurried', 'hurried-prove'] : ['fixable', 'fixable-prove'],
  missing: () => missingToolchain(name),
  create: (dir) => {
    createExampleRepo(name, dir);
    withProveEnvironment(dir, hurried ? 'hurried' : 'fixable', hurried);
  },
});
const PROJECTS: Project[] = [
  { name: 'demo', envs: ['demo', 'demo-prove'], create: (dir) => createDemoRepo(dir) },
  { name: 'demo-hurried', envs: ['hurried', 'hurried-prove'], create: (dir) => createDemoRepo(dir) },
  example('python-service'),
  example('python-service', true),
  example('go-service'),
  example('go-service', true),
  example('node-playwright-service'),
  example('node-playwright-service', true),
  example('two-service'),
];

async function runProject(p: Project, redisUrl: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `gl-prove-bench-${p.name}-`));
  const repo = join(dir, 'repo');
  p.create(repo);
  const bench = await startBenchWorker({ redisUrl, dir, repo, prefix: `glprove-${p.name}` });
  try {
    // Both modes at once (their own environments): the cycle counts do not depend on timing.
    const loops = await Promise.all(p.envs.map((environment) => bench.runLoop(environment, 'prove-bench')));
    for (const [i, { loop, ms }] of loops.entries()) report(p, i === 1, loop, ms, await proofsOf(bench.store, loop));
  } finally {
    await bench.close();
  }
}

/** Proofs run over the loop, and how many of them rejected their fix (the fix stage's gates). */
async function proofsOf(store: LoopStore, loop: LoopRecord): Promise<{ run: number; rejected: number }> {
  const out = { run: 0, rejected: 0 };
  for (let n = 1; n <= loop.cycle; n++) {
    for (const r of (await store.getStage(loop.id, n, 'fix'))?.result?.results ?? []) {
      for (const g of r.gates ?? []) {
        if (!g.name.startsWith('proven-on-deploy')) continue;
        out.run++;
        if (!g.passed) out.rejected++;
      }
    }
  }
  return out;
}

function report(p: Project, prove: boolean, loop: LoopRecord, ms: number, proofs: { run: number; rejected: number }): void {
  const mode = prove ? 'prove' : 'plain';
  console.log(`${p.name} ${mode}: ${loop.state} after ${loop.cycle} cycle(s) (${loop.stop?.rule}: ${loop.stop?.message}) in ${(ms / 1000).toFixed(1)}s`);
  figure(`cycles.${p.name}.${mode}`, loop.cycle, 'cycles', loop.state === 'green' ? undefined : `(not green: ${loop.stop?.rule})`);
  figure(`wall.${p.name}.${mode}`, Math.round(ms / 100) / 10, 's');
  if (prove) {
    figure(`proofs.${p.name}.prove`, proofs.run, 'deploys');
    figure(`rejected-on-deploy.${p.name}.prove`, proofs.rejected, 'fixes');
  }
}

export async function main(only?: string[]): Promise<void> {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  for (const p of PROJECTS) {
    if (only && !only.includes(p.name)) continue;
    const why = p.missing?.();
    if (why) {
      console.log(`${p.name}: skipped, ${why} is not installed here`);
      continue;
    }
    await runProject(p, redisUrl);
  }
}

if (import.meta.main) await main(process.argv[2]?.split(','));
