// End-to-end (long, bounded): the CI subset of the chaos suite (chaos/, `npm run chaos` for the full
// table). Worker processes against a redis-server of the suite's own, the demo service as workload:
// - kill -9 while a deploy starts its service (the crashed attempt's service must not leak);
// - kill -9 while a daemonizing fixer runs (the fixer's group and its setsid daemon must be ended);
// - Redis down 6 s while a 15 s suite runs under a 3 s lock (the lock is lost; the run must be kept,
//   not killed and not run twice, and the verdict must stay green).
import { describe, expect, it } from 'vitest';
import { runChaos } from '../chaos/suite.ts';

describe('e2e: chaos subset', () => {
  it('keeps verdicts and leaves no duplicate deploy, orphan, lost record or stuck claim', { timeout: 420_000 }, async () => {
    const lines: string[] = [];
    const out = await runChaos({
      killsPerPoint: 0,
      onlyKills: ['deploy'],
      killFixWithDaemon: 1,
      shortOutagesPerStage: 0,
      longOutages: 0,
      longDownMs: 0,
      longTestS: 0,
      lockLossOutages: 1,
      triggerRounds: 0,
      cancelsPerStage: 0,
      daemonFixers: 0,
      budgetMs: 400_000,
      seed: 11,
      log: (l) => lines.push(l),
    });
    const summary = out.rows.map((r) => ({ ...r, notes: r.notes.join(' | ') }));
    expect(out.results.length, lines.join('\n')).toBe(3);
    for (const row of summary) {
      expect({ fault: row.fault, green: row.green, notes: row.notes }).toEqual({ fault: row.fault, green: row.trials, notes: '' });
      expect([row.duplicateDeploys, row.orphans, row.lostRecords, row.stuckClaims], row.fault).toEqual([0, 0, 0, 0]);
    }
  });
});
