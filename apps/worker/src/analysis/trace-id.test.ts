import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { traceIdFor } from './correlate.ts';

const CLIENT = fileURLToPath(new URL('../../../../examples/demo-service/e2e/client.js', import.meta.url));

describe('the documented trace id', () => {
  it('is the one the demo suite sends: sha256("<runId>:<test full name>") in both', () => {
    // The demo's client, run as the suite runs it (its run id from GREENLOOP_RUN_ID).
    const fromSuite = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `import { traceIdFor } from ${JSON.stringify(CLIENT)}; process.stdout.write(traceIdFor('agents > starts an agent'));`],
      { env: { ...process.env, GREENLOOP_RUN_ID: 'run-7' }, encoding: 'utf8' },
    );
    expect(fromSuite).toMatch(/^[0-9a-f]{32}$/);
    expect(traceIdFor('run-7', 'agents > starts an agent')).toBe(fromSuite);
  });
});
