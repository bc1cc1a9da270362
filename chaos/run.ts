#!/usr/bin/env node
// npm run chaos [-- --kills N --kill-daemon N --kill-twice N --kill-shard N --kill-prove N --short N --long N --long-stages N --lock-loss N --triggers N --cancels N --daemons N --budget-min M --seed S --json FILE]
// Faults injected into greenloop as it runs (worker processes, its own redis-server, the demo as workload);
// prints the table: fault | trials | green | duplicate deploys | orphan processes | lost records | stuck claims.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FULL, renderTable, runChaos } from './suite.ts';

const { values } = parseArgs({
  options: {
    kills: { type: 'string' },
    'kill-daemon': { type: 'string' },
    'kill-twice': { type: 'string' },
    'kill-shard': { type: 'string' },
    'kill-prove': { type: 'string' },
    short: { type: 'string' },
    long: { type: 'string' },
    'long-stages': { type: 'string' },
    'lock-loss': { type: 'string' },
    'long-down-s': { type: 'string' },
    'long-test-s': { type: 'string' },
    triggers: { type: 'string' },
    cancels: { type: 'string' },
    daemons: { type: 'string' },
    'budget-min': { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'string' },
    quiet: { type: 'boolean' },
  },
});
const num = (v: string | undefined, fallback: number) => (v === undefined ? fallback : Number(v));

const started = Date.now();
const out = await runChaos({
  killsPerPoint: num(values.kills, FULL.killsPerPoint),
  killFixWithDaemon: num(values['kill-daemon'], FULL.killFixWithDaemon),
  killDeployTwice: num(values['kill-twice'], FULL.killDeployTwice ?? 0),
  killShard: num(values['kill-shard'], FULL.killShard ?? 0),
  killProve: num(values['kill-prove'], FULL.killProve ?? 0),
  shortOutagesPerStage: num(values.short, FULL.shortOutagesPerStage),
  longOutages: num(values.long, FULL.longOutages),
  longDownMs: num(values['long-down-s'], FULL.longDownMs / 1000) * 1000,
  longOutagesPerStage: num(values['long-stages'], FULL.longOutagesPerStage ?? 0),
  longTestS: num(values['long-test-s'], FULL.longTestS),
  lockLossOutages: num(values['lock-loss'], FULL.lockLossOutages),
  triggerRounds: num(values.triggers, FULL.triggerRounds),
  cancelsPerStage: num(values.cancels, FULL.cancelsPerStage),
  daemonFixers: num(values.daemons, FULL.daemonFixers),
  budgetMs: num(values['budget-min'], FULL.budgetMs / 60_000) * 60_000,
  seed: num(values.seed, FULL.seed),
  log: values.quiet ? () => {} : (line) => console.error(`${new Date().toISOString().slice(11, 19)} ${line}`),
});
console.log(renderTable(out.rows));
console.log(`\n${out.results.length} trials in ${Math.round((Date.now() - started) / 60_000)} min${out.notRun ? `; ${out.notRun} not run (time budget)` : ''}`);
for (const r of out.rows) for (const n of r.notes) console.log(`- ${n}`);
if (values.json) writeFileSync(values.json, `${JSON.stringify(out, null, 2)}\n`);
const bad = out.rows.some((r) => r.green < r.trials || r.duplicateDeploys || r.orphans || r.lostRecords || r.stuckClaims);
process.exitCode = bad ? 1 : 0;
