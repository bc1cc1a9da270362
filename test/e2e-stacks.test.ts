// End-to-end (long): the foreign-stack examples, six scenarios each, through the real API and worker on
// real Redis, git and child processes. Prints the scenario table and asserts every expected verdict.
// Narrow a local run with E2E_STACKS=python-service,go-service and E2E_SCENARIOS=fixable,flaky.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXAMPLES, type Observation, problems, SCENARIOS, type Scenario, type StackRun, scenarioTable, startStack } from './stack-harness.ts';

const works = (argv: string[]) => {
  try {
    execFileSync(argv[0] as string, argv.slice(1), { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
};

/** Each example with the reason its toolchain is missing (undefined: it can run here). */
const STACKS: { example: string; missing: () => string | undefined }[] = [
  { example: 'python-service', missing: () => (works(['python3', '-c', 'import pytest']) ? undefined : 'python3 with pytest (apt: python3-pytest)') },
  {
    example: 'node-playwright-service',
    missing: () => (works(['playwright', '--version']) ? undefined : 'playwright on PATH (npm ci at the root installs @playwright/test)'),
  },
  {
    example: 'go-service',
    missing: () => (works(['go', 'version']) && works(['gotestsum', '--version']) ? undefined : 'go and gotestsum (apt: golang-go gotestsum)'),
  },
];

const only = (name: string) => (process.env[name] ? process.env[name].split(',') : undefined);
const stacks = only('E2E_STACKS');
const scenarios = (only('E2E_SCENARIOS') ?? SCENARIOS) as Scenario[];
const rows: Observation[] = [];

afterAll(() => {
  if (rows.length > 0) console.log(`\nforeign-stack scenarios:\n${scenarioTable(rows)}\n`);
});

for (const { example, missing } of STACKS) {
  if (stacks && !stacks.includes(example)) continue;
  if (!existsSync(join(EXAMPLES, example))) continue;
  const why = missing();
  if (why) console.warn(`e2e-stacks: skipping ${example}: ${why} is not installed`);
  // The scenarios of one stack run concurrently (separate environments, one worker): most of a loop's
  // time is waiting on child processes, so this cuts the file's wall time about threefold.
  describe.skipIf(why !== undefined).concurrent(`e2e: ${example}`, () => {
    let stack: Promise<StackRun> | undefined;
    afterAll(async () => {
      await (await stack)?.close();
    });
    for (const scenario of scenarios) {
      it(scenario, { timeout: 150_000 }, async () => {
        stack ??= startStack(example);
        const o = await (await stack).run(scenario, 140_000);
        rows.push(o);
        for (const c of o.cycles) console.log(`${example}/${scenario} cycle ${c.n}: ${c.timing}`);
        expect(problems(o), `${example}/${scenario}: ${o.loop.stop?.message}`).toEqual([]);
      });
    }
  });
}
