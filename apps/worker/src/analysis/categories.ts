import type { CategoryConfig, TestStatus } from '@greenloop/core';
import type { PreviousCycle } from './types.ts';

/**
 * Test categories: `config.categories` regexes over the test id ("suite › classname › name"), first match in
 * config order; a test no category matches falls into a category named after its top-level suite (the id's
 * first part), so every test is counted somewhere.
 */

/** Maps test ids to categories. */
export interface Categorizer {
  categorize(testId: string): string;
  priorityOf(category: string): number | undefined;
  /** Category regexes that did not compile (reported, skipped). */
  warnings: string[];
}

/** Compiles the configured categories once. */
export function makeCategorizer(categories: readonly CategoryConfig[]): Categorizer {
  const warnings: string[] = [];
  const compiled: { name: string; res: RegExp[] }[] = [];
  const priorities = new Map<string, number>();
  for (const c of categories) {
    const res: RegExp[] = [];
    for (const pattern of c.match) {
      try {
        res.push(new RegExp(pattern));
      } catch (err) {
        warnings.push(`category ${c.name}: invalid regular expression ${JSON.stringify(pattern)} (${(err as Error).message}); ignored`);
      }
    }
    compiled.push({ name: c.name, res });
    priorities.set(c.name, c.priority);
  }
  return {
    categorize(testId: string): string {
      for (const c of compiled) if (c.res.some((re) => re.test(testId))) return c.name;
      return testId.split(' › ')[0] ?? testId;
    },
    priorityOf: (category) => priorities.get(category),
    warnings,
  };
}

/** Results of one category in one cycle, with its pass rate over earlier cycles. */
export interface CategoryStats {
  name: string;
  priority: number | null;
  total: number;
  passed: number;
  failed: number;
  skipped: number;
  flaky: number;
  /** passed / (total − skipped); null when nothing ran. */
  passRate: number | null;
  /** Oldest first, this cycle last; null where the cycle did not record per-test statuses or ran none. */
  trend: { cycle: number; passRate: number | null }[];
  passedTests: string[];
  failedTests: string[];
}

function rate(passed: number, ran: number): number | null {
  return ran === 0 ? null : passed / ran;
}

/** Per-category counts for this cycle and pass-rate trends computed from earlier cycles' statuses. */
export function categoryStats(
  tests: readonly { id: string; status: TestStatus; flaky?: boolean }[],
  categorizer: Categorizer,
  previous: readonly PreviousCycle[],
  cycle: number,
): CategoryStats[] {
  const byName = new Map<string, CategoryStats>();
  const get = (name: string): CategoryStats => {
    let s = byName.get(name);
    if (!s) {
      s = {
        name,
        priority: categorizer.priorityOf(name) ?? null,
        total: 0,
        passed: 0,
        failed: 0,
        skipped: 0,
        flaky: 0,
        passRate: null,
        trend: [],
        passedTests: [],
        failedTests: [],
      };
      byName.set(name, s);
    }
    return s;
  };
  for (const t of tests) {
    const s = get(categorizer.categorize(t.id));
    s.total++;
    if (t.status === 'passed') {
      s.passed++;
      s.passedTests.push(t.id);
      if (t.flaky) s.flaky++;
    } else if (t.status === 'skipped') s.skipped++;
    else {
      s.failed++;
      s.failedTests.push(t.id);
    }
  }
  const history = previous.map((p) => {
    if (!p.testStatuses) return { cycle: p.n, counts: undefined };
    const counts = new Map<string, { passed: number; ran: number }>();
    for (const [id, status] of Object.entries(p.testStatuses)) {
      if (status === 'skipped') continue;
      const name = categorizer.categorize(id);
      const c = counts.get(name) ?? { passed: 0, ran: 0 };
      c.ran++;
      if (status === 'passed') c.passed++;
      counts.set(name, c);
    }
    return { cycle: p.n, counts };
  });
  for (const s of byName.values()) {
    s.passRate = rate(s.passed, s.total - s.skipped);
    for (const h of history) {
      const c = h.counts?.get(s.name);
      s.trend.push({ cycle: h.cycle, passRate: c ? rate(c.passed, c.ran) : null });
    }
    s.trend.push({ cycle, passRate: s.passRate });
  }
  return [...byName.values()].sort((a, b) => (a.priority ?? 99) - (b.priority ?? 99) || a.name.localeCompare(b.name));
}
