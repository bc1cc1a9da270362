// What reading fixer usage and checking budgets cost: (1) readFixerUsage on 4 MB of agent output (the
// window it searches), per format; (2) spendLedger, the read behind every budget check (controller plan,
// each fix job before it starts), for a loop of N cycles × M clusters on a real Redis. Prints medians.
//   REDIS_URL=redis://127.0.0.1:6379 node bench/spend-bench.ts [cycles=10] [clusters=8]
// (`npm run bench -- spend` runs it with the defaults.)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type FixResult, LoopStore, Redis } from '@greenloop/core';
import { spendLedger } from '../apps/worker/src/fix/budget.ts';
import { readFixerUsage } from '../apps/worker/src/fix/usage.ts';
import { figure } from './figure.ts';

const MB4 = 4 * 1024 * 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function time(runs: number, fn: () => Promise<unknown>): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

/** Lines repeated up to 4 MB, then `tail`. */
function output(line: (i: number) => string, tail: string): string {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < MB4; i++) {
    const l = `${line(i)}\n`;
    parts.push(l);
    size += l.length;
  }
  return parts.join('') + tail;
}

/** Agent output per format, with the figure's key first. */
const samples = (): [key: string, name: string, text: string][] => [
  [
    'codex',
    'codex exec --json (turn.completed every 50 lines)',
    output(
      (i) =>
        i % 50 === 49
          ? JSON.stringify({ type: 'turn.completed', usage: { input_tokens: 24763, cached_input_tokens: 24448, output_tokens: 122 } })
          : JSON.stringify({
              type: 'item.completed',
              item: { id: `item_${i}`, type: 'command_execution', command: 'npm test', aggregated_output: 'ok '.repeat(20) },
            }),
      '',
    ),
  ],
  [
    'claude',
    'claude stream-json (result last)',
    output(
      (i) => JSON.stringify({ type: 'assistant', message: { id: `msg_${i}`, content: [{ type: 'text', text: 'Reading the dossier. '.repeat(5) }] } }),
      `${JSON.stringify({ type: 'result', subtype: 'success', total_cost_usd: 0.41, usage: { input_tokens: 10, cache_read_input_tokens: 5210, output_tokens: 249 } })}\n`,
    ),
  ],
  [
    'aider',
    'aider (usage line every 40 lines)',
    output((i) => (i % 40 === 39 ? 'Tokens: 4.8k sent, 197 received. Cost: $0.02 message, $0.05 session.' : `Applied edit to src/file${i}.js`), ''),
  ],
  ['plain', 'plain output, no usage', output((i) => `edited src/file${i}.js and ran the tests: ${'.'.repeat(60)}`, '')],
];

export async function main(cycles = 10, clusters = 8): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gl-spend-bench-'));
  console.log(
    `readFixerUsage on 4 MB of output (median of 15 runs; load: ${(await import('node:os'))
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')})`,
  );
  for (const [key, name, text] of samples()) {
    const stdoutFile = join(dir, 'stdout.log');
    writeFileSync(stdoutFile, text);
    writeFileSync(join(dir, 'stderr.log'), '');
    let found = '';
    const ms = await time(15, async () => {
      const r = await readFixerUsage({ stdoutFile, stderrFile: join(dir, 'stderr.log') });
      found = r.source ?? 'none';
    });
    console.log(`  ${name.padEnd(52)} ${ms.toFixed(1).padStart(7)} ms  (found: ${found})`);
    figure(`spend.usage.${key}`, ms, 'ms');
  }

  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const store = new LoopStore(redis, `glspend-${Date.now().toString(36)}`);
  try {
    const loopId = 'spend-bench-loop';
    const now = new Date().toISOString();
    await store.createLoop({ id: loopId, environment: 'bench', state: 'running', createdAt: now, startedBy: { kind: 'cli', name: 'bench' }, cycle: cycles });
    for (let n = 1; n <= cycles; n++) {
      const planned = Array.from({ length: clusters }, (_, i) => `c${n}x${i}aaaa`);
      const results: FixResult[] = planned.map((fingerprint) => ({
        fingerprint,
        outcome: 'rejected',
        attempts: 2,
        spend: { usd: 0.37, inputTokens: 120_000, outputTokens: 3_000 },
      }));
      // The last cycle's fix step is still running: outcomes only, as a fix job about to start sees them.
      if (n < cycles) {
        await store.saveStage(loopId, n, {
          stage: 'fix',
          status: 'succeeded',
          startedAt: now,
          finishedAt: now,
          attempts: 1,
          result: { planned, skipped: [], results },
        });
      } else {
        await store.saveStage(loopId, n, { stage: 'fix', status: 'running', startedAt: now, attempts: 1, result: { planned, skipped: [], results: [] } });
        for (const r of results) await store.putFixOutcome(loopId, n, r);
      }
    }
    let usd = 0;
    const ms = await time(50, async () => {
      usd = (await spendLedger(store, loopId, cycles)).loop?.usd ?? 0;
    });
    console.log(`spendLedger: ${cycles} cycles × ${clusters} clusters, last cycle in progress: median ${ms.toFixed(2)} ms (loop spend $${usd.toFixed(2)})`);
    figure(`spend.ledger.${cycles}x${clusters}`, ms, 'ms');
  } finally {
    await store.clearAll();
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) await main(Number(process.argv[2] ?? 10), Number(process.argv[3] ?? 8));
