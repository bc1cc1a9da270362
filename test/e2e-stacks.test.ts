// End-to-end (long): the foreign-stack examples, six scenarios each, through the real API and worker on
// real Redis, git and child processes. Prints the scenario table and asserts every expected verdict.
// Narrow a local run with E2E_STACKS=python-service,go-service and E2E_SCENARIOS=fixable,flaky.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  EXAMPLES,
  missingToolchain,
  type Observation,
  OWN_SCENARIOS,
  problems,
  SCENARIOS,
  type Scenario,
  type ScenarioRunner,
  scenarioTable,
  startScenarioRunner,
} from './stack-harness.ts';

/** Each example with the reason its toolchain is missing (undefined: it can run here). */
const STACKS = ['python-service', 'node-playwright-service', 'go-service'].map((example) => ({ example, missing: () => missingToolchain(example) }));

const only = (name: string) => (process.env[name] ? process.env[name].split(',') : undefined);
const stacks = only('E2E_STACKS');
const scenarioFilter = only('E2E_SCENARIOS');
/** The six scenarios, and those of OWN_SCENARIOS the example's greenloop.yaml has an environment for. */
const scenariosOf = (example: string): Scenario[] => {
  const yaml = readFileSync(join(EXAMPLES, example, 'greenloop.yaml'), 'utf8');
  const all: Scenario[] = [...SCENARIOS, ...OWN_SCENARIOS.filter((s) => yaml.includes(`\n  ${s}:`))];
  return scenarioFilter ? all.filter((s) => scenarioFilter.includes(s)) : all;
};
const rows: Observation[] = [];

/**
 * A missing toolchain skips an example locally; in CI it fails, because .ci/run installs every toolchain and
 * a skipped stack would let CI pass without proving it.
 */
function skipWithout(example: string, why: string | undefined): boolean {
  if (why === undefined) return false;
  if (process.env.CI) {
    it(`e2e: ${example} has its toolchain`, () => {
      throw new Error(`${why} is not installed (.ci/run installs it)`);
    });
  } else console.warn(`e2e-stacks: skipping ${example}: ${why} is not installed`);
  return true;
}

afterAll(() => {
  // Rows arrive as loops finish; the table reads better per stack, in scenario order.
  const order = (o: Observation) => [...SCENARIOS, ...OWN_SCENARIOS].indexOf(o.scenario);
  rows.sort((a, b) => a.stack.localeCompare(b.stack) || order(a) - order(b));
  if (rows.length > 0) console.log(`\nforeign-stack scenarios:\n${scenarioTable(rows)}\n`);
});

for (const { example, missing } of STACKS) {
  if (stacks && !stacks.includes(example)) continue;
  if (!existsSync(join(EXAMPLES, example))) continue;
  const skip = skipWithout(example, missing());
  // The scenarios of one stack run concurrently (separate environments, one worker): most of a loop's
  // time is waiting on child processes, so this cuts the file's wall time about threefold.
  describe.skipIf(skip).concurrent(`e2e: ${example}`, () => {
    let stack: Promise<ScenarioRunner> | undefined;
    afterAll(async () => {
      await (await stack)?.close();
    }, 60_000);
    for (const scenario of scenariosOf(example)) {
      it(scenario, { timeout: 480_000 }, async () => {
        stack ??= startScenarioRunner(example);
        const o = await (await stack).run(scenario, 240_000);
        rows.push(o);
        for (const c of o.cycles) console.log(`${example}/${scenario} cycle ${c.n}: ${c.timing}`);
        expect(problems(o), `${example}/${scenario}: ${o.loop.stop?.message}`).toEqual([]);
      });
    }
  });
}

// Two services: the suite calls the front only; the pricing bug throws in the back, the front answers 502.
const twoServiceWanted = stacks === undefined || stacks.includes('two-service');
const twoServiceSkipped = twoServiceWanted && skipWithout('two-service', missingToolchain('two-service'));
describe.skipIf(!twoServiceWanted || twoServiceSkipped)('e2e: two-service', () => {
  let stack: ScenarioRunner | undefined;
  afterAll(async () => {
    await stack?.close();
  }, 60_000);

  it("front → back goes green; the back's traceback reaches the front failure's cluster and dossier", { timeout: 200_000 }, async () => {
    stack = await startScenarioRunner('two-service');
    const o = await stack.run('fixable', 180_000);
    rows.push(o);
    for (const c of o.cycles) console.log(`two-service/fixable cycle ${c.n}: ${c.timing}`);
    expect(problems(o), `two-service: ${o.loop.stop?.message}`).toEqual([]);

    const first = o.cycles[0];
    const cluster = first?.report?.clusters.find((c) => c.tests.some((t) => t.name.includes('test_checkout_prices_the_order')));
    expect(cluster, 'a cluster for the 502 at the front').toBeDefined();
    const backLines = cluster?.evidence.filter((e) => e.service === 'back') ?? [];
    expect(backLines.map((e) => e.message).join('\n'), "the back's error in the cluster's evidence").toMatch(/TypeError|Traceback/);
    const dossier = readFileSync(join(dirname(first?.reportFile ?? ''), cluster?.dossier ?? ''), 'utf8');
    expect(dossier, "the back's stack trace in the dossier").toMatch(/back[\s\S]*(Traceback|TypeError)/);
    expect(dossier, 'the dossier points at the back service code').toMatch(/back\/app\.py/);
  });
});
