import type { LoopRecord, TestTotals } from '@greenloop/core';
import { passRate } from './history.ts';

/** One finished loop as a point of an environment's trend. */
export interface TrendPoint {
  loopId: string;
  startedAt: string;
  trigger: LoopRecord['startedBy']['kind'];
  state: LoopRecord['state'];
  cycles: number;
  /** Cycles the loop took to go green; null when it did not. */
  cyclesToGreen: number | null;
  /** Pass rate of the loop's latest analyzed cycle (0–1), null when no test ran. */
  passRate: number | null;
  /** Pass rate of its first cycle: how the environment stood when the loop started (for nightly loops, each night's state). */
  firstPassRate: number | null;
  spendUsd?: number;
}

export interface EnvironmentTrend {
  environment: string;
  points: TrendPoint[];
  /** Share of the loops shown that went green. */
  greenRate: number | null;
  medianCyclesToGreen: number | null;
}

const TERMINAL = new Set(['green', 'stopped', 'failed', 'cancelled']);

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = xs.slice().sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * Per environment, its finished loops (oldest first) as trend points, with the green rate and median
 * cycles to green. `firstTotals` holds each loop's first-cycle test totals, where it has them.
 */
export function trends(loops: readonly LoopRecord[], firstTotals: ReadonlyMap<string, TestTotals>): EnvironmentTrend[] {
  const byEnv = new Map<string, TrendPoint[]>();
  for (const loop of loops) {
    if (!TERMINAL.has(loop.state)) continue;
    const point: TrendPoint = {
      loopId: loop.id,
      startedAt: loop.startedAt ?? loop.createdAt,
      trigger: loop.startedBy.kind,
      state: loop.state,
      cycles: loop.cycle,
      cyclesToGreen: loop.state === 'green' ? loop.cycle : null,
      passRate: passRate(loop.latest),
      firstPassRate: passRate(firstTotals.get(loop.id)),
      ...(loop.spend?.usd !== undefined ? { spendUsd: loop.spend.usd } : {}),
    };
    byEnv.set(loop.environment, [...(byEnv.get(loop.environment) ?? []), point]);
  }
  return [...byEnv]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([environment, points]) => {
      points.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
      const green = points.filter((p) => p.cyclesToGreen !== null).map((p) => p.cyclesToGreen as number);
      return { environment, points, greenRate: points.length ? green.length / points.length : null, medianCyclesToGreen: median(green) };
    });
}
