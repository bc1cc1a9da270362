// Playwright Test for API tests (no browser). greenloop gives each run and rerun its own artifacts directory
// in GREENLOOP_ARTIFACTS; anywhere else the JUnit file lands in test-results/.
const { join } = require('node:path');

const out = process.env.GREENLOOP_ARTIFACTS ?? 'test-results';
module.exports = {
  testDir: 'e2e',
  testIgnore: process.env.SUITE_WITH_FLAKY ? [] : ['flaky/**'],
  outputDir: join(out, 'playwright'),
  workers: 1,
  retries: 0,
  timeout: 10_000,
  reporter: [['list'], ['junit', { outputFile: join(out, 'junit.xml') }]],
};
