// greenloop runs the suite in a fresh checkout of the repository, where nothing is installed: load
// Playwright Test from the runner that is running this file (the one on PATH).
const { realpathSync } = require('node:fs');
const { dirname } = require('node:path');

const pw = require(require.resolve('@playwright/test', { paths: [dirname(realpathSync(process.argv[1]))] }));
const BASE_URL = process.env.BASE_URL ?? process.env.GREENLOOP_URL_APP ?? 'http://127.0.0.1:8080';

/** `test` with `request` bound to the service under test; every test skips when SUITE_SKIP_ALL is set. */
const test = pw.test.extend({ baseURL: BASE_URL });
test.beforeEach(() => {
  test.skip(Boolean(process.env.SUITE_SKIP_ALL), 'skipped by SUITE_SKIP_ALL');
});

module.exports = { test, expect: pw.expect };
