import type { CycleRecord, LoopRecord, LoopStore } from '@greenloop/core';

/** One loop with its cycles (stage records and results parsed), as the insights read it. */
export interface LoopHistory {
  loop: LoopRecord;
  cycles: CycleRecord[];
}

/** Loops read at once while walking history: enough to hide Redis round trips, few enough not to flood it. */
const PARALLEL_LOOPS = 8;

/**
 * The newest `loops` loops (of one environment when given), oldest first, each with its cycles in
 * order. Read through the store, so every stage result is parsed against core's stage table; a loop
 * whose records cannot be read is skipped with its id in `unreadable` rather than failing the view.
 */
export async function readHistory(store: LoopStore, opts: { environment?: string; loops: number }): Promise<{ loops: LoopHistory[]; unreadable: string[] }> {
  const page = await store.listLoops({ limit: opts.loops, ...(opts.environment ? { environment: opts.environment } : {}) });
  const records = page.loops.slice().reverse();
  const out: (LoopHistory | undefined)[] = new Array(records.length);
  const unreadable: string[] = [];
  for (let i = 0; i < records.length; i += PARALLEL_LOOPS) {
    await Promise.all(
      records.slice(i, i + PARALLEL_LOOPS).map(async (loop, j) => {
        try {
          const cycles: CycleRecord[] = [];
          for (let n = 1; n <= loop.cycle; n++) {
            const cycle = await store.getCycle(loop.id, n);
            if (cycle) cycles.push(cycle);
          }
          out[i + j] = { loop, cycles };
        } catch {
          unreadable.push(loop.id);
        }
      }),
    );
  }
  return { loops: out.filter((h): h is LoopHistory => h !== undefined), unreadable };
}

/** Pass rate of a run as the report computes it: passed ÷ (total − skipped), or null when nothing ran. */
export function passRate(totals: { total: number; passed: number; skipped: number } | undefined): number | null {
  if (!totals) return null;
  const ran = totals.total - totals.skipped;
  return ran > 0 ? totals.passed / ran : null;
}
