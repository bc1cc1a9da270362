// Orchestration overhead: one demo cycle under greenloop (API → BullMQ → deploy → test → analyze, on
// real Redis) ÷ the same deploy and test commands run by a plain shell script. Median of several runs.
// Run: node bench/overhead.ts [runs]   (goal ≤ 1.02)

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeQueues, createLogger, createQueues, LoopStore, readEnv, resolveRedis, startLoop, TERMINAL_STATES } from '@greenloop/core';
import { startWorker } from '@greenloop/worker';
import { Redis } from 'ioredis';
import { createDemoRepo } from '../apps/cli/src/demo-repo.ts';
import { figure } from './figure.ts';

const BASELINE = fileURLToPath(new URL('./baseline-cycle.sh', import.meta.url));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** A one-cycle, no-fixer variant of the demo config: deploy → test → analyze, then stop. */
function oneCycleConfig(repo: string): void {
  const yaml = execFileSync('cat', [join(repo, 'greenloop.yaml')]).toString();
  const trimmed = yaml.replace(/\n {4}fixer:[\s\S]*?(?=\n {4}loop:)/, '').replace(/loop: \{[^}]*\}/, 'loop: { maxCycles: 1 }');
  writeFileSync(join(repo, 'greenloop.yaml'), trimmed);
  execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-qam', 'one cycle'], { cwd: repo });
}

export async function main(runs = 5): Promise<{ ratio: number; greenloopMs: number; shellMs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'greenloop-bench-'));
  const log = createLogger('bench', 'warn');
  const redis = await resolveRedis({ redisUrl: process.env.REDIS_URL, home: dir, log, pathVar: process.env.PATH });
  const repo = join(dir, 'repo');
  createDemoRepo(repo);
  oneCycleConfig(repo);
  const prefix = `glbench-${Date.now().toString(36)}`;
  const env = readEnv({ REDIS_URL: redis.url, GREENLOOP_HOME: join(dir, 'home'), GREENLOOP_REPO: repo, GREENLOOP_PREFIX: prefix, LOG_LEVEL: 'warn' });
  const worker = await startWorker(env, log, redis.url, { ...process.env });
  const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
  const store = new LoopStore(conn, prefix);
  const queues = createQueues(conn, prefix);
  const gl: number[] = [];
  const sh: number[] = [];
  try {
    for (let i = 0; i < runs + 1; i++) {
      // Alternate, so drift on the machine affects both sides alike; the first pair warms caches.
      let t = performance.now();
      execFileSync('bash', [BASELINE, repo, join(dir, `shell-${i}`)], { stdio: 'ignore' });
      const shellMs = performance.now() - t;

      t = performance.now();
      const out = await startLoop({ store, queues }, { environment: 'demo', actor: { kind: 'cli', name: 'bench' } });
      if (out.kind !== 'created') throw new Error('loop not created');
      for (;;) {
        const loop = await store.getLoop(out.loop.id);
        if (loop && TERMINAL_STATES.includes(loop.state)) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      const greenloopMs = performance.now() - t;
      const loop = await store.getLoop(out.loop.id);
      const cycle = await store.getCycle(out.loop.id, 1);
      const span = (a?: string, b?: string) => (a && b ? `${Date.parse(b) - Date.parse(a)}` : '?');
      const st = cycle?.stages ?? {};
      const breakdown = `queued→started ${span(loop?.createdAt, loop?.startedAt)}, deploy ${span(st.deploy?.startedAt, st.deploy?.finishedAt)}, test ${span(st.test?.startedAt, st.test?.finishedAt)}, analyze ${span(st.analyze?.startedAt, st.analyze?.finishedAt)}, analyzed→finished ${span(st.analyze?.finishedAt, loop?.finishedAt)} ms`;
      if (i > 0) {
        gl.push(greenloopMs);
        sh.push(shellMs);
      }
      console.log(`  run ${i === 0 ? 'warm-up' : i}: greenloop ${greenloopMs.toFixed(0)} ms (${breakdown}), shell ${shellMs.toFixed(0)} ms`);
    }
  } finally {
    await worker.close();
    await closeQueues(queues);
    await store.clearAll();
    conn.disconnect();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const greenloopMs = median(gl);
  const shellMs = median(sh);
  const ratio = greenloopMs / shellMs;
  // Each pair ran back to back, so the per-pair ratio cancels most of the machine's drift.
  const pairRatio = median(gl.map((g, i) => g / (sh[i] as number)));
  console.log(
    `orchestration overhead: greenloop ${greenloopMs.toFixed(0)} ms / shell ${shellMs.toFixed(0)} ms = ${ratio.toFixed(3)} (medians of ${runs}); median of per-pair ratios ${pairRatio.toFixed(3)}; goal ≤ 1.02`,
  );
  figure('overhead.demo', pairRatio, 'ratio', '<=1.02');
  return { ratio, greenloopMs, shellMs };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(Number(process.argv[2] ?? 5));
