import { describe, expect, it } from 'vitest';
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
