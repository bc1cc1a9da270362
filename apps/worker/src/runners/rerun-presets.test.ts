import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJUnitFiles } from '../analysis/junit-parser.ts';
import { pytestNodeId, rerunArgv, rerunSelection } from './rerun-presets.ts';

const FIXTURES = join(import.meta.dirname, '..', 'analysis', 'fixtures', 'junit');

async function failedIn(file: string) {
  const parsed = await parseJUnitFiles([join(FIXTURES, file)]);
  return parsed.tests.filter((t) => t.status === 'failed' || t.status === 'error');
}

describe('rerun presets from real JUnit files', () => {
  it('pytest: node ids path::Class::name from the dotted classname (not -k, which rejects a|b)', async () => {
    expect(rerunSelection('pytest', await failedIn('pytest.xml')).args).toEqual([
      'tests/test_staging.py::TestAgents::test_004_agent_start_real',
      'tests/test_staging.py::test_001_websocket_connection_real',
      'tests/test_staging.py::test_020_db_real',
    ]);
  });

  it('pytest: node ids from the file attribute (xunit1)', async () => {
    expect(rerunSelection('pytest', await failedIn('pytest-xunit1.xml')).args).toEqual(['tests/test_staging.py::TestAgents::test_004_agent_start_real']);
  });

  it('pytest: a module path found on disk wins over the naming heuristic', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gl-pytest-ids-'));
    try {
      mkdirSync(join(dir, 'tests', 'Api'), { recursive: true });
      writeFileSync(join(dir, 'tests', 'Api', 'Checks.py'), '');
      expect(pytestNodeId({ classname: 'tests.Api.Checks.TestX', name: 'test_y[a-1]' }, dir)).toBe('tests/Api/Checks.py::TestX::test_y[a-1]');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('jest: --testNamePattern with the full names, regex-escaped', async () => {
    expect(rerunSelection('jest', await failedIn('jest-junit.xml')).args).toEqual([
      '--testNamePattern',
      'chat api streams a reply|chat api lists messages|realtime websocket echo',
    ]);
    expect(rerunSelection('jest', [{ classname: 'a', name: 'handles (a+b)? [x]' }]).value).toBe('handles \\(a\\+b\\)\\? \\[x\\]');
  });

  it('vitest: the files from classname, then the own titles (without the "describe >" prefix)', async () => {
    expect(rerunSelection('vitest', await failedIn('vitest.xml')).args).toEqual([
      'tests/chat.test.ts',
      '--testNamePattern',
      'streams a reply|creates a thread|websocket echo',
    ]);
  });

  it('playwright: --grep with the own titles', () => {
    const sel = rerunSelection('playwright', [
      { classname: 'tests/chat.spec.ts', name: 'chat › sends a message' },
      { classname: 'tests/chat.spec.ts', name: 'login works' },
    ]);
    expect(sel.args).toEqual(['--grep', 'sends a message|login works']);
  });

  it('go: -run ^(A|B)$ with top-level tests (subtests rerun with them), pseudo-tests left out', async () => {
    expect(rerunSelection('go', await failedIn('go-junit-report.xml')).args).toEqual(['-run', '^(TestAgentLifecycle)$']);
  });

  it('maven: -Dtest=Class#m1+m2', async () => {
    expect(rerunSelection('maven', await failedIn('surefire.xml')).args).toEqual(['-Dtest=AgentsIT#startsAgent+cancelsAgent']);
    expect(
      rerunSelection('maven', [
        { classname: 'a.B', name: 'x' },
        { classname: 'c.D', name: 'y[1]' },
      ]).value,
    ).toBe('B#x,D#y');
  });

  it('node --test: --test-name-pattern with the test names', async () => {
    expect(rerunSelection('node-test', await failedIn('node-test.xml')).args).toEqual([
      '--test-name-pattern=starts an agent|stops an agent|top level connection refused',
    ]);
  });
});

describe('rerunArgv', () => {
  const pytest = { args: ['a.py::t1', 'b.py::t2'], value: 'a.py::t1 b.py::t2' };
  it('appends the selection when the command does not place {{failedTests}}', () => {
    expect(rerunArgv(['pytest', '--junitxml={{artifacts}}/j.xml'], pytest)).toEqual(['pytest', '--junitxml={{artifacts}}/j.xml', 'a.py::t1', 'b.py::t2']);
  });
  it('spreads it where an element is exactly {{failedTests}}, and substitutes the one-string form inside an element', () => {
    expect(rerunArgv(['pytest', '{{failedTests}}', '-q'], pytest)).toEqual(['pytest', 'a.py::t1', 'b.py::t2', '-q']);
    expect(rerunArgv(['mvn', 'test', '-Dtest={{ failedTests }}'], { args: ['-Dtest=A#b'], value: 'A#b' })).toEqual(['mvn', 'test', '-Dtest=A#b']);
  });
});

describe('node --test option placement', () => {
  it('puts --test-name-pattern right after --test, before the file arguments', () => {
    const sel = rerunSelection('node-test', [{ classname: 'x', name: 'a' }]);
    expect(rerunArgv(['node', '--test', '--test-reporter=junit', 'api.test.mjs'], sel)).toEqual([
      'node',
      '--test',
      '--test-name-pattern=a',
      '--test-reporter=junit',
      'api.test.mjs',
    ]);
  });
});
