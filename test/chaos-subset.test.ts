// End-to-end (long, bounded): the CI subset of the chaos suite (chaos/; `npm run chaos` prints the full
// table). Worker processes against a redis-server of the suite's own, the demo service as workload:
// - one loop, two crashes: kill -9 while the deploy starts its service (the crashed attempt's service,
//   not yet healthy, must be ended by record), then kill -9 while a fixer that `setsid`-daemonizes runs
//   (the fixer's group and its daemon must be ended; no fixer runs twice at once);
// - Redis down 6 s while a 15 s suite runs under a 3 s lock: the lock is lost, and the run must be kept
//   (not killed, not run twice) and the verdict stay green;
// - kill -9 twice in one deploy: BullMQ fails the job that stalled twice, and the loop stops with that
//   reason (onFinalFailure, and the controller reading the failed child) instead of waiting forever.
import { afterAll, describe, expect, it } from 'vitest';
import { abortChaos, runChaos } from '../chaos/suite.ts';

describe('e2e: chaos subset', () => {
  afterAll(() => abortChaos());

  it('keeps verdicts and leaves no duplicate deploy, orphan, lost record or stuck claim', { timeout: 420_000 }, async () => {
    const lines: string[] = [];
    const out = await runChaos({
      killsPerPoint: 0,
      killFixWithDaemon: 0,
      killDeployThenDaemonFix: 1,
      killDeployTwice: 1,
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
      log: (l) => {
        lines.push(l);
        console.error(l);
      },
    });
    expect(out.results.length, lines.join('\n')).toBe(3);
    for (const row of out.rows) {
      expect({ fault: row.fault, green: row.green, notes: row.notes }, lines.join('\n')).toEqual({ fault: row.fault, green: row.trials, notes: [] });
      expect([row.duplicateDeploys, row.orphans, row.lostRecords, row.stuckClaims], row.fault).toEqual([0, 0, 0, 0]);
    }
  });
});
