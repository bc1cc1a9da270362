import { describe, expect, it } from 'vitest';
import { buildRerunArgv } from './rerun.ts';
import { renderSuiteArgv } from './shard-argv.ts';

describe('renderSuiteArgv', () => {
  const values = { artifacts: '/a', shard: '2', shardCount: '4' };
  it('spreads {{shardFiles}} into one argument per file, a file name with spaces staying one', () => {
    expect(renderSuiteArgv(['pytest', '--junitxml={{artifacts}}/j.xml', '{{shardFiles}}'], values, ['t/a.py', 't/b c.py'])).toEqual([
      'pytest',
      '--junitxml=/a/j.xml',
      't/a.py',
      't/b c.py',
    ]);
  });
  it('joins the files with commas inside a longer argument', () => {
    expect(renderSuiteArgv(['run', '--files={{shardFiles}}'], values, ['a', 'b'])).toEqual(['run', '--files=a,b']);
  });
  it('fills the native shard placeholders', () => {
    expect(renderSuiteArgv(['npx', 'playwright', 'test', '--shard={{shard}}/{{shardCount}}'], values)).toEqual(['npx', 'playwright', 'test', '--shard=2/4']);
  });
  it('refuses {{shardFiles}} without a file list, naming the placeholder', () => {
    expect(() => renderSuiteArgv(['x', '{{shardFiles}}'], values)).toThrow(/unknown placeholder \{\{shardFiles\}\}/);
  });
});

describe('buildRerunArgv of a sharded suite', () => {
  const failed = [{ classname: 'test', name: 'adds', file: '/w/test/math.test.js' }];
  it('reruns a natively sharded command as shard 1 of 1', () => {
    const plan = { command: ['npx', 'vitest', 'run', '--shard={{shard}}/{{shardCount}}'], preset: 'vitest' as const, times: 1 };
    expect(buildRerunArgv(plan, failed, {}, '/w')).toContain('--shard=1/1');
  });
  it("gives {{shardFiles}} the failed tests' files, from the runner's file attribute when the suite's list is unknown", () => {
    const plan = { command: ['node', '--test', '{{shardFiles}}'], preset: 'node-test' as const, times: 1 };
    expect(buildRerunArgv(plan, failed, {}, '/w')).toEqual(['node', '--test', '--test-name-pattern=adds', 'test/math.test.js']);
    expect(buildRerunArgv({ ...plan, suiteFiles: ['test/a.test.js', 'test/math.test.js'] }, failed, {}, '/w')).toEqual([
      'node',
      '--test',
      '--test-name-pattern=adds',
      'test/math.test.js',
    ]);
  });
  it('gives pytest no files: its node ids name them', () => {
    const plan = { command: ['pytest', '{{shardFiles}}'], preset: 'pytest' as const, times: 1, suiteFiles: ['tests/test_a.py'] };
    expect(buildRerunArgv(plan, [{ classname: 'tests.test_a', name: 'test_x', file: 'tests/test_a.py' }], {}, '/w')).toEqual([
      'pytest',
      'tests/test_a.py::test_x',
    ]);
  });
});
