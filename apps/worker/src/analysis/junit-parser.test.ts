import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { deriveErrorType, deriveMessage, JUnitError, makeTestId, parseJUnitFile, parseJUnitFiles, parseJUnitString, parseSeconds } from './junit-parser.ts';
import type { ParsedTestCase } from './types.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/junit/', import.meta.url));
const fixture = (name: string) => join(FIXTURES, name);
const tmp = mkdtempSync(join(tmpdir(), 'greenloop-junit-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function byName(tests: ParsedTestCase[], name: string): ParsedTestCase {
  const t = tests.find((x) => x.name === name);
  if (!t) throw new Error(`no test named ${name}; have ${tests.map((x) => x.name).join(', ')}`);
  return t;
}

describe('node --test --test-reporter=junit (Node 24, real output)', async () => {
  const { tests, summary } = await parseJUnitFile(fixture('node-test.xml'));

  it('reads nested suites and top-level testcases', () => {
    expect(summary.tests).toBe(7);
    expect(tests.map((t) => t.id)).toEqual([
      'agents api › lists agents',
      'agents api › starts an agent',
      'agents api › nested lifecycle › stops an agent',
      'agents api › nested lifecycle › cancels an agent',
      'agents api › nested lifecycle › pauses an agent',
      'test › top level ok <&> &quot;quoted&quot;',
      'test › top level connection refused',
    ]);
    expect(byName(tests, 'stops an agent').suitePath).toEqual(['agents api', 'nested lifecycle']);
  });

  it('takes the real error type from the wrapped cause, not "testCodeFailure"', () => {
    const t = byName(tests, 'starts an agent');
    expect(t.status).toBe('failed');
    expect(t.type).toBe('AssertionError');
    expect(t.message).toBe('POST /api/agents/start → 404\n\n404 !== 200');
    expect(t.details).toContain('agents.test.mjs:7:12');
    expect(t.durationMs).toBeCloseTo(0.803, 3);
    expect(t.file).toBe('/tmp/gl-samples/node/agents.test.mjs');
  });

  it('counts skip and todo as skipped', () => {
    expect(byName(tests, 'cancels an agent').status).toBe('skipped');
    expect(byName(tests, 'pauses an agent').status).toBe('skipped');
  });
});

describe('vitest --reporter=junit (real output)', async () => {
  const { tests } = await parseJUnitFile(fixture('vitest.xml'));

  it('reads statuses, messages, types and system-out', () => {
    expect(tests).toHaveLength(5);
    const reply = byName(tests, 'chat > streams a reply');
    expect(reply.id).toBe('tests/chat.test.ts › chat > streams a reply');
    expect(reply.type).toBe('AssertionError');
    expect(reply.message).toBe('POST /api/chat/stream: expected 403 to be 200 // Object.is equality');
    expect(reply.systemOut).toBe('GET /api/chat/stream?token=abc.def.ghi');
    expect(byName(tests, 'chat > threads > archives a thread').status).toBe('skipped');
    expect(byName(tests, 'websocket echo').type).toBe('Error');
  });
});

describe('pytest --junitxml (real output, xunit2 with junit_logging=all, and xunit1)', async () => {
  const { tests } = await parseJUnitFile(fixture('pytest.xml'));
  const xunit1 = await parseJUnitFile(fixture('pytest-xunit1.xml'));

  it('reads failures, errors (fixture setup), skips and xfail', () => {
    expect(tests).toHaveLength(6);
    const start = byName(tests, 'test_004_agent_start_real');
    expect(start.id).toBe('pytest › tests.test_staging.TestAgents › test_004_agent_start_real');
    expect(start.type).toBe('AssertionError');
    expect(start.message?.split('\n')[0]).toBe('AssertionError: POST /api/agents/start returned 404');
    const db = byName(tests, 'test_020_db_real');
    expect(db.status).toBe('error');
    expect(db.type).toBe('RuntimeError');
    expect(byName(tests, 'test_019_billing_real')).toMatchObject({ status: 'skipped', message: 'requires prod credentials' });
    expect(byName(tests, 'test_021_xfail')).toMatchObject({ status: 'skipped', message: 'known bug' });
    expect(byName(tests, 'test_001_websocket_connection_real').systemOut).toContain('Captured Out');
  });

  it('reads the xunit1 file and line attributes', () => {
    expect(xunit1.tests).toHaveLength(3);
    expect(xunit1.tests[0]?.file).toBe('tests/test_staging.py');
  });
});

describe('Maven Surefire (flakyFailure, rerunFailure)', async () => {
  const { tests } = await parseJUnitFile(fixture('surefire.xml'));

  it('a test that passed after a flakyFailure is passed and flaky, with its first failure kept', () => {
    const t = byName(tests, 'streamsStatus');
    expect(t.status).toBe('passed');
    expect(t.flaky).toBe(true);
    expect(t.type).toBe('java.net.SocketTimeoutException');
    expect(t.details).toContain('ApiClient.get(ApiClient.java:77)');
    expect(t.attempts).toEqual([expect.objectContaining({ kind: 'flakyFailure', message: 'Read timed out' })]);
  });

  it('a failure with rerunFailure stays failed and records the reruns', () => {
    const t = byName(tests, 'startsAgent');
    expect(t.status).toBe('failed');
    expect(t.flaky).toBeUndefined();
    expect(t.type).toBe('org.opentest4j.AssertionFailedError');
    expect(t.attempts?.map((a) => a.kind)).toEqual(['rerunFailure']);
    expect(t.systemOut).toBe('POST http://10.0.0.7:8080/api/agents/start -> 404');
  });

  it('reads errors, skips and the classname-equals-suite id', () => {
    expect(byName(tests, 'cancelsAgent')).toMatchObject({
      status: 'error',
      type: 'java.lang.NullPointerException',
      id: 'com.acme.api.AgentsIT › cancelsAgent',
    });
    expect(byName(tests, 'pausesAgent').status).toBe('skipped');
  });
});

describe('go-junit-report', async () => {
  const { tests, summary } = await parseJUnitFile(fixture('go-junit-report.xml'));

  it('replaces the generic "Failed" message with the first body line, without the file prefix', () => {
    expect(byName(tests, 'TestAgentLifecycle/start').message).toBe('POST /api/agents/start → 404');
    expect(byName(tests, 'TestAgentLifecycle/cancel')).toMatchObject({ status: 'skipped', message: 'cancel not supported on staging' });
  });

  it('keeps build errors as errors with the compiler line, and counts every suite', () => {
    expect(byName(tests, '[build failed]')).toMatchObject({ status: 'error', message: './handler_test.go:17:2: undefined: newServer' });
    expect(summary.suites).toBe(3);
    expect(summary.suiteTimeMs).toBeCloseTo(415, 3);
  });
});

describe('jest-junit', async () => {
  const { tests } = await parseJUnitFile(fixture('jest-junit.xml'));

  it('takes message and type from a body-only failure', () => {
    const t = byName(tests, 'chat api streams a reply');
    expect(t.id).toBe('chat api › chat api streams a reply');
    expect(t.message).toBe('Error: expect(received).toBe(expected) // Object.is equality');
    expect(t.type).toBe('Error');
    expect(t.details).toContain('Received: 403');
  });
});

describe('robustness', () => {
  it('tolerates missing attributes', async () => {
    const { tests } = await parseJUnitString('<testsuite><testcase/><testcase name="b"><failure/></testcase></testsuite>', 'mem.xml');
    expect(tests).toEqual([
      expect.objectContaining({ id: '(unnamed)', name: '(unnamed)', classname: '', suite: '', status: 'passed', durationMs: 0 }),
      expect.objectContaining({ id: 'b', status: 'failed' }),
    ]);
    expect(tests[1]?.message).toBeUndefined();
  });

  it('merges several files and keeps duplicate ids apart', async () => {
    const a = join(tmp, 'shard-1.xml');
    const b = join(tmp, 'shard-2.xml');
    writeFileSync(a, '<testsuites><testsuite name="s"><testcase classname="c" name="t" time="1"/></testsuite></testsuites>');
    writeFileSync(b, '<testsuites><testsuite name="s"><testcase classname="c" name="t" time="2"><failure message="boom"/></testcase></testsuite></testsuites>');
    const r = await parseJUnitFiles([a, b]);
    expect(r.tests.map((t) => [t.id, t.status])).toEqual([
      ['s › c › t', 'passed'],
      ['s › c › t [2]', 'failed'],
    ]);
    expect(r.files.map((f) => f.tests)).toEqual([1, 1]);
  });

  it('caps a huge system-out, keeping its start and end, without holding it', async () => {
    const file = join(tmp, 'huge.xml');
    const line = 'x'.repeat(99);
    const big = `BEGIN\n${`${line}\n`.repeat(60_000)}END`;
    writeFileSync(file, `<testsuite name="s"><testcase name="t"><system-out>${big}</system-out></testcase></testsuite>`);
    const { tests } = await parseJUnitFile(file, { maxOutputChars: 2000 });
    const out = tests[0]?.systemOut ?? '';
    expect(out.length).toBeLessThan(2100);
    expect(out.startsWith('BEGIN')).toBe(true);
    expect(out.endsWith('END')).toBe(true);
    expect(out).toMatch(/\[\d+ characters omitted\]/);
  });

  it('removes ANSI colours and control characters instead of failing, and says so', async () => {
    const { tests, summary } = await parseJUnitString(
      '<testsuite><testcase name="t"><failure message="x">\u001b[31mred\u001b[0m\u0000</failure></testcase></testsuite>',
      'ansi.xml',
    );
    expect(tests[0]?.details).toBe('red');
    expect(summary.warnings[0]).toMatch(/control characters/);
  });

  it('reads a BOM, CDATA and HTML entities', async () => {
    const { tests } = await parseJUnitString(
      '\ufeff<?xml version="1.0"?><testsuite><testcase name="a&nbsp;b"><failure><![CDATA[<raw> & body]]></failure></testcase></testsuite>',
      'bom.xml',
    );
    expect(tests[0]?.name).toBe('a\u00a0b');
    expect(tests[0]?.details).toBe('<raw> & body');
  });

  it('parses seconds in the forms runners write', () => {
    expect(parseSeconds('1,234.5')).toBe(1_234_500);
    expect(parseSeconds('0,5')).toBe(500);
    expect(parseSeconds('')).toBe(0);
    expect(parseSeconds('nope')).toBe(0);
    expect(parseSeconds('0.000803')).toBeCloseTo(0.803, 6);
  });

  it('builds ids without repeating the suite in the classname', () => {
    expect(makeTestId(['a', 'b'], 'a.b', 'x')).toBe('a › b › x');
    expect(makeTestId(['pytest'], 'tests.test_x.TestA', 'test_1')).toBe('pytest › tests.test_x.TestA › test_1');
    expect(makeTestId([], 'test', 'top')).toBe('test › top');
  });

  it('derives types and messages from bodies', () => {
    expect(deriveErrorType(undefined, undefined, 'E       ValueError: bad')).toBe('ValueError');
    expect(deriveErrorType('testCodeFailure', 'x', 'cause: TypeError [ERR_X]: y')).toBe('TypeError');
    expect(deriveErrorType('Error', 'x', undefined)).toBe('Error');
    expect(deriveMessage('Failed', '    x_test.go:3: boom')).toBe('boom');
  });
});

describe('invalid and missing files', () => {
  it('names the file, line and column of invalid XML', async () => {
    const file = join(tmp, 'broken.xml');
    writeFileSync(file, '<testsuites>\n  <testsuite name="s">\n    <testcase name="t" time=1/>\n  </testsuite>\n</testsuites>\n');
    const err = await parseJUnitFile(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JUnitError);
    expect(err).toMatchObject({ code: 'JUNIT_INVALID', file, line: 3 });
    expect((err as Error).message).toMatch(new RegExp(`^${file.replaceAll('.', '\\.')}:3:\\d+: invalid JUnit XML: `));
  });

  it('reports a truncated file (killed while writing) at its end', async () => {
    const file = join(tmp, 'truncated.xml');
    writeFileSync(file, '<testsuites>\n<testsuite name="s">\n<testcase name="t">\n<failure message="x">half');
    await expect(parseJUnitFile(file)).rejects.toMatchObject({ code: 'JUNIT_INVALID', line: 4 });
  });

  it('rejects an empty file and a non-JUnit document', async () => {
    const empty = join(tmp, 'empty.xml');
    writeFileSync(empty, '');
    await expect(parseJUnitFile(empty)).rejects.toMatchObject({ code: 'JUNIT_INVALID', message: expect.stringMatching(/root element/) });
    const html = join(tmp, 'page.xml');
    writeFileSync(html, '<html><body>502 Bad Gateway</body></html>');
    await expect(parseJUnitFile(html)).rejects.toMatchObject({ code: 'JUNIT_INVALID', message: expect.stringMatching(/root element is <html>/) });
  });

  it('reports a file that is gone as JUNIT_MISSING', async () => {
    await expect(parseJUnitFile(join(tmp, 'nope.xml'))).rejects.toMatchObject({
      code: 'JUNIT_MISSING',
      message: expect.stringMatching(/nope\.xml cannot be read: ENOENT/),
    });
  });
});

describe('live runners installed here', () => {
  it("parses what this machine's node --test --test-reporter=junit writes right now", async () => {
    const dir = mkdtempSync(join(tmp, 'node-live-'));
    copyFileSync(join(FIXTURES, 'sources', 'node-agents.test.mjs.txt'), join(dir, 'agents.test.mjs'));
    const out = join(dir, 'junit.xml');
    spawnSync(process.execPath, ['--test', '--test-reporter=junit', `--test-reporter-destination=${out}`, 'agents.test.mjs'], { cwd: dir, stdio: 'ignore' });
    const { tests } = await parseJUnitFile(out);
    expect(tests.map((t) => [t.name, t.status])).toEqual([
      ['lists agents', 'passed'],
      ['starts an agent', 'failed'],
      ['stops an agent', 'failed'],
      ['cancels an agent', 'skipped'],
      ['pauses an agent', 'skipped'],
      ['top level ok <&> &quot;quoted&quot;', 'passed'],
      ['top level connection refused', 'failed'],
    ]);
    expect(byName(tests, 'starts an agent').type).toBe('AssertionError');
  });

  const hasPytest = spawnSync('python3', ['-c', 'import pytest'], { stdio: 'ignore' }).status === 0;
  it.skipIf(!hasPytest)('parses what pytest writes right now', async () => {
    const dir = mkdtempSync(join(tmp, 'pytest-live-'));
    copyFileSync(join(FIXTURES, 'sources', 'pytest-test_staging.py.txt'), join(dir, 'test_staging.py'));
    const out = join(dir, 'junit.xml');
    spawnSync('python3', ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', `--junitxml=${out}`, 'test_staging.py'], { cwd: dir, stdio: 'ignore' });
    const { tests } = await parseJUnitFile(out);
    expect(tests.map((t) => t.status).sort()).toEqual(['error', 'failed', 'failed', 'passed', 'skipped', 'skipped']);
    expect(byName(tests, 'test_001_websocket_connection_real').type).toBe('ConnectionError');
  });

  it('agrees with junit2json on counts for every fixture', async () => {
    const { parse } = await import('junit2json');
    for (const name of ['node-test.xml', 'vitest.xml', 'pytest.xml', 'surefire.xml', 'go-junit-report.xml', 'jest-junit.xml']) {
      const xml = execFileSync('cat', [fixture(name)], { encoding: 'utf8' });
      const theirs = await parse(xml);
      const count = (node: unknown): number => {
        if (!node || typeof node !== 'object') return 0;
        const o = node as { testcase?: unknown[]; testsuite?: unknown[] };
        return (o.testcase?.length ?? 0) + (o.testsuite ?? []).reduce((s: number, x) => s + count(x), 0);
      };
      const { tests } = await parseJUnitFile(fixture(name));
      expect(tests.length, name).toBe(count(theirs));
    }
  });
});
