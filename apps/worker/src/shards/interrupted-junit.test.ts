import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseJUnitFiles } from '../analysis/junit-parser.ts';
import { dropInterruptedTestcases } from './interrupted-junit.ts';

const dir = mkdtempSync(join(tmpdir(), 'gl-interrupted-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dropInterruptedTestcases', () => {
  it("drops pytest's nameless testcase for the interrupted test, keeping the file as written beside it", async () => {
    // What pytest 9 wrote when interrupted (SIGINT) in its second test.
    const written =
      '<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="0" failures="0" skipped="0" tests="1" time="2.126"><testcase classname="test_h" name="test_a" time="0.000" /><testcase time="0.000" /></testsuite></testsuites>';
    const file = join(dir, 'junit.xml');
    writeFileSync(file, written);
    expect((await parseJUnitFiles([file])).tests).toHaveLength(2);
    expect(await dropInterruptedTestcases(file)).toBe(1);
    const { tests } = await parseJUnitFiles([file]);
    expect(tests.map((t) => [t.name, t.status])).toEqual([['test_a', 'passed']]);
    expect(readFileSync(`${file}.as-written`, 'utf8')).toBe(written);
  });

  it('leaves a complete report alone', async () => {
    const file = join(dir, 'full.xml');
    writeFileSync(file, '<testsuite><testcase classname="c" name="n" time="1"/><testcase name="m" classname="c"/></testsuite>');
    expect(await dropInterruptedTestcases(file)).toBe(0);
  });
});
